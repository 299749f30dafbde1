"""Tracks cut at identity switches, and the pieces every later stage sees instead.

A tracker that follows one person and then, after two people cross, the other, makes one track of two
people, which no merging can repair. Stage ``similarity`` reads each track's crop features in frame order
and cuts the track where they split into two groups that look like different people:

    for every run of crops [i, j) (it and the rest at least ``min_crops`` long), the cosine of the mean
    features of the run and of the rest; the lowest one cuts the track at i and j when it is below
    ``below`` (a run at an end: one switch; inside: a switch and a switch back), and each piece is searched
    again, so a track can switch any number of times.

The cut frame is the first frame of the later piece: halfway between the last crop before and the first
crop after the cut (crops are kept every few frames, so the switch itself lies in that gap).

When two people cross, a tracker often swaps them: both tracks switch at one moment. The other track may end
a few crops after the swap, too few to be cut on its own (``min_crops``); ``swap_cuts`` cuts it too, at the
same frame, when its box touches the cut track's there and each of its sides looks more like the cut
track's other side than like its own other side.

A piece is a track id like any other: the first piece of a cut track keeps the tracker's id, its n-th
later piece gets ``track + n * base``, base the power of ten above every tracker id of the video
(``Cut.piece``). The cuts travel in ``similarity.json`` and ``clusters.json``; every stage that reads
``tracks.npz``, ``final_crops.h5`` or ``features.h5`` after the cut applies them with ``split_rows``,
``split_features`` or ``reidflow.piece_crops.PieceCrops``, so that all stages agree on which boxes and crops
belong to which piece. The two pieces on either side of a cut are never merged by clustering, nor joined by
the people stage (``clusters.json`` lists their identities as ``apart``); a person's merge may join them.
A person's overrides that name a tracker id name its first piece only.

Examples:
    >>> import numpy as np
    >>> from reidflow import pieces
    >>> left, right = np.eye(4, dtype=np.float32)[[0] * 10], np.eye(4, dtype=np.float32)[[1] * 10]
    >>> cuts = pieces.find_cuts([7], [np.concatenate([left, right])], [np.arange(0, 40, 2)],
    ...                        base=pieces.piece_base(60), below=0.65, min_crops=8)
    >>> [(c.track, c.frame, c.piece) for c in cuts]
    [(7, 19, 107)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from reidflow.formats.similarity import Cut
from reidflow.formats.tracks import TrackRows


def best_segment(features: np.ndarray, min_crops: int) -> tuple[int, int, float] | None:
    """(start, stop, cosine): the run of crops [start, stop) whose mean feature is least like the mean of the
    others, every part at least ``min_crops`` long: a run at an end is one switch, a run inside a switch and
    a switch back (A-B-A). None when no such split exists. ``features``: (K, D) rows in frame order."""
    x = np.asarray(features, dtype=np.float64)
    k_all = len(x)
    if min_crops < 1 or k_all < 2 * min_crops:
        return None
    prefix = np.vstack([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])
    # where a run may start (0, or leaving min_crops before it) and stop (the end, or leaving min_crops after)
    starts = np.array([0, *range(min_crops, k_all - min_crops + 1)])
    stops = np.array([*range(min_crops, k_all - min_crops + 1), k_all])
    start, stop = np.meshgrid(starts, stops, indexing="ij")
    valid = (stop - start >= min_crops) & (k_all - (stop - start) >= min_crops)
    start, stop = start[valid], stop[valid]
    if not len(start):
        return None
    # inside = prefix[stop] - prefix[start], outside = total - inside: their dot products from the Gram
    # matrix of the prefix sums, so memory stays O(K^2) whatever the feature size
    gram = prefix @ prefix.T
    with_total = gram[:, -1]
    inside_sq = gram[stop, stop] - 2 * gram[start, stop] + gram[start, start]
    inside_total = with_total[stop] - with_total[start]
    inside_outside = inside_total - inside_sq
    outside_sq = gram[-1, -1] - 2 * inside_total + inside_sq
    norms = np.sqrt(np.clip(inside_sq, 0, None) * np.clip(outside_sq, 0, None))
    cosine = inside_outside / np.where(norms > 0, norms, 1.0)
    best = int(np.argmin(cosine))
    return int(start[best]), int(stop[best]), float(cosine[best])


def cut_positions(features: np.ndarray, below: float, min_crops: int) -> list[tuple[int, float]]:
    """Crop positions (k, cosine) where a track splits into pieces, ascending: the parts found by
    ``best_segment`` are searched again until none is below ``below``."""
    found: list[tuple[int, float]] = []
    stack = [(0, len(features))]
    while stack:
        lo, hi = stack.pop()
        run = best_segment(features[lo:hi], min_crops)
        if run is None or not run[2] < below:
            continue
        start, stop = lo + run[0], lo + run[1]
        cuts = [k for k in (start, stop) if lo < k < hi]
        found += [(k, run[2]) for k in cuts]
        edges = [lo, *cuts, hi]
        stack += list(zip(edges[:-1], edges[1:]))
    return sorted(found)


def find_cuts(
    track_ids: Sequence[int],
    features: Sequence[np.ndarray],
    crop_frames: Sequence[np.ndarray],
    base: int,
    below: float,
    min_crops: int,
) -> list[Cut]:
    """The cuts of every track: ``features[i]`` (K, D) and ``crop_frames[i]`` (K,) belong to ``track_ids[i]``,
    in frame order. The n-th later piece of track t is ``t + n * base`` (``piece_base``): its id depends on
    its own track's cuts only, so a cut elsewhere renumbers no piece a person's overrides may name."""
    cuts = []
    for track, x, frames in sorted(zip(track_ids, features, crop_frames), key=lambda t: int(t[0])):
        frames = np.asarray(frames, dtype=np.int64)
        for n, (k, cosine) in enumerate(cut_positions(np.asarray(x), below, min_crops), start=1):
            frame = (int(frames[k - 1]) + int(frames[k]) + 1) // 2
            cuts.append(Cut(int(track), frame, int(track) + n * base, round(cosine, 6)))
    return cuts


# a crossing partner's box touches the cut track's between the two crops around the cut (the switch lies
# there), or within this many frames of them
SWAP_FRAMES = 5


def swap_cuts(
    cuts: Sequence[Cut],
    track_ids: Sequence[int],
    features: Sequence[np.ndarray],
    crop_frames: Sequence[np.ndarray],
    rows: TrackRows,
    base: int,
    below: float,
) -> list[Cut]:
    """``cuts`` (of ``find_cuts``) and the cuts of their crossing partners, by track and frame.

    For a cut of track A at frame f, a track B is cut at f too (``Cut.crossing`` = A) when all hold:
    B's box overlaps A's in a frame near f (from A's last crop before f to its first crop after it, and
    ``SWAP_FRAMES`` more on either side: the switch lies somewhere there); B has crops on both sides of f
    (within its own piece) and no cut of its own near f; its two sides' mean features are below ``below``
    alike; and each side of B is more like A's other side than like B's other side (the two people swapped
    tracks). A partner's piece takes the next number of its track after those of ``cuts``, so that no piece
    ``find_cuts`` numbered is renumbered.
    """
    x_of = {int(t): np.asarray(x, dtype=np.float64) for t, x in zip(track_ids, features)}
    frames_of = {int(t): np.asarray(f, dtype=np.int64) for t, f in zip(track_ids, crop_frames)}
    frames_at = {int(t): [c.frame for c in cuts if c.track == t] for t in x_of}
    added: list[Cut] = []
    for cut in cuts:
        a_frames = frames_of[cut.track]
        lo = int(a_frames[a_frames < cut.frame].max(initial=cut.frame)) - SWAP_FRAMES
        hi = int(a_frames[a_frames >= cut.frame].min(initial=cut.frame)) + SWAP_FRAMES
        near = (rows.frames >= lo) & (rows.frames <= hi)
        window = TrackRows(rows.frames[near], rows.track_ids[near], rows.boxes[near], rows.scores[near])
        a_before, a_after = _sides(x_of[cut.track], a_frames, frames_at[cut.track], cut.frame)
        if a_before is None or a_after is None:
            continue
        for partner in np.unique(window.track_ids).tolist():
            if partner == cut.track or partner not in x_of:
                continue
            if any(lo <= f <= hi for f in frames_at[partner]):
                continue  # cut already, on its own or as another cut's partner
            if not _touch(window, cut.track, partner):
                continue
            b_before, b_after = _sides(x_of[partner], frames_of[partner], frames_at[partner], cut.frame)
            if b_before is None or b_after is None:
                continue
            own = _cos(b_before, b_after)
            if own < below and _cos(b_after, a_before) > own and _cos(b_before, a_after) > own:
                piece = partner + (len(frames_at[partner]) + 1) * base
                added.append(Cut(partner, cut.frame, piece, round(own, 6), crossing=cut.track))
                frames_at[partner].append(cut.frame)
    return sorted([*cuts, *added], key=lambda c: (c.track, c.frame))


def _sides(x: np.ndarray, frames: np.ndarray, cut_frames: list[int], frame: int) -> tuple[np.ndarray | None, ...]:
    """Mean features of a track's crops before and from ``frame`` within its piece there (None: no crop)."""
    lo = max([f for f in cut_frames if f < frame], default=-1)
    hi = min([f for f in cut_frames if f > frame], default=np.iinfo(np.int64).max)
    before, after = (frames >= lo) & (frames < frame), (frames >= frame) & (frames < hi)
    return tuple(x[k].mean(axis=0) if k.any() else None for k in (before, after))


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))


