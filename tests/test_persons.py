"""The persons file (the sheet's ``persons`` column): gt_id,person rows, and every way it can be wrong."""

import pytest
from conftest import SHARED, missing

from reidflow.formats.base import FormatError
from reidflow.formats.persons import read_persons


def write(tmp_path, text: str | bytes):
    path = tmp_path / "persons.csv"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_the_shared_persons_file():
    path = SHARED / "data" / "pets09-s2l1" / "persons_frames1-400.csv"
    if not path.is_file():
        missing(f"{path} is only in ../shared")
    persons = read_persons(path)
    assert len(persons) == 10 and len(set(persons.values())) == 8
    assert persons[19] == persons[1] == "B" and persons[15] == persons[14] == "G"


def test_comments_blank_lines_extra_columns_and_a_byte_order_mark(tmp_path):
    text = "\ufeffnote,gt_id,person\n# who is who\n\nx, 1 ,B\ny,19,B\nz,9,Anna Smith\n"
    assert read_persons(write(tmp_path, text)) == {1: "B", 19: "B", 9: "Anna Smith"}


@pytest.mark.parametrize(
    "text, message",
    [
        ("gt_id,person\n1,B\n2,C\n1,D\n", r"line 4: gt_id 1 appears again \(first on line 2\)"),
        ("gt_id,person\n1,B\nx,C\n", r"line 3: gt_id 'x' is not a whole number"),
        ("gt_id,person\n1.5,B\n", r"line 2: gt_id '1.5' is not a whole number"),
        ("gt_id,person\n1,B\n2, \n", r"line 3: empty person for gt_id 2"),
        ("gt_id,person\n1,B,extra\n", r"line 2: 3 fields, the header has 2"),
        ("id,name\n1,B\n", r"line 1: header 'id,name' lacks column\(s\) gt_id, person"),
        ("gt_id;person\n1;B\n", r"lacks column\(s\) gt_id, person"),
        ("# nothing\n\n", r"empty persons file"),
        ("gt_id,person\n", r"no rows after the header"),
        (b"gt_id,person\n1,\xff\xfe\n", r"not UTF-8 text"),
    ],
)
def test_bad_files_name_the_file_and_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(FormatError, match=message) as err:
        read_persons(path)
    assert str(err.value).startswith(str(path))


def test_missing_file(tmp_path):
    with pytest.raises(FormatError, match="nope.csv: persons file not found; fix the sheet's 'persons' path"):
        read_persons(tmp_path / "nope.csv")
    with pytest.raises(FormatError, match="cannot be read"):
        read_persons(tmp_path)  # a folder
