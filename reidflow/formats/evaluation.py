"""``evaluation.json`` (stage ``evaluate``, one per video with ground truth) and ``results/people/evaluation.json``
(stage ``evaluate_people``, across videos): the records Evaluation and PeopleEvaluation, field by field.

Scores (``raw``, ``merged``, ``raw_persons``, ``merged_persons``): mota, idf1, id_switches, num_ids, precision,
recall (motmetrics, at ``iou_threshold``) and hota, deta, assa (as TrackEval, averaged over IoU 0.05..0.95);
None where undefined (e.g. precision without any box; JSON has no NaN).

Pair scores (``pairs``, ``pairs_persons``, ``links``): precision, recall (None: undefined), true_pairs,
predicted, actual (pair counts), scored, unscored (items with / without a ground-truth match); see
``reidflow.evaluate.pair_scores`` and ``cross_video_links``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from reidflow.formats.base import build_record, read_json, write_json

# 2: HOTA, DetA, AssA; per-person scores (the sheet's persons column); pair scores
EVALUATION_FORMAT_VERSION = 2
PEOPLE_EVALUATION_FORMAT_VERSION = 1

Scores = dict[str, float | int | None]


@dataclass(frozen=True)
class Evaluation:
    """``evaluation.json``: scores of the raw tracks and of the tracks relabelled by identity.

    Per trajectory (the ground truth's MOTChallenge ids): ``raw``, ``merged`` and ``pairs`` (the identities'
    same-person decisions on track pairs). Per person (re-entries share one id; only when the sheet gives a
    ``persons`` file, else None): ``raw_persons``, ``merged_persons``, ``pairs_persons``.
    """

    video: str
    ground_truth: str
    frames: int
    iou_threshold: float
    raw: Scores
    merged: Scores
    pairs: dict[str, Any] | None = None
    persons: str | None = None  # the persons file (gt_id,person)
    raw_persons: Scores | None = None
    merged_persons: Scores | None = None
    pairs_persons: dict[str, Any] | None = None
    format_version: int = EVALUATION_FORMAT_VERSION


def write_evaluation(path: str | os.PathLike, evaluation: Evaluation) -> None:
    write_json(path, evaluation)


def read_evaluation(path: str | os.PathLike) -> Evaluation:
    raw = read_json(path, "evaluate", EVALUATION_FORMAT_VERSION)
    return build_record(path, "evaluate", lambda: Evaluation(**raw))


@dataclass(frozen=True)
class PeopleEvaluation:
    """``results/people/evaluation.json``: the cross-video links of people.json against the ground truth.

    ``videos``: the videos scored (those with gt and persons), ``ground_truth``: their files
    ({video: {"gt": path, "persons": path}}), ``links``: pair scores over identities of different videos,
    ``labels``: each identity of those videos (``<video>:<identity>``) -> the person its boxes show most
    (None: no box matched the ground truth; left out of the pairs).
    """

    videos: list[str]
    ground_truth: dict[str, dict[str, str]]
    iou_threshold: float
    links: dict[str, Any]
    labels: dict[str, str | None]
    format_version: int = PEOPLE_EVALUATION_FORMAT_VERSION


def write_people_evaluation(path: str | os.PathLike, evaluation: PeopleEvaluation) -> None:
    write_json(path, evaluation)


def read_people_evaluation(path: str | os.PathLike) -> PeopleEvaluation:
    raw = read_json(path, "evaluate_people", PEOPLE_EVALUATION_FORMAT_VERSION)
    return build_record(path, "evaluate_people", lambda: PeopleEvaluation(**raw))