def _touch(rows: TrackRows, a: int, b: int) -> bool:
    """Whether the boxes of tracks ``a`` and ``b`` overlap in a frame both have in ``rows``."""
    in_a, in_b = rows.track_ids == a, rows.track_ids == b
    shared, at_a, at_b = np.intersect1d(rows.frames[in_a], rows.frames[in_b], return_indices=True)
    if not len(shared):
        return False
    box_a, box_b = rows.boxes[in_a][at_a], rows.boxes[in_b][at_b]
    lo, hi = np.maximum(box_a[:, :2], box_b[:, :2]), np.minimum(box_a[:, 2:], box_b[:, 2:])
    return bool(((hi - lo) > 0).all(axis=1).any())


def piece_base(largest_track_id: int) -> int:
    """The power of ten above every tracker id of a video: pieces numbered with it stay readable (piece 1079
    is track 79's first later piece when the ids stay below 1000) and never meet a tracker id."""
    return 10 ** len(str(max(int(largest_track_id), 0)))


def piece_rank(rank: np.ndarray) -> np.ndarray:
    """Quality ranks (1 = best) of a piece's crops among themselves, from their ranks within the whole track."""
    order = np.argsort(np.asarray(rank), kind="stable")
    out = np.empty(len(order), dtype=np.int64)
    out[order] = np.arange(1, len(order) + 1)
    return out


