"""Stage ``evaluate``: tracking quality against MOTChallenge ground truth, for the raw tracks and for the tracks
relabelled by the identities of ``cluster``; and (``evaluate_people``) the cross-video links of ``people``.

Two scorings: *per trajectory* uses the ground truth's ids as they are (MOTChallenge gives a person a new id
each time they re-enter the scene), *per person* first relabels them by a persons file
(``person_ground_truth``), so that a re-entry joined to the earlier visit counts as right.

Scores: MOTA, IDF1, ID switches, precision and recall via motmetrics; HOTA, DetA and AssA (``hota_scores``)
computed here exactly as TrackEval computes them (tests/test_evaluate.py checks them against the
``trackeval`` package); pairwise precision and recall of "same person" decisions (``pair_scores``,
``cross_video_links``). Boxes are matched on IoU computed here on reidflow's x1, y1, x2, y2 boxes
(motmetrics' ``iou_matrix`` wants x, y, w, h and calls ``np.asfarray``, which NumPy 2 removed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import motmetrics
import numpy as np
from scipy.optimize import linear_sum_assignment

from reidflow import ReidflowError, pieces
from reidflow.formats.clusters import Clusters
from reidflow.formats.evaluation import Evaluation, PeopleEvaluation
from reidflow.formats.tracks import TrackRows
from reidflow.settings import EvaluateSettings

# TrackEval's localisation thresholds: HOTA, DetA and AssA are the means over these 19 values.
HOTA_ALPHAS = np.arange(0.05, 0.99, 0.05)
_EPS = np.finfo(float).eps


class EvaluateError(ReidflowError):
    pass


@dataclass(frozen=True)
class MotScores:
    mota: float
    idf1: float
    id_switches: int
    num_ids: int
    precision: float
    recall: float
    hota: float  # TrackEval's HOTA, DetA, AssA (hota_scores)
    deta: float
    assa: float


@dataclass(frozen=True)
class HotaScores:
    """TrackEval's HOTA, DetA and AssA, each the mean over ``HOTA_ALPHAS``."""

    hota: float
    deta: float
    assa: float


def mot_scores(
    gt: TrackRows,
    hyp: TrackRows,
    iou_threshold: float = EvaluateSettings.iou_threshold,
    frames: np.ndarray | None = None,
) -> MotScores:
    """Score ``hyp`` against ``gt`` on ``frames`` (default: every frame that has ground truth).

    Ground-truth rows with score 0 (MOTChallenge's "ignore" flag) are dropped. ``iou_threshold`` is the
    matching threshold of MOTA, IDF1, ID switches, precision and recall; HOTA averages over its own
    thresholds (``HOTA_ALPHAS``), as TrackEval does. For scores per person pass
    ``person_ground_truth(gt, persons)`` as ``gt``.

    Examples:
        >>> from reidflow.evaluate import mot_scores, person_ground_truth, relabel
        >>> scores = mot_scores(person_ground_truth(gt, persons), relabel(rows, identity_of), 0.5, frames)
        >>> scores.idf1, scores.hota, scores.mota, scores.id_switches
        (0.86, 0.71, 0.66, 2)
    """
    gt = annotated(gt)
    if frames is None:
        frames = np.unique(gt.frames)
    # rows sorted by frame once: each frame's rows are a slice, not a scan of every row
    gt, hyp = gt.sorted(), hyp.sorted()
    gt_at, hyp_at = _frame_slices(gt, frames), _frame_slices(hyp, frames)
    acc = motmetrics.MOTAccumulator(auto_id=False)
    for frame, g, h in zip(frames, gt_at, hyp_at):
        dist = iou_distances(gt.boxes[g], hyp.boxes[h], iou_threshold)
        acc.update(gt.track_ids[g].tolist(), hyp.track_ids[h].tolist(), dist, frameid=int(frame))
    summary = motmetrics.metrics.create().compute(
        acc, metrics=["mota", "idf1", "num_switches", "num_unique_objects", "precision", "recall"], name="all"
    )
    row = summary.loc["all"]
    hota = hota_scores(gt, hyp, frames)
    return MotScores(
        mota=float(row["mota"]),
        idf1=float(row["idf1"]),
        id_switches=int(row["num_switches"]),
        num_ids=int(len(np.unique(hyp.track_ids[np.isin(hyp.frames, frames)]))),
        precision=float(row["precision"]),
        recall=float(row["recall"]),
        hota=hota.hota,
        deta=hota.deta,
        assa=hota.assa,
    )


