"""The video sheet (``config/videos.tsv``): which videos to process, validated before any job runs."""

from __future__ import annotations

import csv
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from reidflow import ReidflowError

REQUIRED_COLUMNS = ("video", "path")
OPTIONAL_COLUMNS = ("gt", "persons")  # persons: which gt ids are one person (formats.persons)
# Ids become directory names and Snakemake wildcard values (VIDEO_ID_PATTERN: the workflow's constraint).
VIDEO_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]*"
VIDEO_ID = re.compile(rf"^{VIDEO_ID_PATTERN}$")
# results/report/ holds the index across videos, so no video may be called "report".
RESERVED_IDS = ("report", "people")
# Snakemake 9 reads "<name>" inside any input path as a path variable and rewrites or rejects it.
PATH_VARIABLE = re.compile(r"<[A-Za-z_]\w*>")
# Snakemake fills "{name}" in any input path with that wildcard's value (/data/{video}.avi becomes another
# video's file) and has no escape for it: doubled braces are filled the same way. Braces are refused.
BRACES = re.compile(r"[{}]")


class SheetError(ReidflowError):
    pass


@dataclass(frozen=True)
class VideoEntry:
    video: str
    path: str
    gt: str | None = None
    persons: str | None = None  # gt_id,person csv: MOTChallenge ids of one person's re-entries


def load_videos(sheet: str | Path, producible: Collection[str] = ()) -> dict[str, VideoEntry]:
    """Read and validate the sheet; every problem found is reported at once.

    ``producible`` lists paths that a rule of the workflow creates (the demo video), so they may be missing.
    """
    sheet = Path(sheet)
    if not sheet.is_file():
        raise SheetError(
            f"{sheet}: video sheet not found; create it (columns: video, path[, gt[, persons]]) or set 'videos' in the config"
        )
    try:
        # utf-8-sig: spreadsheet programs often save a byte-order mark, which would stick to the first column name
        with open(sheet, newline="", encoding="utf-8-sig") as fh:
            numbered = [
                (no, line) for no, line in enumerate(fh, start=1) if line.strip() and not line.lstrip().startswith("#")
            ]
    except UnicodeDecodeError:
        raise SheetError(f"{sheet}: not UTF-8 text; save the sheet as UTF-8 (tab-separated text)") from None
    line_numbers = [no for no, _ in numbered]
    reader = csv.reader((line for _, line in numbered), delimiter="\t")
    header = next(reader, None)
    if header is None:
        raise SheetError(f"{sheet}: empty video sheet; add a header 'video<TAB>path' and one row per video")
    header = [h.strip() for h in header]
    problems = []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [c for c in header if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if missing:
        problems.append(
            f"missing column(s) {', '.join(missing)} (header must be tab-separated: video, path[, gt[, persons]])"
        )
    if unknown:
        problems.append(
            f"unknown column(s) {', '.join(unknown)}; allowed: {', '.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)}"
        )
    if len(set(header)) != len(header):
        problems.append("a column name appears twice in the header")
    if problems:
        raise SheetError(f"{sheet}: " + "; ".join(problems))

    videos: dict[str, VideoEntry] = {}
    for rowno, row in zip(line_numbers[1:], reader):
        where = f"{sheet}: line {rowno}"
        if len(row) != len(header):
            problems.append(f"{where}: {len(row)} fields, the header has {len(header)} (separate fields with tabs)")
            continue
        values = dict(zip(header, (v.strip() for v in row)))
        vid, path, gt = values["video"], values["path"], values.get("gt") or None
        persons = values.get("persons") or None
        if not VIDEO_ID.match(vid):
            problems.append(
                f"{where}: video id {vid!r} must start with a letter or digit and use only letters, digits, '.', '_', '-'"
            )
            continue
        if vid in RESERVED_IDS:
            problems.append(
                f"{where}: video id {vid!r} is reserved (results/{vid}/ holds the catalogue across videos); rename the video"
            )
            continue
        if vid in videos:
            problems.append(f"{where}: duplicate video id {vid!r}; ids must be unique")
            continue
        if not path:
            problems.append(f"{where}: empty path for video {vid!r}")
            continue
        bad = [p for p in (path, gt, persons) if p and PATH_VARIABLE.search(p)]
        if bad:
            problems.append(
                f"{where}: {bad[0]!r} contains '<name>', which Snakemake reads as a path variable; rename the file"
            )
            continue
        bad = [p for p in (path, gt, persons) if p and BRACES.search(p)]
        if bad:
            problems.append(
                f"{where}: {bad[0]!r} contains '{{' or '}}', which Snakemake reads as a wildcard; rename the file (or link it under a name without braces)"
            )
            continue
        if path not in producible and not Path(path).is_file():
            problems.append(f"{where}: video file {path!r} of {vid!r} does not exist; fix the path or remove the row")
        if gt is not None and not Path(gt).is_file():
            problems.append(
                f"{where}: ground-truth file {gt!r} of {vid!r} does not exist; fix the path or leave 'gt' empty"
            )
        if persons is not None and gt is None:
            problems.append(
                f"{where}: 'persons' {persons!r} of {vid!r} without 'gt': a persons file names ground-truth ids; "
                "add the video's ground truth or leave 'persons' empty"
            )
        elif persons is not None and not Path(persons).is_file():
            problems.append(
                f"{where}: persons file {persons!r} of {vid!r} does not exist; fix the path or leave 'persons' empty"
            )
        videos[vid] = VideoEntry(vid, path, gt, persons)
    if problems:
        raise SheetError("invalid video sheet:\n  " + "\n  ".join(problems))
    if not videos:
        raise SheetError(f"{sheet}: no videos listed; add one row per video (video<TAB>path)")
    return videos
