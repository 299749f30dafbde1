"""Every file format reidflow writes or reads, defined in one place.

Stages never open these files by hand: they call the readers and writers here.

``tracks.npz`` (stage ``track``), one row per tracked detection:
    frames       int64  (N,)   0-based frame index in the video's own numbering (also with a stride)
    track_ids    int64  (N,)   tracker id, unique within the video
    boxes        float32 (N,4) x1, y1, x2, y2 in original-frame pixels
    scores       float32 (N,)  detection confidence
    meta         0-d str       JSON object: format_version, video id, source path, fps, width, height,
                               frame_count (frames actually decoded), vid_stride, detector, detector_sha256,
                               tracker, tracker_params
``tracks.txt``: the same rows in MOTChallenge format, ``frame,id,x,y,w,h,conf,-1,-1,-1`` with 1-based frames.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reidflow import ReidflowError

TRACKS_FORMAT_VERSION = 1


class FormatError(ReidflowError):
    """A file is not of the expected reidflow format or version."""


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds.

    A killed or failed job therefore never leaves a file that looks complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


@dataclass(frozen=True)
class TrackRows:
    """Per-detection rows shared by tracker output and MOTChallenge files (ground truth included)."""

    frames: np.ndarray
    track_ids: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "frames", np.asarray(self.frames, dtype=np.int64).reshape(-1))
        object.__setattr__(self, "track_ids", np.asarray(self.track_ids, dtype=np.int64).reshape(-1))
        object.__setattr__(self, "boxes", np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4))
        object.__setattr__(self, "scores", np.asarray(self.scores, dtype=np.float32).reshape(-1))
        n = len(self.frames)
        if not (len(self.track_ids) == len(self.boxes) == len(self.scores) == n):
            raise ValueError("frames, track_ids, boxes and scores must have the same length")

    def __len__(self) -> int:
        return len(self.frames)

    @classmethod
    def empty(cls) -> TrackRows:
        return cls(np.zeros(0), np.zeros(0), np.zeros((0, 4)), np.zeros(0))

    @classmethod
    def concatenate(cls, parts: list[TrackRows]) -> TrackRows:
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.frames for p in parts]),
            np.concatenate([p.track_ids for p in parts]),
            np.concatenate([p.boxes for p in parts]),
            np.concatenate([p.scores for p in parts]),
        )

    def sorted(self) -> TrackRows:
        order = np.lexsort((self.track_ids, self.frames))
        return TrackRows(self.frames[order], self.track_ids[order], self.boxes[order], self.scores[order])


@dataclass(frozen=True)
class VideoInfo:
    fps: float
    width: int
    height: int
    frame_count: int


@dataclass(frozen=True)
class TracksMeta:
    video: str
    source: str
    info: VideoInfo
    vid_stride: int
    detector: str
    detector_sha256: str
    tracker: str
    tracker_params: dict[str, Any] = field(default_factory=dict)
    format_version: int = TRACKS_FORMAT_VERSION


@dataclass(frozen=True)
class Tracks:
    rows: TrackRows
    meta: TracksMeta

    @property
    def track_ids(self) -> np.ndarray:
        return np.unique(self.rows.track_ids)


def write_tracks(path: str | os.PathLike, tracks: Tracks) -> None:
    rows = tracks.rows.sorted()
    meta = json.dumps(asdict(tracks.meta), sort_keys=True)
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(
                fh,
                frames=rows.frames,
                track_ids=rows.track_ids,
                boxes=rows.boxes,
                scores=rows.scores,
                meta=np.array(meta),
            )


def read_tracks(path: str | os.PathLike) -> Tracks:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in ("frames", "track_ids", "boxes", "scores", "meta")}
    except FileNotFoundError:
        raise FormatError(f"{path}: file not found; run the workflow's 'track' rule to create it") from None
    except (KeyError, ValueError, OSError) as err:
        raise FormatError(f"{path}: not a reidflow tracks.npz file ({err}); delete it and rerun 'track'") from None
    raw = json.loads(str(arrays["meta"]))
    version = raw.get("format_version")
    if version != TRACKS_FORMAT_VERSION:
        raise FormatError(
            f"{path}: tracks format version {version}, this reidflow reads version {TRACKS_FORMAT_VERSION}; "
            "delete the file and rerun 'track'"
        )
    raw["info"] = VideoInfo(**raw["info"])
    rows = TrackRows(arrays["frames"], arrays["track_ids"], arrays["boxes"], arrays["scores"])
    return Tracks(rows=rows, meta=TracksMeta(**raw))


def write_mot(path: str | os.PathLike, rows: TrackRows) -> None:
    """MOTChallenge text: 1-based frames, boxes as left, top, width, height."""
    rows = rows.sorted()
    xywh = rows.boxes.astype(np.float64).copy()
    xywh[:, 2:] -= xywh[:, :2]
    with atomic_output(path) as tmp, open(tmp, "w") as fh:
        for f, i, (x, y, w, h), s in zip(rows.frames, rows.track_ids, xywh, rows.scores):
            fh.write(f"{f + 1},{i},{x:.2f},{y:.2f},{w:.2f},{h:.2f},{s:.4f},-1,-1,-1\n")


def read_mot(path: str | os.PathLike) -> TrackRows:
    """Read a MOTChallenge file (results or ground truth); frames come back 0-based."""
    path = Path(path)
    if path.is_file() and not path.read_text().strip():
        return TrackRows.empty()
    try:
        table = np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64)
    except FileNotFoundError:
        raise FormatError(f"{path}: file not found") from None
    except ValueError as err:
        raise FormatError(f"{path}: not a MOTChallenge text file (frame,id,x,y,w,h,conf,...): {err}") from None
    if table.size == 0:
        return TrackRows.empty()
    if table.shape[1] < 7:
        raise FormatError(f"{path}: MOTChallenge rows need at least 7 columns (frame,id,x,y,w,h,conf), got {table.shape[1]}")
    boxes = table[:, 2:6].copy()
    boxes[:, 2:] += boxes[:, :2]
    return TrackRows(table[:, 0].astype(np.int64) - 1, table[:, 1], boxes, table[:, 6])
