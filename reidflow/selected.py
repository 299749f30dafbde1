"""The people of interest (overrides ``people.select``), exported from the catalogue: rule ``select_people``.

Per selected person of ``results/people/people.json``, a folder ``results/people/selected/<person id>/``:

    boxes.csv     every detection of that person in every video: the rows of each video's identities.npz
                  whose identity is one of the person's appearances (not the boxes that fill gaps),
                  videos in sheet order, then by frame and track. Columns: video, frame (0-based, the
                  video's own numbering), mot_frame (1-based, as in identities.txt), identity (of that
                  video's clusters.json), track, x, y, w, h (left, top, width, height in pixels, 2 decimals
                  as identities.txt), score (4 decimals)
    crops/        per appearance, its best ``max_crops`` crops by quality over all its tracks (config
                  ``people.max_crops``), as PNG: ``<video>_<frame>_<track>.png``, frame 0-based
    summary.json  person (id), name (null: none), selected_by (the select keys that name this person),
                  videos, boxes (count), per_video ({video: boxes, first/last frame, first/last time in
                  seconds}), appearances (as in people.json), crops (the file names, in video then frame
                  order), format_version

Person ids are those of people.json: a new run of ``people`` (another video, another decision) may number
a person differently; the keys of ``select`` and ``selected_by`` are what stay (track keys: identity ids
too are renumbered when a video's clustering changes). The files are data: names
and keys are written as given (CSV and JSON quoting only), never HTML-escaped.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reidflow import ReidflowError
from reidflow.files import atomic_output
from reidflow.formats.base import REBUILD
from reidflow.formats.identities import IdentityRows
from reidflow.formats.people import People, Person
from reidflow.piece_crops import PieceCrops

SELECTED_FORMAT_VERSION = 1
BOXES_COLUMNS = ("video", "frame", "mot_frame", "identity", "track", "x", "y", "w", "h", "score")


class SelectedError(ReidflowError):
    pass


@dataclass(frozen=True)
class Crop:
    """One exported crop: where it comes from and its RGB pixels."""

    video: str
    frame: int
    track: int
    quality: float
    image: np.ndarray

    @property
    def file_name(self) -> str:
        return f"{self.video}_{self.frame}_{self.track}.png"


def person_boxes(person: Person, videos: Sequence[str], identities: Mapping[str, IdentityRows]) -> list[list[Any]]:
    """The rows of ``boxes.csv`` for one person: exactly the detections of its appearances' identities.

    ``identities`` holds (at least) each video the person appears in, read from its identities.npz.

    Examples:
        >>> from reidflow.formats.clusters import read_clusters
        >>> from reidflow.formats.identities import read_identities
        >>> from reidflow.formats.people import read_people
        >>> from reidflow.piece_crops import PieceCrops
        >>> catalogue = read_people("results/people/people.json")  # doctest: +SKIP
        >>> person = next(p for p in catalogue.people if p.selected)  # doctest: +SKIP
        >>> rows = person_boxes(person, catalogue.videos,
        ...                     {v: read_identities(f"results/{v}/identities.npz") for v in person.videos})  # doctest: +SKIP
    """
    out: list[list[Any]] = []
    for video in videos:
        ids = [a.identity for a in person.appearances if a.video == video]
        if not ids:
            continue
        record = identities[video]
        if record.video != video:
            raise SelectedError(f"identities of video {record.video!r} given for video {video!r}; {REBUILD}")
        r = record.rows
        keep = np.flatnonzero(np.isin(record.identity_ids, ids))
        keep = keep[np.lexsort((r.track_ids[keep], r.frames[keep]))]
        xywh = r.boxes[keep].astype(np.float64)
        xywh[:, 2:] -= xywh[:, :2]
        for i, (x, y, w, h) in zip(keep.tolist(), xywh):
            frame = int(r.frames[i])
            out.append(
                [
                    video,
                    frame,
                    frame + 1,
                    int(record.identity_ids[i]),
                    int(r.track_ids[i]),
                    f"{x:.2f}",
                    f"{y:.2f}",
                    f"{w:.2f}",
                    f"{h:.2f}",
                    f"{float(r.scores[i]):.4f}",
                ]
            )
    return out


def best_crops(person: Person, videos: Sequence[str], crops: Mapping[str, PieceCrops], max_crops: int) -> list[Crop]:
    """Per appearance, its ``max_crops`` crops of highest quality over all its tracks (ties: earlier frame,
    then lower track id); all in sheet order, then frame and track."""
    if max_crops < 1:
        raise SelectedError(f"people.max_crops must be at least 1, got {max_crops}")
    out: list[Crop] = []
    for appearance in sorted(person.appearances, key=lambda a: (videos.index(a.video), a.identity)):
        reader = crops[appearance.video]
        missing = sorted(set(appearance.tracks) - set(reader.track_ids))
        if missing:
            raise SelectedError(
                f"{reader.path}: track(s) {missing[:5]} of person {person.id} ({appearance.key}) have no crops; "
                f"the file is older or newer than people.json: {REBUILD}"
            )
        candidates = []
        for track in appearance.tracks:
            c = reader.read(track)
            assert c.crops is not None  # read with images
            candidates += [
                Crop(appearance.video, int(f), track, float(q), c.crops[i])
                for i, (f, q) in enumerate(zip(c.frames, c.metrics["quality"]))
            ]
        candidates.sort(key=lambda c: (-c.quality, c.frame, c.track))
        out += sorted(candidates[:max_crops], key=lambda c: (c.frame, c.track))
    return out


def summary(
    person: Person, videos: Sequence[str], boxes: Sequence[Sequence[Any]], crops: Sequence[Crop], select: Sequence[str]
) -> dict[str, Any]:
    """The record of ``summary.json``."""
    per_video: dict[str, dict[str, Any]] = {}
    for video in [v for v in videos if v in person.videos]:
        mine = [a for a in person.appearances if a.video == video]
        per_video[video] = {
            "boxes": sum(row[0] == video for row in boxes),
            "first_frame": min(a.first_frame for a in mine),
            "last_frame": max(a.last_frame for a in mine),
            "first_time": min(a.first_time for a in mine),
            "last_time": max(a.last_time for a in mine),
        }
    return {
        "format_version": SELECTED_FORMAT_VERSION,
        "person": person.id,
        "name": person.name,
        "selected_by": [key for key in select if _names_person(key, person)],
        "videos": list(per_video),
        "boxes": len(boxes),
        "per_video": per_video,
        "appearances": [asdict(a) for a in person.appearances],
        "crops": [c.file_name for c in crops],
    }


def _names_person(key: str, person: Person) -> bool:
    """Whether an overrides key (``<video>:track:<id>`` or ``<video>:identity:<id>``) names this person."""
    video, kind, number = key.rsplit(":", 2)
    return any(
        a.video == video and (int(number) in a.tracks if kind == "track" else a.identity == int(number))
        for a in person.appearances
    )


def write_person(
    folder: str | os.PathLike, boxes: Sequence[Sequence[Any]], crops: Sequence[Crop], record: dict[str, Any]
) -> None:
    """One person's folder: boxes.csv, crops/*.png and summary.json, each written whole or not at all."""
    import imageio.v3 as iio

    folder = Path(folder)
    with atomic_output(folder / "boxes.csv") as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(BOXES_COLUMNS)
        writer.writerows(boxes)
    for crop in crops:
        with atomic_output(folder / "crops" / crop.file_name) as tmp:
            tmp.write_bytes(iio.imwrite("<bytes>", crop.image, extension=".png"))
    with atomic_output(folder / "summary.json") as tmp:
        tmp.write_text(json.dumps(record, indent=1, ensure_ascii=False, allow_nan=False) + "\n")


