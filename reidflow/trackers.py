"""The trackers reidflow runs (ultralytics' ByteTrack and BoT-SORT) and what config
``track.tracker_params`` may set on them.

Kept apart from ``reidflow.track`` so that the Snakefile can check the config when it is parsed
without importing OpenCV (planning many videos pays for every import).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reidflow.settings import ConfigError

__all__ = ["TRACKERS", "TRACKER_PARAMS", "TrackerParam", "check_tracker_params"]

TRACKERS = ("bytetrack", "botsort")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_fraction(value: Any) -> bool:
    return _is_number(value) and 0 <= value <= 1  # NaN fails both comparisons


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


GMC_METHODS = ("sparseOptFlow", "orb", "sift", "ecc", "none")


@dataclass(frozen=True)
class TrackerParam:
    """What one ultralytics tracker parameter may be set to (its default: ``cfg/trackers/<tracker>.yaml``)."""

    accepts: Callable[[Any], bool]
    expected: str  # completes "must be ..." in the error message
    trackers: tuple[str, ...] = TRACKERS


# The settable keys of config track.tracker_params, checked when the workflow is parsed and again by
# tracker_params(). ultralytics validates none of them: a bad value only shows as odd tracks or a crash.
TRACKER_PARAMS: dict[str, TrackerParam] = {
    "track_high_thresh": TrackerParam(_is_fraction, "a number in [0, 1]"),
    "track_low_thresh": TrackerParam(_is_fraction, "a number in [0, 1]"),
    "new_track_thresh": TrackerParam(_is_fraction, "a number in [0, 1]"),
    "track_buffer": TrackerParam(_is_count, "an integer >= 1"),
    "match_thresh": TrackerParam(_is_fraction, "a number in [0, 1]"),
    "fuse_score": TrackerParam(lambda v: isinstance(v, bool), "true or false"),
    "gmc_method": TrackerParam(lambda v: v in GMC_METHODS, f"one of {', '.join(GMC_METHODS)}", ("botsort",)),
    "proximity_thresh": TrackerParam(_is_fraction, "a number in [0, 1]", ("botsort",)),
    "appearance_thresh": TrackerParam(_is_fraction, "a number in [0, 1]", ("botsort",)),
    "with_reid": TrackerParam(
        lambda v: v is False,
        "false: with_reid is not supported (reidflow's own ReID stages merge tracks)",
        ("botsort",),
    ),
}


def check_tracker_params(name: str, overrides: dict[str, Any]) -> None:
    """Refuse a tracker or a ``track.tracker_params`` entry that ``TRACKER_PARAMS`` does not accept."""
    if name not in TRACKERS:
        raise ConfigError(f"config: track.tracker: tracker {name!r} is not supported; use one of {', '.join(TRACKERS)}")
    known = sorted(key for key, param in TRACKER_PARAMS.items() if name in param.trackers)
    unknown = sorted(set(overrides) - set(known), key=str)
    if unknown:
        raise ConfigError(
            f"config: track.tracker_params: unknown {name} parameter(s) {', '.join(map(str, unknown))}; "
            f"known: {', '.join(known)}"
        )
    for key, value in overrides.items():
        param = TRACKER_PARAMS[key]
        if not param.accepts(value):
            raise ConfigError(f"config: track.tracker_params.{key} = {value!r}: must be {param.expected}")
