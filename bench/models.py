"""Appearance models compared in one run: quality on labelled crops and on the vtest ground truth, CPU speed.

For each model with weights here (reidflow.appearance: torchreid OSNet msmt17 and market1501, the ONNX export
of OSNet msmt17 made in this run, CLIP ViT-B-32 when its weights lie in the models directory):

- reid-crops: ../shared/data/reid-crops (593 crops, 85 identities; same-camera crops: a sanity check),
  query = an identity's earliest crop, gallery = every other crop: rank-1 and mAP;
- vtest: crops cut from vtest.avi at the ground-truth boxes of frames 1-400 (every 2nd frame; gt frame f is
  video frame f-1), each trajectory split into segments of 20 frames, as a tracker's fragments are. Two
  segments are one person when the ground truth says so (persons_frames1-400.csv joins re-entries).
  Segment similarity: the mean cosine of their crops (similarity.aggregation mean). AUC of same-person vs
  different-person pairs, all pairs and re-entry pairs only (same person, different trajectories, vs all
  different-person pairs);
- speed: crops/s on the CPU after setup (best of 3 passes over 512 vtest crops; CLIP without weights: random ones, 128 crops) (the features stage's own backend: ONNX Runtime),
  and as a ratio to the first model, measured in the same run.

Crops are cut at the size each model takes (reidflow.appearance.crop_size), as the crops stage stores them.

    .venv/bin/python bench/models.py                       # ../shared, 2 threads
    .venv/bin/python bench/models.py --models-dir /data/weights --threads 4
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers_reid import rank1_and_map  # noqa: E402  the tests' measure, one definition

from reidflow import appearance
from reidflow.appearance import network, torchreid_models
from reidflow.crops import cut
from reidflow.features import embed_in_batches
from reidflow.settings import FeatureSettings

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("REIDFLOW_SHARED", REPO.parent / "shared"))
SEGMENT_FRAMES = 20
FRAME_STEP = 2
SPEED_CROPS = 512  # timed: the first vtest crops, best of 3 passes


@dataclass
class Candidate:
    label: str
    model: str  # features.model
    weights: Path | None  # None: not available here
    missing: str = ""


def clip_weights(models_dir: Path) -> Path | None:
    """A CLIP ViT-B-32 weights file in the models directory (its name holds 'ViT-B-32'), as tests/test_appearance.py."""
    found = sorted(
        p for p in models_dir.glob("*") if "vit-b-32" in p.name.lower() and p.suffix in (".bin", ".safetensors", ".pth")
    )
    return found[0] if found else None


def candidates(models_dir: Path, workdir: Path) -> list[Candidate]:
    msmt = models_dir / "osnet_x0_25_msmt17.pth"
    onnx_file = network.export_onnx(
        torchreid_models.build_model("osnet_x0_25", msmt), workdir / "osnet_x0_25_msmt17.onnx", (256, 128)
    )
    clip = clip_weights(models_dir)
    return [
        Candidate("osnet_x0_25 msmt17 (default)", "osnet_x0_25", msmt),
        Candidate("osnet_x0_25 market1501", "osnet_x0_25", models_dir / "osnet_x0_25_market1501.pth"),
        Candidate("onnx: osnet_x0_25 msmt17 export", f"onnx:{onnx_file.name}", onnx_file),
        Candidate(
            "clip:ViT-B-32",
            "clip:ViT-B-32",
            clip,
            "" if clip else f"no weights at {models_dir}/<a file named *ViT-B-32*.safetensors|.bin>",
        ),
    ]


def reid_crops(folder: Path, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = list(csv.DictReader(open(folder / "labels.csv")))
    images = np.stack(
        [
            cv2.cvtColor(
                cv2.resize(cv2.imread(str(folder / r["file"])), size[::-1], interpolation=cv2.INTER_LINEAR),
                cv2.COLOR_BGR2RGB,
            )
            for r in rows
        ]
    )
    return images, np.array([r["identity"] for r in rows]), np.array([int(r["frame"]) for r in rows])


@dataclass
class Segment:
    trajectory: int
    person: str
    rows: list[tuple[int, np.ndarray]]  # (video frame, xyxy box)


def vtest_segments(data: Path) -> list[Segment]:
    persons = {int(r["gt_id"]): r["person"] for r in csv.DictReader(open(data / "persons_frames1-400.csv"))}
    boxes: dict[int, list[tuple[int, np.ndarray]]] = defaultdict(list)
    for line in open(data / "gt_frames1-400.txt"):
        f, tid, x, y, w, h = (float(v) for v in line.split(",")[:6])
        if int(f) % FRAME_STEP == 0:
            boxes[int(tid)].append((int(f) - 1, np.array([x, y, x + w, y + h])))  # gt frame f: video frame f-1
    segments = []
    for tid, rows in sorted(boxes.items()):
        rows.sort(key=lambda r: r[0])
        start = rows[0][0]
        for k in range(0, rows[-1][0] - start + 1, SEGMENT_FRAMES):
            part = [r for r in rows if start + k <= r[0] < start + k + SEGMENT_FRAMES]
            if len(part) >= 3:
                segments.append(Segment(tid, persons.get(tid, f"gt{tid}"), part))
    return segments


def cut_segments(video: Path, segments: list[Segment], size: tuple[int, int]) -> list[np.ndarray]:
    wanted: dict[int, list[tuple[int, int, np.ndarray]]] = defaultdict(list)
    for s, segment in enumerate(segments):
        for i, (frame, box) in enumerate(segment.rows):
            wanted[frame].append((s, i, box))
    crops = [np.zeros((len(seg.rows), *size, 3), np.uint8) for seg in segments]
    cap = cv2.VideoCapture(str(video))
    for frame_index in range(max(wanted) + 1):
        ok, frame = cap.read()
        if not ok:
            break
        for s, i, box in wanted.get(frame_index, ()):
            crops[s][i] = cut(frame, box, size[0], size[1], "stretch")[0]
    cap.release()
    return crops


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(a same-person pair scores above a different-person pair), ties half (Mann-Whitney U)."""
    scores = np.concatenate([positive, negative])
    order = scores.argsort(kind="stable")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    for value in np.unique(scores):  # average ranks of ties
        tied = scores == value
        ranks[tied] = ranks[tied].mean()
    u = ranks[: len(positive)].sum() - len(positive) * (len(positive) + 1) / 2
    return float(u / (len(positive) * len(negative)))


