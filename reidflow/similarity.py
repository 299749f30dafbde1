"""Stage 4, ``similarity``: how alike every two tracks look, over all pairs of their crops.

A track is a (K, D) matrix of unit-length crop features. For tracks a and b the K_a x K_b cosine
similarities of their crop pairs are aggregated into one number:

    mean             the mean of all K_a*K_b similarities. Since mean_ij <x_i, y_j> = <mean x, mean y>, it is
                     the dot product of the two tracks' un-normalised mean features: O(N*K*D + N^2*D).
    mean_embedding   the cosine of the re-normalised mean features (the classic "averaged embedding").
    median, max      the median / the largest of the K_a*K_b similarities.
    topk_mean        the mean of the ``topk`` largest (all of them when K_a*K_b < topk).

The diagonal follows the same definition on a track's own crops (1 for ``max`` and ``mean_embedding``).
The crop-pair aggregations are computed exactly, one square tile of track pairs at a time over the upper
triangle (the matrix is symmetric), so memory stays near ``block_bytes`` whatever the number of tracks.

Nothing here assumes one video: tracks are a plain list of distinct int64 keys, and the co-occurrence of
tracks of different videos is simply zero (build it per video and place the blocks on the diagonal).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reidflow import ReidflowError, pieces
from reidflow.formats.base import REBUILD
from reidflow.formats.similarity import Cut, Distribution, Similarity, SimilarPair
from reidflow.formats.tracks import TrackRows
from reidflow.ids import RepeatedIdError, locate, pairs_at_or_above
from reidflow.settings import SimilaritySettings

AGGREGATIONS = ("mean", "mean_embedding", "median", "max", "topk_mean")
# Crop-pair similarities held at once per tile (float32); peak memory is about twice this.
BLOCK_BYTES = 1 << 27


class SimilarityError(ReidflowError):
    pass


def unit_rows(x: np.ndarray) -> np.ndarray:
    """float32 rows scaled to unit length along the last axis; all-zero rows stay zero."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def aggregate(
    features: Sequence[np.ndarray],
    aggregation: str = SimilaritySettings.aggregation,
    topk: int = SimilaritySettings.topk,
    block_bytes: int = BLOCK_BYTES,
) -> np.ndarray:
    """(N, N) float32 symmetric similarity of N tracks, each a (K_i, D) matrix of unit-length rows."""
    if aggregation not in AGGREGATIONS:
        raise SimilarityError(f"similarity.aggregation {aggregation!r} unknown; use one of {', '.join(AGGREGATIONS)}")
    if topk < 1:
        raise SimilarityError(f"similarity.topk must be at least 1, got {topk}")
    tracks = [np.asarray(f, dtype=np.float32) for f in features]
    n = len(tracks)
    if n == 0:
        return np.zeros((0, 0), dtype=np.float32)
    dims = {t.shape[1] if t.ndim == 2 else None for t in tracks}
    if len(dims) != 1 or None in dims:
        raise SimilarityError(
            f"every track needs a (K, D) feature matrix with the same D; got dims {sorted(map(str, dims))}"
        )
    empty = [i for i, t in enumerate(tracks) if len(t) == 0]
    if empty:
        raise SimilarityError(f"tracks at positions {empty[:10]} have no crop features; every track needs at least one")
    if aggregation in ("mean", "mean_embedding"):
        matrix = _mean_similarity(tracks, normalise=aggregation == "mean_embedding")
    else:
        matrix = _crop_pair_similarity(tracks, aggregation, topk, block_bytes)
    _mirror_upper(matrix)
    return matrix


def _mean_similarity(tracks: list[np.ndarray], normalise: bool) -> np.ndarray:
    means = np.stack([t.mean(axis=0, dtype=np.float64) for t in tracks]).astype(np.float32)
    if normalise:
        means = unit_rows(means)
    matrix = means @ means.T
    if normalise:
        np.fill_diagonal(matrix, 1.0)  # a cosine with itself, also when rounding says 0.9999999
    return matrix


