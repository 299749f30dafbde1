"""Stage ``evaluate``: tracking quality against MOTChallenge ground truth (CLEAR MOT and identity metrics
via motmetrics), for the raw tracks and for the tracks relabelled by the identities of ``cluster``.

Boxes are matched on IoU computed here on reidflow's x1, y1, x2, y2 boxes (motmetrics' ``iou_matrix``
wants x, y, w, h and calls ``np.asfarray``, which NumPy 2 removed).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import motmetrics
import numpy as np

from reidflow import ReidflowError
from reidflow.formats.clusters import Clusters
from reidflow.formats.evaluation import Evaluation
from reidflow.formats.tracks import TrackRows
from reidflow.settings import EvaluateSettings


@dataclass(frozen=True)
class MotScores:
    mota: float
    idf1: float
    id_switches: int
    num_ids: int
    precision: float
    recall: float


def mot_scores(
    gt: TrackRows,
    hyp: TrackRows,
    iou_threshold: float = EvaluateSettings.iou_threshold,
    frames: np.ndarray | None = None,
) -> MotScores:
    """Score ``hyp`` against ``gt`` on ``frames`` (default: every frame that has ground truth).

    Ground-truth rows with score 0 (MOTChallenge's "ignore" flag) are dropped.
    """
    gt = annotated(gt)
    if frames is None:
        frames = np.unique(gt.frames)
    # rows sorted by frame once: each frame's rows are a slice, not a scan of every row
    gt, hyp = gt.sorted(), hyp.sorted()
    gt_start, gt_end = np.searchsorted(gt.frames, frames, "left"), np.searchsorted(gt.frames, frames, "right")
    hyp_start, hyp_end = np.searchsorted(hyp.frames, frames, "left"), np.searchsorted(hyp.frames, frames, "right")
    acc = motmetrics.MOTAccumulator(auto_id=False)
    for k, frame in enumerate(frames):
        g, h = slice(gt_start[k], gt_end[k]), slice(hyp_start[k], hyp_end[k])
        dist = iou_distances(gt.boxes[g], hyp.boxes[h], iou_threshold)
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


def annotated(gt: TrackRows) -> TrackRows:
    """Ground truth without its confidence-0 rows (MOTChallenge's "ignore")."""
    keep = gt.scores != 0
    return TrackRows(gt.frames[keep], gt.track_ids[keep], gt.boxes[keep], gt.scores[keep])


def processed_frames(first: int, last: int, vid_stride: int = 1, frame_count: int | None = None) -> np.ndarray:
    """The frames in ``first..last`` the tracker looked at: every ``vid_stride``-th from frame 0, below
    ``frame_count`` (the frames decoded; None: no limit). The others have no tracks by construction."""
    if vid_stride < 1:
        raise EvaluateError(f"vid_stride must be at least 1, got {vid_stride}")
    frames = np.arange(first, last + 1)
    frames = frames[frames % vid_stride == 0]
    return frames if frame_count is None else frames[frames < frame_count]


def iou_distances(gt_boxes: np.ndarray, hyp_boxes: np.ndarray, iou_threshold: float) -> np.ndarray:
    """motmetrics' distance matrix of two sets of x1, y1, x2, y2 boxes: 1 - IoU, NaN (never paired) where
    the IoU is below ``iou_threshold``; (0, 0) when either set is empty, as ``motmetrics.distances.iou_matrix``."""
    if len(gt_boxes) == 0 or len(hyp_boxes) == 0:
        return np.empty((0, 0))
    a, b = np.asarray(gt_boxes, np.float64)[:, None], np.asarray(hyp_boxes, np.float64)[None]
    inter = np.prod(np.maximum(np.minimum(a[..., 2:], b[..., 2:]) - np.maximum(a[..., :2], b[..., :2]), 0), axis=-1)
    area_a = np.prod(np.maximum(a[..., 2:] - a[..., :2], 0), axis=-1)
    area_b = np.prod(np.maximum(b[..., 2:] - b[..., :2], 0), axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(inter == 0, 0.0, inter / (area_a + area_b - inter))
    dist = 1 - iou
    return np.where(dist > 1 - iou_threshold, np.nan, dist)


class EvaluateError(ReidflowError):
    pass


def relabel(rows: TrackRows, identity_of: dict[int, int]) -> TrackRows:
    """Rows with each track's id replaced by its identity's id (the merged tracking result).

    Tracks without an identity (too short for the crops stage) keep a label of their own, above every
    identity id. Should an identity hold two boxes in one frame (possible only with cooccurrence_veto > 1),
    the higher-scoring box is kept, as a tracker would report one box per id and frame.
    """
    ids = np.unique(rows.track_ids)
    known = np.array([t in identity_of for t in ids.tolist()], dtype=bool)
    labels = np.empty(len(ids), dtype=np.int64)
    labels[known] = [identity_of[t] for t in ids[known].tolist()]
    labels[~known] = max(identity_of.values(), default=0) + 1 + np.arange(int((~known).sum()))
    new_ids = labels[np.searchsorted(ids, rows.track_ids)]
    order = np.argsort(-rows.scores, kind="stable")
    _, first = np.unique(np.stack([rows.frames[order], new_ids[order]]), axis=1, return_index=True)
    keep = np.sort(order[first])
    return TrackRows(rows.frames[keep], new_ids[keep], rows.boxes[keep], rows.scores[keep])


def evaluate_identities(
    video: str,
    gt: TrackRows,
    rows: TrackRows,
    clusters: Clusters,
    settings: EvaluateSettings = EvaluateSettings(),
    ground_truth: str = "",
    vid_stride: int = 1,
    frame_count: int | None = None,
) -> Evaluation:
    """Scores of the raw tracks and of the tracks relabelled by identity, on the frames the ground truth spans
    that the tracker processed (``vid_stride``, ``frame_count``: as in tracks.npz's meta).

    ``gt`` and ``rows`` use the video's 0-based frames (``formats.mot.read_mot`` converts MOTChallenge's 1-based ones).
    The span runs from the first to the last frame with a ground-truth box (confidence-0 rows ignored);
    frames inside it without any box count too (their tracked boxes are false positives).
    ``ground_truth`` names the ground-truth file in error messages.

    Examples:
        >>> from reidflow import evaluate
        >>> from reidflow.formats.clusters import read_clusters
        >>> from reidflow.formats.mot import read_mot
        >>> from reidflow.formats.tracks import read_tracks
        >>> tracks = read_tracks("results/vtest/tracks.npz")
        >>> record = evaluate.evaluate_identities(
        ...     "vtest", read_mot("gt.txt"), tracks.rows, read_clusters("results/vtest/clusters.json"),
        ...     evaluate.EvaluateSettings(iou_threshold=0.5), ground_truth="gt.txt",
        ...     vid_stride=tracks.meta.vid_stride, frame_count=tracks.meta.info.frame_count)
        >>> record.raw["idf1"], record.merged["idf1"]
        (0.61, 0.74)
    """
    gt = annotated(gt)
    if len(gt) == 0:
        raise EvaluateError(
            f"{ground_truth}: the ground truth has no rows (other than confidence-0 ones); fix the file or remove "
            f"'gt' for video {video!r}"
        )
    first, last = int(gt.frames.min()), int(gt.frames.max())
    frames = processed_frames(first, last, vid_stride, frame_count)
    if len(frames) == 0:
        decoded = f" up to frame {frame_count}" if frame_count is not None else ""
        raise EvaluateError(
            f"{ground_truth}: the ground truth spans MOTChallenge frames {first + 1}-{last + 1}, but the tracker "
            f"processed none of them (one frame in {vid_stride} from frame 1{decoded}); fix 'gt' of video {video!r}"
        )
    raw = mot_scores(gt, rows, settings.iou_threshold, frames)
    merged = mot_scores(gt, relabel(rows, clusters.identity_of()), settings.iou_threshold, frames)
    return Evaluation(
        video=video,
        ground_truth=str(ground_truth),
        frames=len(frames),
        iou_threshold=float(settings.iou_threshold),
        raw=_plain_scores(raw),
        merged=_plain_scores(merged),
    )


def _plain_scores(scores: MotScores) -> dict[str, float | int | None]:
    """NaN (e.g. precision without any box) becomes None: JSON has no NaN."""
    return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in asdict(scores).items()}