def relabel(track_ids: np.ndarray, frames: np.ndarray, cuts: Sequence[Cut]) -> np.ndarray:
    """Piece id of every (track, frame): the tracker's id before a track's first cut."""
    out = np.array(track_ids, dtype=np.int64, copy=True).reshape(-1)
    original = out.copy()
    frames = np.asarray(frames, dtype=np.int64).reshape(-1)
    for cut in sorted(cuts, key=lambda c: (c.track, c.frame)):  # later cuts of a track overwrite earlier ones
        out[(original == cut.track) & (frames >= cut.frame)] = cut.piece
    return out


def split_rows(rows: TrackRows, cuts: Sequence[Cut]) -> TrackRows:
    """``rows`` with the track id of each detection replaced by its piece's id."""
    if not cuts:
        return rows
    return replace(rows, track_ids=relabel(rows.track_ids, rows.frames, cuts))


def split_features(
    by_track: dict[int, np.ndarray], crop_frames: dict[int, np.ndarray], cuts: Sequence[Cut]
) -> dict[int, np.ndarray]:
    """Per piece its crops' feature rows, in the order of ``by_track`` (a cut track's pieces in frame order)."""
    return {
        piece: x[positions]
        for track, x in by_track.items()
        for piece, positions in track_pieces(track, crop_frames[track], cuts).items()
    }


def track_pieces(track: int, frames: np.ndarray, cuts: Sequence[Cut]) -> dict[int, np.ndarray]:
    """The pieces of one track's crops (or detections) at ``frames``: piece id -> their positions, in frame
    order of the pieces (the track alone when it was not cut)."""
    labels = relabel(np.full(len(frames), track), frames, cuts)
    return {int(piece): np.flatnonzero(labels == piece) for piece in dict.fromkeys(labels.tolist())}


def adjacent_pieces(cuts: Sequence[Cut]) -> list[tuple[int, int]]:
    """(earlier piece, later piece) on the two sides of each cut: kept apart by clustering."""
    pairs = []
    by_track: dict[int, list[Cut]] = {}
    for cut in cuts:
        by_track.setdefault(cut.track, []).append(cut)
    for track, track_cuts in by_track.items():
        track_cuts.sort(key=lambda c: c.frame)
        before = track
        for cut in track_cuts:
            pairs.append((before, cut.piece))
            before = cut.piece
    return pairs
