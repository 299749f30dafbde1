"""A persons file (the sheet's optional ``persons`` column): which ground-truth trajectories are one person.

MOTChallenge ground truth gives a person a new id each time they re-enter the scene; reidflow finds people,
so a re-entry joined to the earlier visit is right. This comma-separated file says who is who::

    gt_id,person
    1,B
    19,B
    9,A

``gt_id``: an id of the video's ground truth (whole number); ``person``: any non-empty name. Every gt id
appears once; ids of one person share the name. Across videos (``results/people/evaluation.json``) the
names are compared as strings: the persons files of different videos must use the same name for the same
person. Blank lines and lines starting with ``#`` are skipped; other columns are allowed and ignored.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from reidflow.formats.base import FormatError

PERSONS_COLUMNS = ("gt_id", "person")
PERSONS_HINT = "a persons file is comma-separated text with a header 'gt_id,person' and one row per ground-truth id"


def read_persons(path: str | os.PathLike) -> dict[int, str]:
    """Ground-truth id -> person name, checked row by row (errors name the file and line).

    Examples:
        >>> from reidflow.formats.persons import read_persons
        >>> read_persons("persons_frames1-400.csv")[19]
        'B'
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")  # a spreadsheet's byte-order mark would stick to 'gt_id'
    except FileNotFoundError:
        raise FormatError(f"{path}: persons file not found; fix the sheet's 'persons' path") from None
    except OSError as err:
        raise FormatError(f"{path}: cannot be read ({err.strerror}); {PERSONS_HINT}") from None
    except UnicodeDecodeError:
        raise FormatError(f"{path}: not UTF-8 text; {PERSONS_HINT}") from None
    numbered = [
        (no, line)
        for no, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not numbered:
        raise FormatError(f"{path}: empty persons file; {PERSONS_HINT}")
    rows = csv.reader(line for _, line in numbered)
    header = [h.strip() for h in next(rows)]
    missing = [c for c in PERSONS_COLUMNS if c not in header]
    if missing:
        raise FormatError(
            f"{path}: line {numbered[0][0]}: header {','.join(header)!r} lacks column(s) {', '.join(missing)}; "
            f"{PERSONS_HINT}"
        )
    id_col, person_col = header.index("gt_id"), header.index("person")
    persons: dict[int, str] = {}
    first_line: dict[int, int] = {}
    for (no, line), row in zip(numbered[1:], rows):
        where = f"{path}: line {no}"
        if len(row) != len(header):
            raise FormatError(f"{where}: {len(row)} fields, the header has {len(header)} ({line.strip()[:80]!r})")
        raw_id, person = row[id_col].strip(), row[person_col].strip()
        try:
            gt_id = int(raw_id)
        except ValueError:
            raise FormatError(f"{where}: gt_id {raw_id!r} is not a whole number; fix or remove the line") from None
        if not person:
            raise FormatError(f"{where}: empty person for gt_id {gt_id}; name the person or remove the line")
        if gt_id in persons:
            raise FormatError(
                f"{where}: gt_id {gt_id} appears again (first on line {first_line[gt_id]}); "
                "give each ground-truth id one row"
            )
        persons[gt_id] = person
        first_line[gt_id] = no
    if not persons:
        raise FormatError(f"{path}: no rows after the header; {PERSONS_HINT}")
    return persons
