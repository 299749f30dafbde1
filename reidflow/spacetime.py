"""Where and when tracks are: the evidence besides appearance that stage ``cluster`` uses.

- ``summarise``: per track, when and where it enters and leaves, how it moves, its size and confidence.
- ``apart_cooccurrence``: frames in which two tracks are present *at different places*. Two boxes that
  overlap strongly (a partial box beside a full one, one person detected twice) are one person seen twice,
  so only spatially separate co-occurrence forbids a merge.
- ``spacetime_evidence``: for two tracks one after the other, a shift of their same-person score in
  similarity units: positive for a continuation (a short gap and an entry where the first track was
  heading), negative when nobody could walk from one exit to the other entry in the time between (unless
  both happen at the frame border: the person may have walked around outside), else 0.
- ``nonperson_reasons``: why a track that barely moves may be a false detection (a sign, a pole): it
  stays put for long, its detector confidence is low, its boxes are much smaller than the other tracks.

Distances are in person heights (the boxes' own height), times in seconds (the video's fps), so the
settings carry over between videos of other resolutions and frame rates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reidflow.formats.tracks import TrackRows, VideoInfo
from reidflow.ids import locate
from reidflow.settings import ClusterSettings

# Detections averaged for a track's entry/exit place and size, and spanned by its entry/exit velocity.
ENDPOINT_DETECTIONS = 3
VELOCITY_DETECTIONS = 6
# A box this close to the frame edge (fraction of the frame's width/height) touches the border.
BORDER_FRACTION = 0.02


@dataclass(frozen=True)
class TrackSummaries:
    """Per track (the order of ``track_ids``): arrays of length N, points as (N, 2) x, y in pixels."""

    track_ids: np.ndarray
    first: np.ndarray  # first and last frame
    last: np.ndarray
    entry: np.ndarray  # box centre, averaged over the first/last ENDPOINT_DETECTIONS detections
    exit: np.ndarray
    entry_velocity: np.ndarray  # pixels per frame
    exit_velocity: np.ndarray
    height: np.ndarray  # median box height
    extent: np.ndarray  # how far the box centre moved over the whole track, in its own heights
    confidence: np.ndarray  # mean detector confidence
    enters_at_border: np.ndarray
    leaves_at_border: np.ndarray


def _centres(boxes: np.ndarray) -> np.ndarray:
    return (boxes[:, :2] + boxes[:, 2:]) / 2


def touches_border(box: np.ndarray, info: VideoInfo) -> bool:
    """Whether an x1, y1, x2, y2 box reaches within ``BORDER_FRACTION`` of the frame's edge."""
    mx, my = BORDER_FRACTION * info.width, BORDER_FRACTION * info.height
    x1, y1, x2, y2 = box
    return bool(x1 <= mx or y1 <= my or x2 >= info.width - mx or y2 >= info.height - my)


def _velocity(frames: np.ndarray, centres: np.ndarray) -> np.ndarray:
    span = frames[-1] - frames[0]
    return (centres[-1] - centres[0]) / span if span > 0 else np.zeros(2)


def summarise(rows: TrackRows, track_ids: np.ndarray, info: VideoInfo) -> TrackSummaries:
    """Summaries of ``track_ids`` (each must have rows) from a video's detections ``rows``."""
    ids = np.asarray(track_ids, dtype=np.int64)
    known, index = locate(ids, rows.track_ids)
    order = np.lexsort((rows.frames[known], index))
    frames, track_of = rows.frames[known][order], index[order]
    boxes, scores = rows.boxes[known][order].astype(np.float64), rows.scores[known][order]
    starts = np.searchsorted(track_of, np.arange(len(ids)), "left")
    ends = np.searchsorted(track_of, np.arange(len(ids)), "right")
    n = len(ids)
    out = {name: np.zeros((n, 2)) for name in ("entry", "exit", "entry_velocity", "exit_velocity")} | {
        name: np.zeros(n) for name in ("height", "extent", "confidence")
    }
    first, last = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    enters, leaves = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    for i, (s, e) in enumerate(zip(starts, ends)):
        if s == e:
            raise ValueError(f"track {ids[i]} has no detections")
        f, b = frames[s:e], boxes[s:e]
        c = _centres(b)
        height = float(np.median(b[:, 3] - b[:, 1]))
        first[i], last[i] = f[0], f[-1]
        out["entry"][i], out["exit"][i] = c[:ENDPOINT_DETECTIONS].mean(0), c[-ENDPOINT_DETECTIONS:].mean(0)
        out["entry_velocity"][i] = _velocity(f[:VELOCITY_DETECTIONS], c[:VELOCITY_DETECTIONS])
        out["exit_velocity"][i] = _velocity(f[-VELOCITY_DETECTIONS:], c[-VELOCITY_DETECTIONS:])
        out["height"][i] = height
        out["extent"][i] = float(np.linalg.norm(c.max(0) - c.min(0))) / max(height, 1.0)
        out["confidence"][i] = float(scores[s:e].mean())
        enters[i], leaves[i] = touches_border(b[0], info), touches_border(b[-1], info)
    return TrackSummaries(
        track_ids=ids,
        first=first,
        last=last,
        enters_at_border=enters,
        leaves_at_border=leaves,
        **out,
    )


