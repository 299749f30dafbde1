"""Tracking quality against MOTChallenge ground truth (CLEAR MOT and identity metrics via motmetrics)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reidflow.formats import TrackRows

# motmetrics 1.4 still calls np.asfarray, which NumPy 2 removed.
if not hasattr(np, "asfarray"):
    np.asfarray = lambda a, dtype=np.float64: np.asarray(a, dtype=dtype)  # type: ignore[attr-defined]

import motmetrics  # noqa: E402


@dataclass(frozen=True)
class MotScores:
    mota: float
    idf1: float
    id_switches: int
    num_ids: int
    precision: float
    recall: float


def mot_scores(gt: TrackRows, hyp: TrackRows, iou_threshold: float = 0.5, frames: np.ndarray | None = None) -> MotScores:
    """Score ``hyp`` against ``gt`` on ``frames`` (default: every frame that has ground truth).

    Ground-truth rows with score 0 (MOTChallenge's "ignore" flag) are dropped.
    """
    gt = TrackRows(gt.frames[gt.scores != 0], gt.track_ids[gt.scores != 0], gt.boxes[gt.scores != 0], gt.scores[gt.scores != 0])
    if frames is None:
        frames = np.unique(gt.frames)
    acc = motmetrics.MOTAccumulator(auto_id=False)
    for frame in frames:
        g, h = gt.frames == frame, hyp.frames == frame
        gt_xywh, hyp_xywh = _xywh(gt.boxes[g]), _xywh(hyp.boxes[h])
        dist = motmetrics.distances.iou_matrix(gt_xywh, hyp_xywh, max_iou=1 - iou_threshold)
        acc.update(gt.track_ids[g].tolist(), hyp.track_ids[h].tolist(), dist, frameid=int(frame))
    summary = motmetrics.metrics.create().compute(
        acc, metrics=["mota", "idf1", "num_switches", "num_unique_objects", "precision", "recall"], name="all"
    )
    row = summary.loc["all"]
    return MotScores(
        mota=float(row["mota"]),
        idf1=float(row["idf1"]),
        id_switches=int(row["num_switches"]),
        num_ids=int(len(np.unique(hyp.track_ids[np.isin(hyp.frames, frames)]))),
        precision=float(row["precision"]),
        recall=float(row["recall"]),
    )


def _xywh(boxes: np.ndarray) -> np.ndarray:
    out = boxes.astype(np.float64).copy()
    out[:, 2:] -= out[:, :2]
    return out
