"""Tracks cut at identity switches, and the pieces every later stage sees instead.

A tracker that follows one person and then, after two people cross, the other, makes one track of two
people, which no merging can repair. Stage ``similarity`` reads each track's crop features in frame order
and cuts the track where they split into two groups that look like different people:

    for every cut position k (at least ``min_crops`` crops on each side), the cosine of the mean features
    of crops [0, k) and [k, K); the lowest one cuts the track when it is below ``below``, and each side is
    searched again (binary segmentation, so a track can switch more than once).

The cut frame is the first frame of the later piece: halfway between the last crop before and the first
crop after the cut (crops are kept every few frames, so the switch itself lies in that gap).

A piece is a track id like any other: the first piece of a cut track keeps the tracker's id, each later
piece gets a new id above every tracker id of the video (``Cut.piece``). The cuts travel in
``similarity.json`` and ``clusters.json``; every stage that reads ``tracks.npz``, ``final_crops.h5`` or
``features.h5`` after the cut applies them with ``split_rows``, ``split_features`` or ``reidflow.piece_crops.PieceCrops``, so
that all stages agree on which boxes and crops belong to which piece. The two pieces on either side of a
cut are never merged by clustering (the cut says they are two people); a person's merge may join them.

Examples:
    >>> import numpy as np
    >>> from reidflow import pieces
    >>> left, right = np.eye(4, dtype=np.float32)[[0] * 10], np.eye(4, dtype=np.float32)[[1] * 10]
    >>> cuts = pieces.find_cuts([7], [np.concatenate([left, right])], [np.arange(0, 40, 2)], first_piece=100,
    ...                        below=0.65, min_crops=8)
    >>> [(c.track, c.frame, c.piece) for c in cuts]
    [(7, 19, 100)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from reidflow.formats.similarity import Cut
from reidflow.formats.tracks import TrackRows


def best_cut(features: np.ndarray, min_crops: int) -> tuple[int, float] | None:
    """(k, cosine) of the cut position k whose two sides' mean features are least alike; None when the
    track has fewer than ``2 * min_crops`` crops. ``features``: (K, D) rows in frame order."""
    x = np.asarray(features, dtype=np.float64)
    k_all = len(x)
    if min_crops < 1 or k_all < 2 * min_crops:
        return None
    prefix = np.cumsum(x, axis=0)
    positions = np.arange(min_crops, k_all - min_crops + 1)
    left = prefix[positions - 1]
    right = prefix[-1] - left
    norms = np.linalg.norm(left, axis=1) * np.linalg.norm(right, axis=1)
    cosine = np.einsum("ij,ij->i", left, right) / np.where(norms > 0, norms, 1.0)
    best = int(np.argmin(cosine))
    return int(positions[best]), float(cosine[best])


def cut_positions(features: np.ndarray, below: float, min_crops: int) -> list[tuple[int, float]]:
    """Crop positions (k, cosine) where a track splits into pieces, ascending: binary segmentation."""
    found: list[tuple[int, float]] = []
    stack = [(0, len(features))]
    while stack:
        start, stop = stack.pop()
        cut = best_cut(features[start:stop], min_crops)
        if cut is None or not cut[1] < below:
            continue
        k = start + cut[0]
        found.append((k, cut[1]))
        stack += [(start, k), (k, stop)]
    return sorted(found)


def find_cuts(
    track_ids: Sequence[int],
    features: Sequence[np.ndarray],
    crop_frames: Sequence[np.ndarray],
    first_piece: int,
    below: float,
    min_crops: int,
) -> list[Cut]:
    """The cuts of every track: ``features[i]`` (K, D) and ``crop_frames[i]`` (K,) belong to ``track_ids[i]``,
    in frame order. New pieces are numbered from ``first_piece`` on, in order of track id and frame."""
    cuts = []
    piece = first_piece
    for track, x, frames in sorted(zip(track_ids, features, crop_frames), key=lambda t: int(t[0])):
        frames = np.asarray(frames, dtype=np.int64)
        for k, cosine in cut_positions(np.asarray(x), below, min_crops):
            frame = (int(frames[k - 1]) + int(frames[k]) + 1) // 2
            cuts.append(Cut(int(track), frame, piece, round(cosine, 6)))
            piece += 1
    return cuts


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
    out: dict[int, np.ndarray] = {}
    for track, x in by_track.items():
        frames = np.asarray(crop_frames[track])
        labels = relabel(np.full(len(frames), track), frames, cuts)
        for piece in dict.fromkeys(labels.tolist()):
            out[int(piece)] = x[labels == piece]
    return out


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


def origin(cuts: Sequence[Cut]) -> dict[int, tuple[int, int]]:
    """Each later piece's (tracker id, first frame)."""
    return {c.piece: (c.track, c.frame) for c in cuts}