def box_overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over the smaller box's area of paired x1, y1, x2, y2 boxes: 1 when one box holds the
    other (a partial box inside a full one), where IoU would call them different."""
    inter = np.prod(np.clip(np.minimum(a[:, 2:], b[:, 2:]) - np.maximum(a[:, :2], b[:, :2]), 0, None), axis=1)
    area = np.minimum(np.prod(a[:, 2:] - a[:, :2], axis=1), np.prod(b[:, 2:] - b[:, :2], axis=1))
    return np.where(area > 0, inter / np.maximum(area, 1e-9), 0.0)


def apart_cooccurrence(rows: TrackRows, track_ids: np.ndarray, duplicate_overlap: float) -> np.ndarray:
    """(N, N) int64: frames in which both tracks are present with boxes overlapping less than
    ``duplicate_overlap`` (``box_overlap``), i.e. seen together at different places. Diagonal 0.

    Every pair of boxes of one frame is compared once: cost grows with the boxes per frame squared.
    """
    ids = np.asarray(track_ids, dtype=np.int64)
    n = len(ids)
    counts = np.zeros((n, n), dtype=np.int64)
    keep, idx = locate(ids, rows.track_ids)
    frames, boxes = rows.frames[keep], rows.boxes[keep].astype(np.float64)
    order = np.argsort(frames, kind="stable")
    frames, idx, boxes = frames[order], idx[order], boxes[order]
    bounds = np.flatnonzero(np.diff(frames)) + 1
    for s, e in zip(np.r_[0, bounds], np.r_[bounds, len(frames)]):
        if e - s < 2:
            continue
        a, b = np.triu_indices(e - s, 1)
        ia, ib = idx[s:e][a], idx[s:e][b]
        apart = (box_overlap(boxes[s:e][a], boxes[s:e][b]) < duplicate_overlap) & (ia != ib)
        np.add.at(counts, (ia[apart], ib[apart]), 1)
    return counts + counts.T


def spacetime_evidence(summaries: TrackSummaries, fps: float, settings: ClusterSettings) -> np.ndarray:
    """(N, N) symmetric shift of the same-person score, in similarity units (module docstring).

    For tracks i before j (i's last frame before j's first): the gap in seconds, and the distance in
    person heights from j's entry to where i was heading (i's exit moved on by its velocity for at most
    ``continuation_gap`` seconds), or to i's exit itself if that is nearer.
    """
    s = summaries
    n = len(s.track_ids)
    shift = np.zeros((n, n))
    if n < 2 or not fps > 0:
        return shift
    i, j = np.nonzero(s.last[:, None] < s.first[None, :])  # i ends before j starts
    gap_frames = (s.first[j] - s.last[i]).astype(np.float64)
    gap = gap_frames / fps
    ahead = np.minimum(gap_frames, settings.continuation_gap * fps)[:, None]
    heading = s.exit[i] + s.exit_velocity[i] * ahead
    height = (s.height[i] + s.height[j]) / 2
    distance = np.minimum(
        np.linalg.norm(s.entry[j] - heading, axis=1), np.linalg.norm(s.entry[j] - s.exit[i], axis=1)
    ) / np.maximum(height, 1.0)
    continuation = (gap <= settings.continuation_gap) & (distance <= settings.continuation_distance)
    # half a height of slack: boxes jitter, and entry/exit are averages over a few detections
    unreachable = (distance > settings.max_speed * gap + 0.5) & ~(s.leaves_at_border[i] & s.enters_at_border[j])
    value = np.where(continuation, settings.continuation_bonus, np.where(unreachable, -settings.teleport_penalty, 0.0))
    shift[i, j] = value
    shift[j, i] = value
    return shift


def nonperson_reasons(summaries: TrackSummaries, fps: float, settings: ClusterSettings) -> list[list[str]]:
    """Per track, the signs of a false detection it shows; a track that barely moves (its box centre
    moved less than ``nonperson_motion`` of its height) and shows at least two signs is flagged.

    "static": it barely moves over at least ``nonperson_duration`` seconds (any length when ``fps`` is
    unknown, 0): a person may pause for a moment, a sign stays; "low_confidence": mean detector confidence
    below ``nonperson_confidence``; "small": median height below ``nonperson_height`` times the median of
    the video's tracks. One sign alone is common in real people (a person waiting, far away or half
    hidden), hence two; and a track that walks is a person, however small and faint (far away, the
    detector is unsure of people too).
    """
    s = summaries
    typical = float(np.median(s.height)) if len(s.height) else 0.0
    still = s.extent < settings.nonperson_motion
    lasting = (s.last - s.first) >= settings.nonperson_duration * fps if fps > 0 else np.ones(len(s.first), bool)
    signs = {
        "static": still & lasting,
        "low_confidence": s.confidence < settings.nonperson_confidence,
        "small": s.height < settings.nonperson_height * typical,
    }
    reasons = [[name for name, shown in signs.items() if shown[k]] for k in range(len(s.track_ids))]
    return [r if len(r) >= 2 and still[k] else [] for k, r in enumerate(reasons)]
