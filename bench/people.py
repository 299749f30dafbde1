"""Time and peak memory of the people stage's core, from 5,000 to 40,000 identities (one run).

Identities are generated as in ``bench/similarity.py``: ``N / 4`` people, each identity a noisy copy of its
person, each of its ``--crops`` crops a noisy copy of the identity (unit rows, ``--dim`` dims). As the real
stage does, every identity is reduced to its mean crop feature as soon as it is read (here: generated, in
chunks), so the crops of all identities are never in memory at once. Timed: the mean features, the
candidate scan (``--neighbours`` per identity) and the constrained linkage, each size in a fresh process
(its own peak RSS). Then, on ``--exact-n`` identities, the sparse result is compared with the exact dense
average linkage (``reidflow.cluster.agglomerate`` on all N x N pairs).

    .venv/bin/python bench/people.py                       # 5,000 .. 40,000 identities x 16 crops x 512-d
    .venv/bin/python bench/people.py --sizes 5000 10000     # a quicker look

Targets (issue 14): 40,000 identities under 60 s and 4 GB on this 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

from reidflow import people
from reidflow.cluster import agglomerate

THRESHOLD = 0.5  # mean crop-pair similarity a merge needs (people.threshold's default)


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def identity_means(n: int, crops: int, dim: int, seed: int, chunk: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) mean crop features and the true person of each identity, generated chunk by chunk."""
    rng = np.random.default_rng(seed)
    persons = max(1, n // 4)
    centres = unit(rng.standard_normal((persons, dim)))
    truth = rng.integers(0, persons, n)
    means = np.empty((n, dim), dtype=np.float32)
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        ids = unit(centres[truth[s:e]] + 0.4 * unit(rng.standard_normal((e - s, dim))))
        crop_features = unit(ids[:, None, :] + 0.5 * unit(rng.standard_normal((e - s, crops, dim))))
        means[s:e] = people.mean_features(list(crop_features))
    return means, truth


def run_one(n: int, args: argparse.Namespace) -> dict:
    means, truth = identity_means(n, args.crops, args.dim, args.seed)
    t0 = time.perf_counter()
    candidates = people.candidate_pairs(means, args.neighbours)
    t1 = time.perf_counter()
    labels, _ = people.link_people(n, candidates, THRESHOLD)
    t2 = time.perf_counter()
    wrong = sum(len(set(truth[labels == p].tolist())) > 1 for p in np.unique(labels))
    return {
        "n": n,
        "scan_s": t1 - t0,
        "link_s": t2 - t1,
        "pairs": int(len(candidates.left)),
        "people": int(labels.max() + 1),
        "true_people": int(len(np.unique(truth))),
        "mixed": int(wrong),
        "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


def exact_check(args: argparse.Namespace) -> bool:
    means, _ = identity_means(args.exact_n, args.crops, args.dim, args.seed)
    sparse, _ = people.link_people(len(means), people.candidate_pairs(means, args.neighbours), THRESHOLD)
    dense, _ = agglomerate(1.0 - means @ means.T, np.zeros((len(means),) * 2, bool), "average", 1.0 - THRESHOLD)
    return sparse.tolist() == dense.tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 10000, 20000, 40000])
    parser.add_argument("--crops", type=int, default=16)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--neighbours", type=int, default=10)
    parser.add_argument("--exact-n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args)))
        return
    base = [
        sys.executable,
        __file__,
        "--crops",
        str(args.crops),
        "--dim",
        str(args.dim),
        "--neighbours",
        str(args.neighbours),
        "--seed",
        str(args.seed),
    ]
    print(f"identities x {args.crops} crops x {args.dim}-d, {args.neighbours} neighbours, threshold {THRESHOLD}")
    print(
        f"{'N':>7} {'scan s':>8} {'link s':>8} {'total s':>8} {'peak GB':>8} {'pairs':>9} {'people':>7} {'true':>7} {'mixed':>6}"
    )
    previous = None
    for n in args.sizes:
        r = json.loads(subprocess.run([*base, "--one", str(n)], capture_output=True, text=True, check=True).stdout)
        total = r["scan_s"] + r["link_s"]
        growth = (
            f"  x{total / previous[1]:.1f} time, x{r['peak_gb'] / previous[2]:.1f} memory for x{n / previous[0]:.0f} N"
            if previous
            else ""
        )
        print(
            f"{n:>7} {r['scan_s']:>8.2f} {r['link_s']:>8.2f} {total:>8.2f} {r['peak_gb']:>8.2f} {r['pairs']:>9} {r['people']:>7} {r['true_people']:>7} {r['mixed']:>6}{growth}"
        )
        previous = (n, total, r["peak_gb"])
    print(
        f"sparse ({args.neighbours} neighbours) equals exact dense average linkage on {args.exact_n} identities: {exact_check(args)}"
    )


if __name__ == "__main__":
    main()