def _crop_pair_similarity(tracks: list[np.ndarray], aggregation: str, topk: int, block_bytes: int) -> np.ndarray:
    n, dim = len(tracks), tracks[0].shape[1]
    counts = np.array([len(t) for t in tracks])
    kmax = int(counts.max())
    uneven = int(counts.min()) != kmax
    # Tracks padded to kmax crops; padded entries are masked with +-inf before reducing.
    padded = np.zeros((n, kmax, dim), dtype=np.float32)
    for i, t in enumerate(tracks):
        padded[i, : len(t)] = t
    flat = padded.reshape(n * kmax, dim)
    valid = np.arange(kmax) < counts[:, None]
    # Square tiles of tracks over the upper triangle (the lower one is mirrored afterwards). The buffers
    # are allocated once: fresh multi-MB arrays per tile would cost more in page faults than the sort.
    side = min(n, max(1, int(np.sqrt(block_bytes / 4)) // kmax))
    sims_buffer = np.empty(side * side * kmax * kmax, dtype=np.float32)
    pairs_buffer = np.empty_like(sims_buffer) if aggregation != "max" else None
    matrix = np.empty((n, n), dtype=np.float32)
    for r0 in range(0, n, side):
        r1 = min(n, r0 + side)
        for c0 in range(r0, n, side):
            c1 = min(n, c0 + side)
            a, b = r1 - r0, c1 - c0
            product = sims_buffer[: a * kmax * b * kmax].reshape(a * kmax, b * kmax)
            np.matmul(flat[r0 * kmax : r1 * kmax], flat[c0 * kmax : c1 * kmax].T, out=product)
            sims = product.reshape(a, kmax, b, kmax)
            if uneven:
                fill = np.inf if aggregation == "median" else -np.inf
                sims[~valid[r0:r1]] = fill
                sims.transpose(2, 3, 0, 1)[~valid[c0:c1]] = fill
            if aggregation == "max":
                matrix[r0:r1, c0:c1] = sims.max(axis=1).max(axis=2)
                continue
            # one sorted row of crop pairs per track pair (sorting 256 floats beats np.partition)
            assert pairs_buffer is not None  # allocated for every aggregation but max
            pairs = pairs_buffer[: a * b * kmax * kmax].reshape(a, b, kmax * kmax)
            np.copyto(pairs.reshape(a, b, kmax, kmax), sims.transpose(0, 2, 1, 3))
            pairs.sort(axis=-1)
            matrix[r0:r1, c0:c1] = _reduce_sorted(pairs, aggregation, topk, counts[r0:r1], counts[c0:c1], uneven)
    return matrix


def _reduce_sorted(
    pairs: np.ndarray, aggregation: str, topk: int, counts_a: np.ndarray, counts_b: np.ndarray, uneven: bool
) -> np.ndarray:
    """Aggregate (A, B, Kmax^2) ascending crop-pair similarities to (A, B).

    Padding sorts to the end (+inf, median) or to the front (-inf, topk_mean).
    """
    size = pairs.shape[-1]
    if aggregation == "topk_mean":
        top = pairs[..., size - min(topk, size) :]
        if uneven:
            top = np.where(np.isfinite(top), top, 0.0)  # pairs with fewer than topk crop pairs
            return top.sum(axis=-1) / np.minimum(topk, counts_a[:, None] * counts_b[None, :])
        return top.mean(axis=-1)
    if not uneven:
        return (pairs[..., (size - 1) // 2] + pairs[..., size // 2]) / 2
    valid = counts_a[:, None] * counts_b[None, :]
    low = np.take_along_axis(pairs, ((valid - 1) // 2)[..., None], axis=-1)[..., 0]
    high = np.take_along_axis(pairs, (valid // 2)[..., None], axis=-1)[..., 0]
    return (low + high) / 2


def _mirror_upper(matrix: np.ndarray, tile: int = 256) -> None:
    """Copy the upper triangle onto the lower one in place: exactly symmetric, no N^2 temporaries.

    Tile by tile, so that the transposed reads stay in cache.
    """
    n = len(matrix)
    for r0 in range(0, n, tile):
        r1 = min(n, r0 + tile)
        block = matrix[r0:r1, r0:r1]
        lower = np.tril_indices(r1 - r0, -1)
        block[lower] = block.T[lower]
        for c0 in range(r1, n, tile):
            c1 = min(n, c0 + tile)
            matrix[c0:c1, r0:r1] = matrix[r0:r1, c0:c1].T


def cooccurrence(rows: TrackRows, track_ids: Sequence[int]) -> np.ndarray:
    """(N, N) int64: frames in which both tracks are present (diagonal: frames the track is present).

    One sparse track x frame incidence matrix times its transpose; rows of other tracks are ignored.
    """
    from scipy import sparse

    ids = np.asarray(track_ids, dtype=np.int64).reshape(-1)
    n = len(ids)
    try:
        known, track_index = locate(ids, rows.track_ids)
    except RepeatedIdError as err:
        raise SimilarityError(str(err)) from None
    if n == 0:
        return np.zeros((0, 0), dtype=np.int64)
    frames, frame_index = np.unique(rows.frames[known], return_inverse=True)
    incidence = sparse.csr_matrix(
        (np.ones(len(track_index), dtype=np.int64), (track_index, frame_index)), shape=(n, len(frames))
    )
    incidence.data[:] = 1  # a track listed twice in one frame is still one frame
    return (incidence @ incidence.T).toarray()


def upper_values(matrix: np.ndarray) -> np.ndarray:
    """The values above the diagonal (each unordered pair once)."""
    return matrix[np.triu_indices(len(matrix), 1)]


def distribution(values: np.ndarray, bins: int) -> Distribution:
    """Summary of similarities on a fixed [-1, 1] histogram, comparable between videos and models."""
    edges = np.linspace(-1.0, 1.0, bins + 1)
    values = np.asarray(values, dtype=np.float64)
    counts, _ = np.histogram(np.clip(values, -1.0, 1.0), bins=edges)
    histogram_edges = [round(float(e), 6) for e in edges]
    histogram_counts = [int(c) for c in counts]
    if len(values) == 0:
        return Distribution(0, None, None, None, None, histogram_edges, histogram_counts)
    return Distribution(
        count=len(values),
        min=float(values.min()),
        max=float(values.max()),
        mean=float(values.mean()),
        std=float(values.std()),
        histogram_edges=histogram_edges,
        histogram_counts=histogram_counts,
    )


def similar_pairs(
    track_ids: Sequence[int], matrix: np.ndarray, cooc: np.ndarray, threshold: float
) -> list[SimilarPair]:
    """Pairs at or above ``threshold``, most similar first (ties: smaller ids first)."""
    ids = np.asarray(track_ids, dtype=np.int64)
    a, b = pairs_at_or_above(ids, matrix, threshold)
    return [SimilarPair(int(ids[i]), int(ids[j]), float(matrix[i, j]), int(cooc[i, j])) for i, j in zip(a, b)]


def build_similarity(
    video: str,
    track_ids: Sequence[int],
    features: Sequence[np.ndarray],
    rows: TrackRows,
    settings: SimilaritySettings = SimilaritySettings(),
    features_file: str = "features.h5",
    crop_frames: Sequence[np.ndarray] | None = None,
) -> Similarity:
    """The ``similarity.json`` record of one video's tracks (``features[i]`` belongs to ``track_ids[i]``).

    With ``crop_frames`` (``crop_frames[i]``: the frame of each row of ``features[i]``), tracks whose
    appearance switches are first cut into pieces (reidflow.pieces; ``settings.split_below``), and the
    record is about pieces. ``features_file`` names the source of ``track_ids`` and ``features`` in error
    messages.

    Examples:
        >>> from reidflow import similarity
        >>> from reidflow.formats.crops import read_crop_frames
        >>> from reidflow.formats.features import read_features
        >>> from reidflow.formats.similarity import write_similarity
        >>> from reidflow.formats.tracks import read_tracks
        >>> features = read_features("results/vtest/features.h5")
        >>> record = similarity.build_similarity(
        ...     "vtest", features.track_ids, list(features.by_track.values()),
        ...     read_tracks("results/vtest/tracks.npz").rows, similarity.SimilaritySettings(aggregation="max"),
        ...     crop_frames=read_crop_frames("results/vtest/final_crops.h5", features.track_ids))
        >>> write_similarity("similarity.json", record)
    """
    s = settings
    if len(track_ids) != len(features):
        raise SimilarityError(f"{len(track_ids)} track ids but {len(features)} feature matrices")
    if s.histogram_bins < 1:
        raise SimilarityError(f"similarity.histogram_bins must be at least 1, got {s.histogram_bins}")
    _check_features(track_ids, features, features_file)
    cuts: list[Cut] = []
    if crop_frames is not None:
        odd = [int(t) for t, f, x in zip(track_ids, crop_frames, features) if len(f) != len(x)]
        if odd:
            raise SimilarityError(
                f"{features_file}: track(s) {', '.join(map(str, odd[:10]))} have another number of feature rows than of crops; {REBUILD}"
            )
        base = pieces.piece_base(max(int(rows.track_ids.max(initial=0)), max(map(int, track_ids), default=0)))
        cuts = pieces.find_cuts(track_ids, features, crop_frames, base, s.split_below, s.split_min_crops)
        cuts = pieces.swap_cuts(cuts, track_ids, features, crop_frames, rows, base, s.split_below)
        if cuts:
            by_piece = pieces.split_features(
                dict(zip(map(int, track_ids), features)), dict(zip(map(int, track_ids), crop_frames)), cuts
            )
            track_ids, features = list(by_piece), list(by_piece.values())
            rows = pieces.split_rows(rows, cuts)
    # float64 rounded to 6 decimals: far below any decision, and similarity.json stays readable
    matrix = np.round(aggregate(features, s.aggregation, s.topk).astype(np.float64), 6)
    cooc = cooccurrence(rows, track_ids)
    return Similarity(
        video=video,
        track_ids=[int(t) for t in track_ids],
        aggregation=s.aggregation,
        params={"topk": s.topk} if s.aggregation == "topk_mean" else {},
        threshold=float(s.threshold),
        matrix=matrix,
        cooccurrence=cooc,
        pairs=similar_pairs(track_ids, matrix, cooc, s.threshold),
        distribution=distribution(upper_values(matrix), s.histogram_bins),
        cuts=cuts,
    )


def _check_features(track_ids: Sequence[int], features: Sequence[np.ndarray], features_file: str) -> None:
    """What ``aggregate`` and ``cooccurrence`` need, reported by track id and file."""
    fix = REBUILD
    ids = np.asarray(track_ids, dtype=np.int64).reshape(-1)
    values, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        twice = ", ".join(map(str, values[counts > 1][:10].tolist()))
        raise SimilarityError(f"{features_file}: track id(s) {twice} listed more than once; {fix}")
    shapes = [np.shape(f) for f in features]
    empty = [int(t) for t, shape in zip(ids, shapes) if len(shape) == 2 and shape[0] == 0]
    if empty:
        raise SimilarityError(
            f"{features_file}: track(s) {', '.join(map(str, empty[:10]))} have no crop features; {fix}"
        )
    dims = [shape[1] if len(shape) == 2 else None for shape in shapes]
    odd = [f"{int(t)} {shape}" for t, shape, dim in zip(ids, shapes, dims) if dim is None or dim != dims[0]]
    if odd:
        raise SimilarityError(
            f"{features_file}: every track needs a (K, D) feature matrix with the same D; track {int(ids[0])} has "
            f"{shapes[0]}, but track(s) {', '.join(odd[:10])}; {fix}"
        )