def _frame_slices(rows: TrackRows, frames: np.ndarray) -> list[slice]:
    """Each frame's rows of ``rows`` (sorted by frame) as a slice."""
    start = np.searchsorted(rows.frames, frames, "left")
    end = np.searchsorted(rows.frames, frames, "right")
    return [slice(a, b) for a, b in zip(start.tolist(), end.tolist())]


def box_ious(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) IoU of x1, y1, x2, y2 boxes, in float64, as TrackEval computes it: 0 for a box
    without area and where the union is empty."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.maximum(hi[..., 0] - lo[..., 0], 0) * np.maximum(hi[..., 1] - lo[..., 1], 0)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    empty = (area_a[:, None] <= _EPS) | (area_b[None, :] <= _EPS) | (union <= _EPS)
    return np.where(empty, 0.0, inter / np.where(union <= _EPS, 1.0, union))


def hota_scores(gt: TrackRows, hyp: TrackRows, frames: np.ndarray | None = None) -> HotaScores:
    """HOTA, DetA and AssA of ``hyp`` against ``gt`` on ``frames`` (default: every frame with ground truth),
    computed as TrackEval's ``metrics.HOTA`` does for one MOTChallenge sequence (MOT15 rules: confidence-0
    ground-truth rows dropped, nothing else).

    For every localisation threshold alpha in ``HOTA_ALPHAS``: each frame's boxes are matched one to one
    (Hungarian) maximising IoU times the global alignment of the two ids (their IoU-weighted co-occurrence
    over the whole sequence); a match counts when its IoU is at least alpha. DetA = TP / (TP + FN + FP);
    AssA = the mean over true positives of TPA / (TPA + FNA + FPA) of their pair of ids; HOTA = sqrt(DetA *
    AssA). Each score is the mean over the alphas. Sparse throughout: only id pairs whose boxes overlap in
    some frame are kept (TrackEval holds ids x ids matrices).

    Examples:
        >>> from reidflow.evaluate import hota_scores
        >>> hota_scores(gt, gt).hota
        1.0
    """
    gt, hyp = annotated(gt).sorted(), hyp.sorted()
    if frames is None:
        frames = np.unique(gt.frames)
    frames = np.asarray(frames, dtype=np.int64)
    gt, hyp = _rows_in(gt, frames), _rows_in(hyp, frames)
    zeros = HotaScores(0.0, 0.0, 0.0)
    if len(gt) == 0 or len(hyp) == 0:
        return zeros
    gt_ids, gt_index = np.unique(gt.track_ids, return_inverse=True)
    hyp_ids, hyp_index = np.unique(hyp.track_ids, return_inverse=True)
    n_hyp = len(hyp_ids)
    gt_count = np.bincount(gt_index, minlength=len(gt_ids)).astype(np.float64)
    hyp_count = np.bincount(hyp_index, minlength=n_hyp).astype(np.float64)

    # pass 1: per frame IoU, and each id pair's IoU-normalised co-occurrence (TrackEval's potential matches)
    per_frame = []
    keys, weights = [], []
    for g, h in zip(_frame_slices(gt, frames), _frame_slices(hyp, frames)):
        if g.start == g.stop or h.start == h.stop:
            continue
        sim = box_ious(gt.boxes[g], hyp.boxes[h])
        gi, hi = gt_index[g], hyp_index[h]
        per_frame.append((gi, hi, sim))
        denom = sim.sum(0)[None, :] + sim.sum(1)[:, None] - sim
        norm = np.zeros_like(sim)
        ok = denom > _EPS
        norm[ok] = sim[ok] / denom[ok]
        r, c = np.nonzero(norm)
        keys.append(gi[r] * n_hyp + hi[c])
        weights.append(norm[r, c])
    if not keys:
        return zeros
    all_keys = np.concatenate(keys)
    pair_keys, inverse = np.unique(all_keys, return_inverse=True)
    # bincount adds in input order (frame by frame), as TrackEval's += does: the same floats
    potential = np.bincount(inverse, weights=np.concatenate(weights), minlength=len(pair_keys))
    pg, ph = pair_keys // n_hyp, pair_keys % n_hyp
    alignment = potential / (gt_count[pg] + hyp_count[ph] - potential)

    # pass 2: per frame Hungarian matching on alignment x IoU; keep each match's IoU and id pair
    match_keys, match_sims = [], []
    for gi, hi, sim in per_frame:
        key = gi[:, None] * n_hyp + hi[None, :]
        at = np.clip(np.searchsorted(pair_keys, key), 0, len(pair_keys) - 1)
        align = np.where(pair_keys[at] == key, alignment[at], 0.0)
        rows, cols = linear_sum_assignment(-(align * sim))
        match_keys.append(key[rows, cols])
        match_sims.append(sim[rows, cols])
    m_keys, m_sims = np.concatenate(match_keys), np.concatenate(match_sims)

    n_gt, n_hyp_dets = float(len(gt)), float(len(hyp))
    det_a, ass_a = np.zeros(len(HOTA_ALPHAS)), np.zeros(len(HOTA_ALPHAS))
    for a, alpha in enumerate(HOTA_ALPHAS):
        hit = m_sims >= alpha - _EPS
        tp = float(hit.sum())
        det_a[a] = tp / max(1.0, tp + (n_gt - tp) + (n_hyp_dets - tp))
        if tp == 0:
            continue
        pair, count = np.unique(m_keys[hit], return_counts=True)
        count = count.astype(np.float64)
        jaccard = count / np.maximum(1.0, gt_count[pair // n_hyp] + hyp_count[pair % n_hyp] - count)
        ass_a[a] = float(np.sum(count * jaccard)) / max(1.0, tp)
    hota = np.sqrt(det_a * ass_a)
    return HotaScores(float(hota.mean()), float(det_a.mean()), float(ass_a.mean()))


def _rows_in(rows: TrackRows, frames: np.ndarray) -> TrackRows:
    keep = np.isin(rows.frames, frames)
    return TrackRows(rows.frames[keep], rows.track_ids[keep], rows.boxes[keep], rows.scores[keep])


def annotated(gt: TrackRows) -> TrackRows:
    """Ground truth without its confidence-0 rows (MOTChallenge's "ignore")."""
    keep = gt.scores != 0
    return TrackRows(gt.frames[keep], gt.track_ids[keep], gt.boxes[keep], gt.scores[keep])


def person_ground_truth(gt: TrackRows, persons: Mapping[int, str], source: str = "") -> TrackRows:
    """The ground truth with one id per person: the trajectories ``persons`` names alike (``read_persons``)
    share one id, so a re-entry is the same person. Confidence-0 rows are dropped, as every score does.

    Ids are 1.. in order of the person names (sorted); every annotated gt id must be in ``persons`` (an id it
    lacks is an error naming it, not a person of its own: a forgotten row would silently score as a new
    person). Two trajectories of one person in the same frame are an error too. ``source`` names the
    persons file in the errors.

    Examples:
        >>> from reidflow.evaluate import person_ground_truth
        >>> from reidflow.formats.mot import read_mot
        >>> from reidflow.formats.persons import read_persons
        >>> gt = read_mot("gt_frames1-400.txt")
        >>> len(set(gt.track_ids)), len(set(person_ground_truth(gt, read_persons("persons.csv")).track_ids))
        (10, 8)
    """
    gt = annotated(gt)
    where = f"{source}: " if source else ""
    ids = np.unique(gt.track_ids)
    lacking = [int(i) for i in ids if int(i) not in persons]
    if lacking:
        shown = ", ".join(map(str, lacking[:20])) + (f" (and {len(lacking) - 20} more)" if len(lacking) > 20 else "")
        raise EvaluateError(
            f"{where}the persons file has no row for ground-truth id(s) {shown}; add a row 'gt_id,person' for each"
        )
    names = sorted({persons[int(i)] for i in ids})
    number = {name: k for k, name in enumerate(names, start=1)}
    labels = np.array([number[persons[int(i)]] for i in ids], dtype=np.int64)
    person_ids = labels[np.searchsorted(ids, gt.track_ids)] if len(ids) else gt.track_ids
    # one person, two trajectories in one frame: the persons file joins two different people
    cells = np.stack([gt.frames, person_ids])
    _, first, counts = np.unique(cells, axis=1, return_index=True, return_counts=True)
    if (counts > 1).any():
        row = int(first[np.argmax(counts > 1)])
        frame, person = int(gt.frames[row]), int(person_ids[row])
        both = sorted(int(i) for i in np.unique(gt.track_ids[(gt.frames == frame) & (person_ids == person)]))
        raise EvaluateError(
            f"{where}ground-truth ids {', '.join(map(str, both))} are both person {names[person - 1]!r} but appear "
            f"together in MOTChallenge frame {frame + 1}; one person cannot be in two places: fix their rows"
        )
    return TrackRows(gt.frames, person_ids, gt.boxes, gt.scores)


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


def relabel(rows: TrackRows, identity_of: Mapping[int, int]) -> TrackRows:
    """Rows with each track's id replaced by its identity's id (the merged tracking result).

    Tracks without an identity (too short for the crops stage) keep a label of their own, above every
    identity id. Should an identity hold two boxes in one frame (one person detected twice, or
    cooccurrence_veto > 1), the higher-scoring box is kept, as a tracker would report one box per id and frame.
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


def matched_ids(
    gt: TrackRows, hyp: TrackRows, iou_threshold: float, frames: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(hyp ids, gt ids) of every box matched in ``frames``: per frame, a one-to-one matching maximising
    the summed IoU over the pairs with IoU >= ``iou_threshold`` (no memory of earlier frames)."""
    gt, hyp = annotated(gt).sorted(), hyp.sorted()
    if frames is None:
        frames = np.unique(gt.frames)
    out_hyp, out_gt = [], []
    for g, h in zip(_frame_slices(gt, frames), _frame_slices(hyp, frames)):
        if g.start == g.stop or h.start == h.stop:
            continue
        iou = box_ious(gt.boxes[g], hyp.boxes[h])
        iou = np.where(iou >= iou_threshold, iou, 0.0)
        r, c = linear_sum_assignment(-iou)
        ok = iou[r, c] > 0
        out_gt.append(gt.track_ids[g][r[ok]])
        out_hyp.append(hyp.track_ids[h][c[ok]])
    if not out_gt:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(out_hyp), np.concatenate(out_gt)


def majority(keys: Sequence[Hashable], labels: Sequence[Hashable]) -> dict[Any, Any]:
    """Key -> its most frequent label; a tie goes to the smallest label (labels of one kind: int or str)."""
    counts = Counter(zip(keys, labels))
    best: dict[Any, Any] = {}
    for (key, label), _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][1])):
        best.setdefault(key, label)
    return best


