"""Numbers both pages show: a video's duration and the MOT scores before and after merging, per trajectory and
(when the sheet gives a persons file) per person, with the identities' pairwise same-person decisions."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reidflow.formats.evaluation import Evaluation
from reidflow.formats.tracks import VideoInfo

EVALUATION_METRICS = (  # (key, label, shown as percent, higher is better)
    ("mota", "MOTA", True, True),
    ("idf1", "IDF1", True, True),
    ("hota", "HOTA", True, True),
    ("deta", "DetA (detection)", True, True),
    ("assa", "AssA (association)", True, True),
    ("id_switches", "ID switches", False, False),
    ("num_ids", "IDs", False, None),
    ("precision", "precision", True, True),
    ("recall", "recall", True, True),
)


def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def video_duration(info: VideoInfo) -> str:
    """The video's length as m:ss (h:mm:ss), "?" when its frame rate is unknown."""
    return format_duration(info.frame_count / info.fps if info.fps > 0 else float("nan"))


@dataclass(frozen=True)
class EvaluationRow:
    label: str
    raw: str
    merged: str
    change: str
    better: bool | None  # None: no direction (or no change)


def evaluation_rows(evaluation: Evaluation) -> list[EvaluationRow]:
    """The scores per trajectory (the ground truth's MOTChallenge ids), raw tracks against identities."""
    return score_rows(evaluation.raw, evaluation.merged)


def score_rows(raw_scores: Mapping[str, Any], merged_scores: Mapping[str, Any]) -> list[EvaluationRow]:
    rows = []
    for key, label, percent, higher_is_better in EVALUATION_METRICS:
        if key not in raw_scores or key not in merged_scores:
            continue
        raw, merged = raw_scores[key], merged_scores[key]
        if raw is None or merged is None:  # undefined, e.g. precision without any box
            rows.append(EvaluationRow(label, _maybe(raw, percent), _maybe(merged, percent), "–", None))
            continue
        delta = merged - raw
        if percent:
            shown = (f"{100 * raw:.1f} %", f"{100 * merged:.1f} %", f"{100 * delta:+.1f} pt")
        else:
            shown = (f"{raw:.0f}", f"{merged:.0f}", f"{delta:+.0f}")
        better = None if higher_is_better is None or delta == 0 else (delta > 0) == higher_is_better
        rows.append(EvaluationRow(label, *shown, better))
    return rows


def _maybe(value: float | None, percent: bool) -> str:
    if value is None:
        return "–"
    return f"{100 * value:.1f} %" if percent else f"{value:.0f}"


PER_TRAJECTORY = "per trajectory (MOTChallenge ids)"
PER_PERSON = "per person (re-entries share one id)"


@dataclass(frozen=True)
class EvaluationTable:
    """One scoring of a video: its scores before/after merging and the identities' pair decisions."""

    kind: str  # "trajectory" or "person"
    scoring: str  # PER_TRAJECTORY or PER_PERSON
    note: str
    rows: list[EvaluationRow]
    pairs: str  # one line: precision and recall of the same-person decisions over track pairs


def evaluation_tables(evaluation: Evaluation) -> list[EvaluationTable]:
    """Per trajectory, and per person when the sheet gave a persons file: what the video page shows.

    Examples:
        >>> [t.scoring for t in evaluation_tables(read_evaluation("results/vtest/evaluation.json"))]
        ['per trajectory (MOTChallenge ids)', 'per person (re-entries share one id)']
    """
    tables = [
        EvaluationTable(
            "trajectory",
            PER_TRAJECTORY,
            "Ground-truth ids as MOTChallenge gives them: a person who leaves and comes back is a new id, so "
            "joining the two visits counts as an error here.",
            evaluation_rows(evaluation),
            pair_summary(evaluation.pairs, "ground-truth trajectory"),
        )
    ]
    if evaluation.raw_persons is not None and evaluation.merged_persons is not None:
        tables.append(
            EvaluationTable(
                "person",
                PER_PERSON,
                f"Ground-truth ids joined by {evaluation.persons}: every visit of one person is one id, so "
                "joining re-entries counts as right.",
                score_rows(evaluation.raw_persons, evaluation.merged_persons),
                pair_summary(evaluation.pairs_persons, "ground-truth person"),
            )
        )
    return tables


def pair_summary(pairs: Mapping[str, Any] | None, truth: str) -> str:
    """Precision and recall of "same identity" against "same ``truth``" over pairs of matched tracks."""
    if not pairs:
        return ""
    unmatched = f"; {pairs['unscored']} track(s) matching no ground truth left out" if pairs["unscored"] else ""
    return (
        f"Track pairs joined in one identity: precision {_maybe(pairs['precision'], True)} "
        f"({pairs['true_pairs']} of {pairs['predicted']} joined pairs are one {truth}), recall "
        f"{_maybe(pairs['recall'], True)} ({pairs['true_pairs']} of {pairs['actual']} pairs of one {truth} "
        f"joined); {pairs['scored']} tracks matched{unmatched}."
    )