def pair_aucs(segments: list[Segment], feats: list[np.ndarray]) -> tuple[float, float, int, int]:
    same, reentry, different = [], [], []
    for a in range(len(segments)):
        for b in range(a + 1, len(segments)):
            score = float((feats[a] @ feats[b].T).mean())
            if segments[a].person != segments[b].person:
                different.append(score)
            else:
                same.append(score)
                if segments[a].trajectory != segments[b].trajectory:
                    reentry.append(score)
    negatives = np.array(different)
    return auc(np.array(same), negatives), auc(np.array(reentry), negatives), len(same), len(reentry)


def clip_speed(segments: list[Segment], args: argparse.Namespace, settings: FeatureSettings) -> float:
    """Crops/s of CLIP ViT-B-32's image tower with random weights (the speed does not depend on them), on
    the first 128 vtest crops."""
    import torch

    from reidflow.appearance import clip_models

    torch.manual_seed(0)
    model = clip_models.from_visual("ViT-B-32", clip_models.build_visual("ViT-B-32"))
    crops = np.concatenate(cut_segments(args.data / "pets09-s2l1" / "vtest.avi", segments, (224, 224)))[:128]
    embed = model.embedder(
        FeatureSettings(model="clip:ViT-B-32", device="cpu", batch_size=args.batch), args.threads, (224, 224)
    )
    return crops_per_second(embed, crops, args.batch, repeats=2)


def crops_per_second(embed, crops: np.ndarray, batch: int, repeats: int = 3) -> float:
    """The best of ``repeats`` timed passes (the machine is shared: the best is the least disturbed)."""
    embed(crops[:1])  # warm-up: the first run of a session allocates
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        embed_in_batches([(0, crops)], embed, batch)
        best = min(best, time.perf_counter() - t0)
    return len(crops) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", type=Path, default=SHARED / "models")
    parser.add_argument("--data", type=Path, default=SHARED / "data")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    started = time.perf_counter()
    segments = vtest_segments(args.data / "pets09-s2l1")
    settings = FeatureSettings(device="cpu", backend="auto", batch_size=args.batch)
    rows, base_speed = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for candidate in candidates(args.models_dir, Path(tmp)):
            if candidate.weights is None:
                speed = clip_speed(segments, args, settings)
                rows.append(
                    f"| {candidate.label} | {candidate.missing} | | | | | {speed:.0f} ({speed / (base_speed or speed):.2f}x;"
                    " random weights, speed only) |"
                )
                continue
            size = appearance.crop_size(candidate.model, candidate.weights, 256, 128)
            settings = FeatureSettings(model=candidate.model, device="cpu", backend="auto", batch_size=args.batch)
            model = appearance.load(candidate.model, candidate.weights)
            embed = model.embedder(settings, args.threads, size)
            images, identities, frames = reid_crops(args.data / "reid-crops", size)
            reid_count = len(images)
            rank1, mean_ap, _ = rank1_and_map(embed_in_batches([(0, images)], embed, args.batch)[0], identities, frames)
            vtest = cut_segments(args.data / "pets09-s2l1" / "vtest.avi", segments, size)
            by_segment = embed_in_batches(enumerate(vtest), embed, args.batch)
            speed = crops_per_second(embed, np.concatenate(vtest)[:SPEED_CROPS], args.batch)
            feats = [by_segment[s] for s in range(len(segments))]
            auc_all, auc_reentry, n_same, n_reentry = pair_aucs(segments, feats)
            base_speed = base_speed or speed
            rows.append(
                f"| {candidate.label} | {size[0]}x{size[1]}, {model.feature_dim(size)}-d | {rank1:.3f} | {mean_ap:.3f} "
                f"| {auc_all:.3f} | {auc_reentry:.3f} | {speed:.0f} ({speed / base_speed:.2f}x) |"
            )
    crops = sum(len(s.rows) for s in segments)
    print(
        f"reid-crops: {reid_count} crops; vtest: {crops} crops in {len(segments)} segments of <= {SEGMENT_FRAMES} gt frames "
        f"({n_same} same-person pairs, {n_reentry} across re-entries); CPU, {args.threads} threads, "
        f"batch {args.batch}; {time.perf_counter() - started:.0f} s in all\n"
    )
    print("| model | input, dim | reid-crops rank-1 | reid-crops mAP | vtest AUC | vtest AUC re-entry | crops/s CPU |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
