"""Numbers both pages show: a video's duration and the MOT scores before and after merging."""

from __future__ import annotations

import math
from dataclasses import dataclass

from reidflow.formats.evaluation import Evaluation
from reidflow.formats.tracks import VideoInfo

EVALUATION_METRICS = (  # (key, label, shown as percent, higher is better)
    ("mota", "MOTA", True, True),
    ("idf1", "IDF1", True, True),
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
    rows = []
    for key, label, percent, higher_is_better in EVALUATION_METRICS:
        if key not in evaluation.raw or key not in evaluation.merged:
            continue
        raw, merged = evaluation.raw[key], evaluation.merged[key]
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
