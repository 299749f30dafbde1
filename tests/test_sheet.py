import pytest

from reidflow.sheet import SheetError, load_videos


def write(tmp_path, text):
    path = tmp_path / "videos.tsv"
    path.write_text(text)
    return path


@pytest.fixture
def video(tmp_path):
    path = tmp_path / "a.mp4"
    path.write_bytes(b"x")
    return path


def test_valid_sheet(tmp_path, video):
    gt = tmp_path / "gt.txt"
    gt.write_text("")
    sheet = write(tmp_path, f"video\tpath\tgt\n# a comment\na\t{video}\t{gt}\nb\t{video}\t\n")
    videos = load_videos(sheet)
    assert list(videos) == ["a", "b"]
    assert videos["a"].gt == str(gt) and videos["b"].gt is None


def test_duplicate_ids(tmp_path, video):
    with pytest.raises(SheetError, match="duplicate video id 'a'"):
        load_videos(write(tmp_path, f"video\tpath\na\t{video}\na\t{video}\n"))


def test_missing_video_file_names_it(tmp_path):
    with pytest.raises(SheetError, match="nope.mp4.*does not exist"):
        load_videos(write(tmp_path, "video\tpath\na\tnope.mp4\n"))


def test_producible_file_may_be_missing(tmp_path):
    assert list(load_videos(write(tmp_path, "video\tpath\nd\tdemo.avi\n"), producible={"demo.avi"})) == ["d"]


def test_missing_gt_file(tmp_path, video):
    with pytest.raises(SheetError, match="ground-truth file 'gt.txt'"):
        load_videos(write(tmp_path, f"video\tpath\tgt\na\t{video}\tgt.txt\n"))


@pytest.mark.parametrize(
    "header, message",
    [
        ("video\tfile\n", "missing column.*path"),
        ("video\tpath\tpth\n", "unknown column.*pth"),
        ("video,path\n", "missing column"),
    ],
)
def test_bad_columns(tmp_path, header, message):
    with pytest.raises(SheetError, match=message):
        load_videos(write(tmp_path, header))


def test_bad_id_and_field_count_reported_together(tmp_path, video):
    with pytest.raises(SheetError) as err:
        load_videos(write(tmp_path, f"video\tpath\nbad/id\t{video}\nok\t{video}\textra\n"))
    assert "bad/id" in str(err.value) and "3 fields" in str(err.value)


def test_empty_sheet(tmp_path):
    with pytest.raises(SheetError, match="no videos"):
        load_videos(write(tmp_path, "video\tpath\n"))


def test_errors_name_the_real_line(tmp_path, video):
    with pytest.raises(SheetError, match="line 4: duplicate video id 'a'"):
        load_videos(write(tmp_path, f"video\tpath\n# comment\na\t{video}\na\t{video}\n"))


def test_reserved_id_report(tmp_path, video):
    with pytest.raises(SheetError, match="video id 'report' is reserved"):
        load_videos(write(tmp_path, f"video\tpath\nreport\t{video}\n"))


def test_path_with_a_snakemake_path_variable(tmp_path, video):
    with pytest.raises(SheetError, match="'<script>x.avi' contains '<name>'"):
        load_videos(write(tmp_path, "video\tpath\na\t<script>x.avi\n"))


def test_persons_column(tmp_path, video):
    gt, persons = tmp_path / "gt.txt", tmp_path / "persons.csv"
    gt.write_text("")
    persons.write_text("gt_id,person\n1,A\n")
    sheet = write(tmp_path, f"video\tpath\tgt\tpersons\na\t{video}\t{gt}\t{persons}\nb\t{video}\t{gt}\t\n")
    videos = load_videos(sheet)
    assert videos["a"].persons == str(persons) and videos["b"].persons is None


def test_persons_needs_gt_and_an_existing_file(tmp_path, video):
    persons = tmp_path / "persons.csv"
    persons.write_text("gt_id,person\n1,A\n")
    gt = tmp_path / "gt.txt"
    gt.write_text("")
    text = f"video\tpath\tgt\tpersons\na\t{video}\t\t{persons}\nb\t{video}\t{gt}\tnope.csv\n"
    with pytest.raises(SheetError) as err:
        load_videos(write(tmp_path, text))
    message = str(err.value)
    assert f"line 2: 'persons' '{persons}' of 'a' without 'gt'" in message and "leave 'persons' empty" in message
    assert "line 3: persons file 'nope.csv' of 'b' does not exist; fix the path" in message
    with pytest.raises(SheetError, match="contains '<name>'"):
        load_videos(write(tmp_path, f"video\tpath\tgt\tpersons\na\t{video}\t{gt}\t<x>.csv\n"))