def export_selected(
    out: str | os.PathLike,
    catalogue: People,
    identities: Mapping[str, IdentityRows],
    crops: Mapping[str, PieceCrops],
    max_crops: int,
) -> list[int]:
    """Write ``out/<person id>/`` for every selected person of the catalogue; returns their ids.

    ``identities`` and ``crops`` hold (at least) every video a selected person appears in; ``crops`` serves
    the pieces of clusters.json (tracks cut at identity switches), opened. ``out`` is
    created even when nobody is selected.

    Examples:
        >>> from reidflow.formats.clusters import read_clusters
        >>> from reidflow.formats.identities import read_identities
        >>> from reidflow.formats.people import read_people
        >>> from reidflow.piece_crops import PieceCrops
        >>> catalogue = read_people("results/people/people.json")  # doctest: +SKIP
        >>> export_selected("results/people/selected", catalogue,
        ...                 {v: read_identities(f"results/{v}/identities.npz") for v in catalogue.videos},
        ...                 {v: PieceCrops(f"results/{v}/final_crops.h5", read_clusters(f"results/{v}/clusters.json").cuts)
        ...                  for v in catalogue.videos},
        ...                 max_crops=16)  # doctest: +SKIP
        [3]
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    select = list(catalogue.overrides.get("select") or [])
    exported = []
    for person in catalogue.people:
        if not person.selected:
            continue
        boxes = person_boxes(person, catalogue.videos, identities)
        images = best_crops(person, catalogue.videos, crops, max_crops)
        write_person(out / str(person.id), boxes, images, summary(person, catalogue.videos, boxes, images, select))
        exported.append(person.id)
    return exported
