"""Seconds per similarity aggregation and for clustering, on generated unit features (one run).

N tracks x K crops x D dims of random unit features: ``--people`` random directions, each track a noisy
copy of one of them and each crop a noisy copy of its track, so that clustering has real merges to make.
Every track lives ``--span`` frames at a random start in a ``--frames``-frame video (co-occurrence vetoes).
The ``mean`` path is also compared with a per-pair loop over crop matrices on ``--loop-tracks`` tracks.

    .venv/bin/python bench/similarity.py                     # 10,000 tracks x 16 crops x 512-d
    .venv/bin/python bench/similarity.py --pairwise-tracks 2500   # crop-pair aggregations on fewer tracks

median, max and topk_mean need every crop pair: 16x the work of a 10,000 x 10,000 matmul over 160,000 crops,
minutes on two cores (they scale with N^2; --pairwise-tracks measures them on fewer tracks).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from reidflow import cluster, similarity
from reidflow.formats.similarity import Similarity
from reidflow.formats.tracks import TrackRows
from reidflow.similarity import unit_rows as unit


def make_features(n: int, k: int, dim: int, people: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Noise of norm 0.4 per track and 0.5 per crop: tracks of one person reach a mean similarity near 0.7."""
    centres = unit(rng.standard_normal((people, dim)))
    tracks = unit(centres[rng.integers(0, people, n)] + 0.4 * unit(rng.standard_normal((n, dim))))
    return list(unit(tracks[:, None, :] + 0.5 * unit(rng.standard_normal((n, k, dim)))))


def make_rows(n: int, frames: int, span: int, rng: np.random.Generator) -> TrackRows:
    starts = rng.integers(0, frames - span, n)
    f = (starts[:, None] + np.arange(span)).reshape(-1)
    ids = np.repeat(np.arange(n), span)
    return TrackRows(f, ids, np.zeros((len(f), 4)), np.ones(len(f)))


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def pair_loop_mean(features: list[np.ndarray]) -> np.ndarray:
    """The baseline: every pair of tracks, all their crop pairs."""
    n = len(features)
    out = np.empty((n, n), dtype=np.float32)
    for i in range(n):
        for j in range(i, n):
            out[i, j] = out[j, i] = (features[i] @ features[j].T).mean()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=10_000)
    parser.add_argument("--crops", type=int, default=16)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--people", type=int, default=0, help="default: tracks / 4")
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--span", type=int, default=40)
    parser.add_argument(
        "--pairwise-tracks", type=int, default=0, help="tracks for median/max/topk_mean (default: --tracks)"
    )
    parser.add_argument("--loop-tracks", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    n = args.tracks
    features = make_features(n, args.crops, args.dim, args.people or max(1, n // 4), rng)
    rows = make_rows(n, args.frames, args.span, rng)
    print(f"{n} tracks x {args.crops} crops x {args.dim}-d")

    matrix, mean_s = timed(similarity.aggregate, features, "mean")
    print(f"aggregate mean              : {mean_s:7.2f} s   (target < 2 s)")
    _, s = timed(similarity.aggregate, features, "mean_embedding")
    print(f"aggregate mean_embedding    : {s:7.2f} s")
    pairwise_n = args.pairwise_tracks or n
    for aggregation in ("max", "topk_mean", "median"):
        _, s = timed(similarity.aggregate, features[:pairwise_n], aggregation)
        scaled = f", ~{s * (n / pairwise_n) ** 2:.0f} s for {n} (quadratic)" if pairwise_n < n else ""
        print(f"aggregate {aggregation:<18}: {s:7.2f} s   ({pairwise_n} tracks{scaled})")

    cooc, s = timed(similarity.cooccurrence, rows, list(range(n)))
    print(f"co-occurrence               : {s:7.2f} s   ({int(np.triu(cooc > 0, 1).sum())} pairs seen together)")
    veto = cooc >= 1
    np.fill_diagonal(veto, False)
    for threshold in (0.35, 2.0):
        distance = 1.0 - matrix  # float32, consumed by the clustering (overwrite=True), as the cluster stage does
        (labels, steps), s = timed(cluster.agglomerate, distance, veto, "average", threshold, overwrite=True)
        note = "target < 10 s" if threshold == 0.35 else "every allowed merge, the worst case"
        print(
            f"clustering, threshold {threshold:<5}: {s:7.2f} s   ({len(steps)} merges, {labels.max() + 1} identities; {note})"
        )
    del distance, veto
    record = Similarity("bench", list(range(n)), "mean", {}, 0.5, matrix, cooc, [], similarity.distribution([], 1))
    clusters, s = timed(cluster.build_clusters, record, rows)
    print(
        f"cluster stage, all of it    : {s:7.2f} s   (clustering + checks, identities, "
        f"{len(clusters.recommendations)} recommendations)"
    )
    del record, clusters, cooc, matrix

    small = features[: args.loop_tracks]
    loop, loop_s = timed(pair_loop_mean, small)
    fast, fast_s = timed(similarity.aggregate, small, "mean")
    assert np.allclose(loop, fast, atol=1e-5)
    print(
        f"mean on {len(small)} tracks: per-pair loop {loop_s:.3f} s, dot product of means {fast_s:.4f} s: "
        f"{loop_s / fast_s:.0f}x"
    )


if __name__ == "__main__":
    main()
