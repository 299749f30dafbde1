"""``identities.npz`` and ``identities.txt`` (stage ``identities``): every detection with its identity.

``identities.npz``, one row per tracked detection of the video (as tracks.npz, sorted by frame):
    frames        int64  (N,)   0-based frame index
    track_ids     int64  (N,)   the tracker's id, or where a track was cut at an identity switch its piece's (clusters.json cuts)
    identity_ids  int64  (N,)   the identity of clusters.json holding the track; -1 for a track in none,
                                and for the lower-scoring of two boxes of one identity in one frame
    boxes         float32 (N,4) x1, y1, x2, y2
    scores        float32 (N,)
    meta          0-d str       JSON: format_version, video, unassigned (one entry per track in no identity:
                                track, detections, reason)
    filled_frames, filled_identity_ids, filled_boxes   (M,), (M,), (M,4)
                                boxes of no detection: an identity's gaps filled in (identities.fill_gaps, fill_hidden)
``identities.txt``: the rows with an identity and the filled boxes in MOTChallenge format, the identity as the
id (1-based frames; a filled box has confidence 0).

Only this video's files are read: a person id across videos is in results/people/people.json (key
``<video>:<identity>``), so adding a video rewrites no video's identities.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from reidflow.formats.base import REBUILD, FormatError
from reidflow.formats.mot import write_mot
from reidflow.formats.tracks import TrackRows, save_rows

IDENTITIES_FORMAT_VERSION = 2


@dataclass(frozen=True)
class Unassigned:
    """A track in no identity: ``reason`` "too_short" (fewer detections than crops.min_track_frames) or
    "not_a_person" (flagged by cluster as a likely false detection: clusters.json ``flagged``)."""

    track: int
    detections: int
    reason: str


@dataclass(frozen=True)
class IdentityRows:
    video: str
    rows: TrackRows
    identity_ids: np.ndarray
    unassigned: list[Unassigned]
    filled: TrackRows = field(default_factory=TrackRows.empty)  # gap boxes, identity ids as track ids, score 0

    def assigned(self) -> TrackRows:
        """The rows with an identity, the identity id in place of the track id."""
        keep = self.identity_ids >= 0
        r = self.rows
        return TrackRows(r.frames[keep], self.identity_ids[keep], r.boxes[keep], r.scores[keep])

    def delivered(self) -> TrackRows:
        """What identities.txt holds: the assigned rows and the filled boxes, by frame."""
        return TrackRows.concatenate([self.assigned(), self.filled]).sorted()


def write_identities(npz: str | os.PathLike, txt: str | os.PathLike, record: IdentityRows) -> None:
    meta = {
        "format_version": IDENTITIES_FORMAT_VERSION,
        "video": record.video,
        "unassigned": [asdict(u) for u in record.unassigned],
    }
    filled = record.filled
    save_rows(
        npz,
        record.rows,
        meta,
        identity_ids=record.identity_ids,
        filled_frames=filled.frames,
        filled_identity_ids=filled.track_ids,
        filled_boxes=filled.boxes,
    )
    write_mot(txt, record.delivered())


def read_identities(path: str | os.PathLike) -> IdentityRows:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format_version") != IDENTITIES_FORMAT_VERSION:  # before the arrays an old file lacks
                raise ValueError(
                    f"format version {meta.get('format_version')}, this reidflow reads {IDENTITIES_FORMAT_VERSION}"
                )
            names = ("frames", "track_ids", "identity_ids", "boxes", "scores")
            arrays = {k: data[k] for k in (*names, "filled_frames", "filled_identity_ids", "filled_boxes")}
        unassigned = [Unassigned(**u) for u in meta["unassigned"]]
        rows = TrackRows(arrays["frames"], arrays["track_ids"], arrays["boxes"], arrays["scores"])
        n_filled = len(arrays["filled_frames"])
        filled = TrackRows(
            arrays["filled_frames"], arrays["filled_identity_ids"], arrays["filled_boxes"], np.zeros(n_filled)
        )
    except FileNotFoundError:
        raise FormatError(f"{path}: file not found; run the workflow's 'identities' rule to create it") from None
    except (KeyError, TypeError, ValueError, OSError, zipfile.BadZipFile) as err:
        raise FormatError(f"{path}: not a reidflow identities.npz file ({err}); {REBUILD}") from None
    return IdentityRows(meta["video"], rows, arrays["identity_ids"].astype(np.int64), unassigned, filled)