@dataclass(frozen=True)
class PairScores:
    """Pairwise "same person" decisions: of ``predicted`` pairs joined by reidflow, ``true_pairs`` are one
    person in the ground truth (precision), of the ``actual`` pairs that are one person, ``true_pairs`` were
    joined (recall). None: undefined (no pair predicted / none actual). ``scored``: items with a
    ground-truth match (the pairs are theirs); ``unscored``: items without one (left out)."""

    precision: float | None
    recall: float | None
    true_pairs: int
    predicted: int
    actual: int
    scored: int
    unscored: int


def link_scores(
    predicted: Sequence[Hashable], actual: Sequence[Hashable], groups: Sequence[Hashable] | None = None
) -> tuple[float | None, float | None, int, int, int]:
    """(precision, recall, true, predicted, actual pairs) of items labelled ``predicted`` (reidflow's
    grouping) against ``actual`` (the truth), over all pairs of items, or with ``groups`` (e.g. the video of
    each item) only pairs from different groups. Counted per label, never pair by pair: O(items)."""

    def pairs(labels: Sequence[Hashable]) -> int:
        total = sum(n * (n - 1) // 2 for n in Counter(labels).values())
        if groups is not None:
            total -= sum(n * (n - 1) // 2 for n in Counter(zip(labels, groups)).values())
        return total

    n_pred, n_act = pairs(predicted), pairs(actual)
    n_true = pairs(list(zip(predicted, actual)))
    return (n_true / n_pred if n_pred else None, n_true / n_act if n_act else None, n_true, n_pred, n_act)


def pair_scores(
    gt: TrackRows,
    rows: TrackRows,
    identity_of: Mapping[int, int],
    persons: Mapping[int, str] | None = None,
    iou_threshold: float = EvaluateSettings.iou_threshold,
    frames: np.ndarray | None = None,
) -> PairScores:
    """Precision and recall of the identities' "same person" decisions over pairs of tracks.

    Each track of ``rows`` is matched to the ground-truth id its boxes match most often on ``frames``
    (``matched_ids``; a tie goes to the smaller id); tracks that match none are left out (``unscored``). Over
    every pair of the other tracks: predicted same = both in one identity of ``identity_of`` (a track in no
    identity is alone); actually same = the same ground-truth trajectory, or with ``persons`` the same
    person (``person_ground_truth``: a re-entry joined to the earlier visit is right).
    precision = true / predicted pairs, recall = true / actual pairs.

    Examples:
        >>> from reidflow.evaluate import pair_scores
        >>> scores = pair_scores(gt, rows, clusters.identity_of(), persons, 0.5, frames)
        >>> scores.precision, scores.recall
        (1.0, 0.8)
    """
    truth = person_ground_truth(gt, persons) if persons is not None else annotated(gt)
    hyp_ids, gt_ids = matched_ids(truth, rows, iou_threshold, frames)
    label = majority(hyp_ids.tolist(), gt_ids.tolist())
    shown = rows.track_ids if frames is None else rows.track_ids[np.isin(rows.frames, frames)]
    tracks = sorted(label)
    groups = [identity_of.get(t, ("track", t)) for t in tracks]
    precision, recall, n_true, n_pred, n_act = link_scores(groups, [label[t] for t in tracks])
    return PairScores(precision, recall, n_true, n_pred, n_act, len(tracks), len(set(shown.tolist())) - len(tracks))


def identity_persons(
    gt: TrackRows,
    rows: TrackRows,
    identity_of: Mapping[int, int],
    persons: Mapping[int, str],
    iou_threshold: float = EvaluateSettings.iou_threshold,
    frames: np.ndarray | None = None,
) -> dict[int, str]:
    """Identity id -> the person (name in ``persons``) most of its tracks' matched boxes show (``matched_ids``
    on the raw tracks; a tie goes to the name first in sorting). Identities without a matched box are absent."""
    hyp_ids, gt_ids = matched_ids(annotated(gt), rows, iou_threshold, frames)
    lacking = sorted({int(g) for g in gt_ids.tolist() if int(g) not in persons})
    if lacking:
        raise EvaluateError(
            f"the persons file has no row for ground-truth id(s) {', '.join(map(str, lacking))}; add one for each"
        )
    keep = [(identity_of[h], persons[g]) for h, g in zip(hyp_ids.tolist(), gt_ids.tolist()) if h in identity_of]
    return majority([k for k, _ in keep], [p for _, p in keep])


def cross_video_links(person_of: Mapping[str, int], labels: Mapping[str, str]) -> PairScores:
    """Precision and recall of the cross-video links of ``people``: over every pair of identities of
    *different* videos that ``labels`` (identity key ``<video>:<identity>`` -> ground-truth person name,
    ``identity_persons``) scores, predicted same = one person of ``person_of`` (people.json), actually same =
    the same person name. Names are compared as strings across videos. Identities of ``person_of`` without
    a label are left out (``unscored``, counted among the videos of ``labels``).

    Examples:
        >>> from reidflow.evaluate import cross_video_links
        >>> cross_video_links({"a:1": 1, "b:1": 1, "b:2": 2}, {"a:1": "B", "b:1": "B", "b:2": "A"}).precision
        1.0
    """
    keys = sorted(labels)
    absent = [k for k in keys if k not in person_of]
    if absent:
        raise EvaluateError(
            f"identities {', '.join(absent[:10])} are not in people.json: it is older than their clusters.json; "
            "run `snakemake` again, which rebuilds it"
        )
    videos = [k.rsplit(":", 1)[0] for k in keys]
    precision, recall, n_true, n_pred, n_act = link_scores(
        [person_of[k] for k in keys], [labels[k] for k in keys], videos
    )
    scored_videos = set(videos)
    unscored = sum(1 for k in person_of if k.rsplit(":", 1)[0] in scored_videos and k not in labels)
    return PairScores(precision, recall, n_true, n_pred, n_act, len(keys), unscored)


def evaluation_frames(
    video: str, gt: TrackRows, ground_truth: str = "", vid_stride: int = 1, frame_count: int | None = None
) -> np.ndarray:
    """The frames a video is scored on: from the first to the last frame with a ground-truth box
    (confidence-0 rows ignored), those the tracker processed (``vid_stride``, ``frame_count``: as in
    tracks.npz's meta). Frames inside the span without any box count too (tracked boxes there are false
    positives). ``ground_truth`` names the ground-truth file in errors."""
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
    return frames


def claimed_rows(piece_rows: TrackRows, clusters: Clusters) -> TrackRows:
    """The detections of the pieces in an identity (``piece_rows``: by piece, ``pieces.split_rows``): what
    identities.txt delivers. Tracks in no identity (too short, flagged as not a person) are not claimed as
    anybody, so they are not scored as people of their own."""
    identity_of = clusters.identity_of()
    keep = np.isin(piece_rows.track_ids, np.fromiter(identity_of, dtype=np.int64, count=len(identity_of)))
    r = piece_rows
    return TrackRows(r.frames[keep], r.track_ids[keep], r.boxes[keep], r.scores[keep])


def evaluate_identities(
    video: str,
    gt: TrackRows,
    rows: TrackRows,
    clusters: Clusters,
    settings: EvaluateSettings = EvaluateSettings(),
    ground_truth: str = "",
    vid_stride: int = 1,
    frame_count: int | None = None,
    persons: Mapping[int, str] | None = None,
    persons_file: str = "",
    filled: TrackRows | None = None,
) -> Evaluation:
    """Scores of the raw tracks (every detection, the tracker's ids) and of the identities (the detections of
    tracks in an identity, relabelled by it, and ``filled``, the boxes filling their gaps: identities.npz's
    ``filled``; together what identities.txt holds), on ``evaluation_frames``; pairs are pairs of pieces
    (tracks cut at identity switches: ``clusters.cuts``).

    ``raw``/``merged`` score per trajectory (the ground truth's ids), ``pairs`` the identities' same-person
    decisions on track pairs against trajectories (``pair_scores``). With ``persons`` (``read_persons`` of
    ``persons_file``) the same again per person (``raw_persons``, ``merged_persons``, ``pairs_persons``): a
    re-entry joined to the earlier visit counts as right.

    ``gt`` and ``rows`` use the video's 0-based frames (``formats.mot.read_mot`` converts MOTChallenge's 1-based ones).
    ``ground_truth`` names the ground-truth file in error messages.

    Examples:
        >>> from reidflow import evaluate
        >>> from reidflow.formats.clusters import read_clusters
        >>> from reidflow.formats.identities import read_identities
        >>> from reidflow.formats.mot import read_mot
        >>> from reidflow.formats.persons import read_persons
        >>> from reidflow.formats.tracks import read_tracks
        >>> tracks = read_tracks("results/vtest/tracks.npz")
        >>> record = evaluate.evaluate_identities(
        ...     "vtest", read_mot("gt.txt"), tracks.rows, read_clusters("results/vtest/clusters.json"),
        ...     evaluate.EvaluateSettings(iou_threshold=0.5), ground_truth="gt.txt",
        ...     vid_stride=tracks.meta.vid_stride, frame_count=tracks.meta.info.frame_count,
        ...     persons=read_persons("persons.csv"), persons_file="persons.csv",
        ...     filled=read_identities("results/vtest/identities.npz").filled)
        >>> record.raw["idf1"], record.merged["idf1"], record.merged_persons["hota"]
        (0.61, 0.74, 0.66)
    """
    frames = evaluation_frames(video, gt, ground_truth, vid_stride, frame_count)
    threshold = settings.iou_threshold
    identity_of = clusters.identity_of()
    # identities are made of pieces: the tracks, cut where the similarity stage found an identity switch
    piece_rows = pieces.split_rows(rows, clusters.cuts)
    merged_rows = relabel(claimed_rows(piece_rows, clusters), identity_of)
    if filled is not None:
        merged_rows = TrackRows.concatenate([merged_rows, filled])
    by_person: dict[str, Any] = {}
    if persons is not None:
        truth = person_ground_truth(gt, persons, persons_file)
        by_person = {
            "persons": str(persons_file),
            "raw_persons": _plain_scores(mot_scores(truth, rows, threshold, frames)),
            "merged_persons": _plain_scores(mot_scores(truth, merged_rows, threshold, frames)),
            "pairs_persons": _plain(pair_scores(truth, piece_rows, identity_of, None, threshold, frames)),
        }
    return Evaluation(
        video=video,
        ground_truth=str(ground_truth),
        frames=len(frames),
        iou_threshold=float(threshold),
        raw=_plain_scores(mot_scores(gt, rows, threshold, frames)),
        merged=_plain_scores(mot_scores(gt, merged_rows, threshold, frames)),
        pairs=_plain(pair_scores(gt, piece_rows, identity_of, None, threshold, frames)),
        **by_person,
    )


@dataclass(frozen=True)
class VideoTruth:
    """One video's part in ``evaluate_people``: its ground truth and persons, tracks, identities and frames."""

    gt: TrackRows
    persons: Mapping[int, str]
    rows: TrackRows  # the video's detections by piece (pieces.split_rows with clusters.json's cuts)
    identity_of: Mapping[int, int]
    frames: np.ndarray
    ground_truth: str = ""
    persons_file: str = ""


def evaluate_people(
    person_of: Mapping[str, int],
    videos: Mapping[str, VideoTruth],
    iou_threshold: float = EvaluateSettings.iou_threshold,
) -> PeopleEvaluation:
    """Pairwise precision and recall of the cross-video links of ``people`` (``person_of``: people.json's
    identity key -> person id) against the ground truth of ``videos``: each identity is matched to the
    person its boxes show most often (``identity_persons``), then ``cross_video_links``.

    Examples:
        >>> from reidflow import evaluate, pieces
        >>> from reidflow.formats.people import read_people
        >>> rows_a, rows_b = pieces.split_rows(tracks_a.rows, clusters_a.cuts), pieces.split_rows(tracks_b.rows, clusters_b.cuts)
        >>> record = evaluate.evaluate_people(read_people("results/people/people.json").person_of(), {
        ...     "a": evaluate.VideoTruth(gt_a, persons_a, rows_a, clusters_a.identity_of(), frames_a),
        ...     "b": evaluate.VideoTruth(gt_b, persons_b, rows_b, clusters_b.identity_of(), frames_b)})
        >>> record.links["precision"], record.links["recall"]
        (1.0, 1.0)
    """
    labels: dict[str, str] = {}
    for video, truth in videos.items():
        try:
            found = identity_persons(
                truth.gt, truth.rows, truth.identity_of, truth.persons, iou_threshold, truth.frames
            )
        except EvaluateError as err:
            raise EvaluateError(f"{truth.persons_file or video}: {err}") from None
        labels.update({f"{video}:{identity}": person for identity, person in found.items()})
    links = cross_video_links(person_of, labels)
    scored = set(videos)
    keys = sorted((k for k in person_of if k.rsplit(":", 1)[0] in scored), key=_key_order)
    return PeopleEvaluation(
        videos=list(videos),
        ground_truth={v: {"gt": t.ground_truth, "persons": t.persons_file} for v, t in videos.items()},
        iou_threshold=float(iou_threshold),
        links=_plain(links),
        labels={k: labels.get(k) for k in keys},
    )


def _key_order(key: str) -> tuple[str, int]:
    video, identity = key.rsplit(":", 1)
    return video, int(identity)


def _plain(record: Any) -> dict[str, Any]:
    """A record as a JSON object; NaN (an undefined score) becomes None: JSON has no NaN."""
    return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in asdict(record).items()}


def _plain_scores(scores: MotScores) -> dict[str, float | int | None]:
    return _plain(scores)
