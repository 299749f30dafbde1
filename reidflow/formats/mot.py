"""``tracks.txt`` (stage ``track``) and ground truth: MOTChallenge text, ``frame,id,x,y,w,h,conf,-1,-1,-1``.

Frames are 1-based in the file and 0-based in the TrackRows these functions take and return.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from reidflow.files import atomic_output
from reidflow.formats.base import FormatError
from reidflow.formats.tracks import TrackRows


def write_mot(path: str | os.PathLike, rows: TrackRows) -> None:
    """MOTChallenge text: 1-based frames, boxes as left, top, width, height."""
    rows = rows.sorted()
    xywh = rows.boxes.astype(np.float64).copy()
    xywh[:, 2:] -= xywh[:, :2]
    with atomic_output(path) as tmp, open(tmp, "w") as fh:
        for f, i, (x, y, w, h), s in zip(rows.frames, rows.track_ids, xywh, rows.scores):
            fh.write(f"{f + 1},{i},{x:.2f},{y:.2f},{w:.2f},{h:.2f},{s:.4f},-1,-1,-1\n")


MOT_HINT = "a MOTChallenge text file has one row per box: frame,id,x,y,w,h,conf[,...] with 1-based frames"


def read_mot(path: str | os.PathLike) -> TrackRows:
    """Read a MOTChallenge file (results or ground truth); frames come back 0-based.

    Every row is checked: a frame below 1, a value that is not a finite number or a negative width or
    height would silently skew the scores (and count frames the video never had), so it is an error
    naming the line.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FormatError(f"{path}: file not found") from None
    except OSError as err:
        raise FormatError(f"{path}: cannot be read ({err.strerror}); give a MOTChallenge text file") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise FormatError(f"{path}: line {line}: not text (a binary file?); {MOT_HINT}") from None
    numbered = [
        (no, line)
        for no, line in enumerate(text.split("\n"), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not numbered:
        return TrackRows.empty()
    try:
        table = np.loadtxt([line for _, line in numbered], delimiter=",", ndmin=2, dtype=np.float64)
    except ValueError:
        no, text_line, problem = _first_unparsable(numbered)
        raise FormatError(f"{path}: line {no}: {problem} ({text_line.strip()[:80]!r}); {MOT_HINT}") from None
    if table.shape[1] < 7:
        raise FormatError(
            f"{path}: MOTChallenge rows need at least 7 columns (frame,id,x,y,w,h,conf), got {table.shape[1]}"
        )
    first_bad = _first_bad_row(table)
    if first_bad is not None:
        row, problem, count = first_bad
        no, text_line = numbered[row]
        more = f" ({count - 1} more bad lines)" if count > 1 else ""
        raise FormatError(f"{path}: line {no}: {problem} ({text_line.strip()[:80]!r}){more}; fix or remove the line")
    boxes = table[:, 2:6].copy()
    boxes[:, 2:] += boxes[:, :2]
    return TrackRows(table[:, 0].astype(np.int64) - 1, table[:, 1], boxes, table[:, 6])


def _first_unparsable(numbered: list[tuple[int, str]]) -> tuple[int, str, str]:
    """The first line np.loadtxt choked on, and why: NumPy's own message counts data rows, not file lines."""
    width = None
    for no, line in numbered:
        fields = line.split("#", 1)[0].split(",")
        try:
            for value in fields:
                float(value)
        except ValueError:
            return no, line, "a field is not a number"
        if width is not None and len(fields) != width:
            return no, line, f"{len(fields)} fields, the lines before have {width}"
        width = len(fields)
    return numbered[0][0], numbered[0][1], "not comma-separated numbers"


def _first_bad_row(table: np.ndarray) -> tuple[int, str, int] | None:
    """(row index, what is wrong, number of bad rows) for the first invalid row of a MOTChallenge table."""
    checks = [
        (~np.isfinite(table[:, :7]).all(axis=1), "frame, id, x, y, w, h and conf must be finite numbers"),
        (table[:, 0] < 1, "frame below 1 (MOTChallenge frames start at 1)"),
        (table[:, 0] != np.round(table[:, 0]), "frame is not a whole number"),
        (table[:, 1] != np.round(table[:, 1]), "id is not a whole number"),
        ((table[:, 4] < 0) | (table[:, 5] < 0), "negative width or height"),
    ]
    bad = np.logical_or.reduce([mask for mask, _ in checks])
    if not bad.any():
        return None
    row = int(np.argmax(bad))
    return row, next(problem for mask, problem in checks if mask[row]), int(bad.sum())
