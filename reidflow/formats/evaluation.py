"""``evaluation.json`` (stage ``evaluate``): the record Evaluation, field by field."""

from __future__ import annotations

import os
from dataclasses import dataclass

from reidflow.formats.base import build_record, read_json, write_json

EVALUATION_FORMAT_VERSION = 1


@dataclass(frozen=True)
class Evaluation:
    """``evaluation.json``: MOT scores of the raw tracks and of the tracks relabelled by identity.

    ``raw`` and ``merged`` hold mota, idf1, id_switches, num_ids, precision, recall.
    """

    video: str
    ground_truth: str
    frames: int
    iou_threshold: float
    raw: dict[str, float | int | None]  # None: undefined (e.g. precision without any box)
    merged: dict[str, float | int | None]
    format_version: int = EVALUATION_FORMAT_VERSION


def write_evaluation(path: str | os.PathLike, evaluation: Evaluation) -> None:
    write_json(path, evaluation)


def read_evaluation(path: str | os.PathLike) -> Evaluation:
    raw = read_json(path, "evaluate", EVALUATION_FORMAT_VERSION)
    return build_record(path, "evaluate", lambda: Evaluation(**raw))
