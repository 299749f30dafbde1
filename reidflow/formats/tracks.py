"""``tracks.npz`` (stage ``track``), one row per tracked detection, and the row records shared with MOT files.

frames       int64  (N,)   0-based frame index in the video's own numbering (also with a stride)
track_ids    int64  (N,)   tracker id, unique within the video
boxes        float32 (N,4) x1, y1, x2, y2 in original-frame pixels
scores       float32 (N,)  detection confidence
meta         0-d str       JSON object: format_version, video id, source path, fps, width, height,
                           frame_count (frames actually decoded), frames_missing (declared by the
                           container but not decodable: a truncated file), vid_stride, detector, detector_sha256,
                           tracker, tracker_params
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reidflow.files import atomic_output
from reidflow.formats.base import REBUILD, FormatError

TRACKS_FORMAT_VERSION = 1


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
    # Frames the container declares beyond the last one that decoded: a truncated or damaged file.
    # 0 when every declared frame decoded (and in tracks.npz files written before this field existed).
    frames_missing: int = 0

    @property
    def declared_frame_count(self) -> int:
        return self.frame_count + self.frames_missing

    @property
    def shortfall(self) -> str | None:
        """What a truncated video lacks, in words for the track log and the report; None when nothing."""
        if self.frames_missing <= 0:
            return None
        return (
            f"its container declares {self.declared_frame_count} frames but decoding stopped after {self.frame_count}; "
            f"the last {self.frames_missing} were not processed"
        )


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


def save_rows(path: str | os.PathLike, rows: TrackRows, meta: dict[str, Any], **columns: np.ndarray) -> None:
    """An .npz of detection rows (plus ``columns`` of the same length) and a JSON ``meta``, atomically."""
    with atomic_output(path) as tmp, open(tmp, "wb") as fh:
        arrays: dict[str, Any] = dict(
            frames=rows.frames, track_ids=rows.track_ids, boxes=rows.boxes, scores=rows.scores, **columns
        )
        np.savez_compressed(fh, meta=np.array(json.dumps(meta, sort_keys=True)), **arrays)


def write_tracks(path: str | os.PathLike, tracks: Tracks) -> None:
    save_rows(path, tracks.rows.sorted(), asdict(tracks.meta))


def read_tracks(path: str | os.PathLike) -> Tracks:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in ("frames", "track_ids", "boxes", "scores", "meta")}
        raw = json.loads(str(arrays["meta"]))
    except FileNotFoundError:
        raise FormatError(f"{path}: file not found; run the workflow's 'track' rule to create it") from None
    except (KeyError, ValueError, OSError, zipfile.BadZipFile) as err:  # JSONDecodeError is a ValueError
        raise FormatError(f"{path}: not a reidflow tracks.npz file ({err}); {REBUILD}") from None
    version = raw.get("format_version")
    if version != TRACKS_FORMAT_VERSION:
        raise FormatError(
            f"{path}: tracks format version {version}, this reidflow reads version {TRACKS_FORMAT_VERSION}; " + REBUILD
        )
    try:
        raw["info"] = VideoInfo(**raw["info"])
        meta = TracksMeta(**raw)
    except (KeyError, TypeError) as err:
        raise FormatError(f"{path}: damaged tracks.npz metadata ({err}); {REBUILD}") from None
    rows = TrackRows(arrays["frames"], arrays["track_ids"], arrays["boxes"], arrays["scores"])
    return Tracks(rows=rows, meta=meta)
