"""The settings of every stage: one frozen dataclass per stage, its fields the keys its results depend on.

A stage's config section holds its settings and, listed in ``RUN_KEYS``, keys about how the rule runs
(``threads``, the weights file, the overrides file), which the rules read themselves.

Defaults are written once for Python callers: here. ``config/config.yaml`` and the ``default:`` of
``config/schemas/config.schema.yaml`` are the user-facing copies; tests/test_settings.py checks that the
three agree, key by key.

Every rule passes its stage's settings as one param named after the stage (``stage_params`` in
rules/common.smk, so changing a setting reruns that stage and what follows), and every script builds
them the same way::

    settings = ClusterSettings.from_config(smk.params.cluster)

Light on purpose (standard library only): the Snakefile imports it while the workflow is parsed.

Examples:
    >>> from reidflow.settings import ClusterSettings, stage_settings
    >>> ClusterSettings(distance_threshold=0.3).linkage
    'average'
    >>> stage_settings("similarity", {"aggregation": "max", "topk": 5, "split_below": 0.6}).split_below
    0.6
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar

from reidflow import ReidflowError

S = TypeVar("S", bound="StageSettings")


class ConfigError(ReidflowError):
    """A config value no job could run with; the message names the key."""


# Fields marked so are settings (Python callers pass them) but not rule params: results do not depend on
# them, so changing them reruns nothing.
NOT_A_PARAM = {"param": False}


class StageSettings:
    """What every stage's settings class can do; subclasses are frozen dataclasses."""

    @classmethod
    def from_config(cls: type[S], section: Mapping[str, Any], **changes: Any) -> S:
        """The settings in ``section`` (a config section or a rule's param) with ``changes`` on top.

        Keys of the section that are no setting (``RUN_KEYS``) are left out; a missing one keeps its default.
        """
        values = {**section, **changes}
        return cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})  # type: ignore[arg-type]  # subclasses are dataclasses

    @classmethod
    def params(cls, section: Mapping[str, Any]) -> dict[str, Any]:
        """The settings of a config section that results depend on: a rule's param."""
        return {f.name: section[f.name] for f in fields(cls) if f.metadata.get("param", True)}  # type: ignore[arg-type]


@dataclass(frozen=True)
class TrackSettings(StageSettings):
    """Stage ``track``: the person detector and the tracker (config section ``track``)."""

    backend: str = "auto"  # the meaning of auto: reidflow.backends
    device: str = "auto"
    half: bool = False
    imgsz: int = 640
    conf: float = 0.1  # low on purpose: ByteTrack's second association uses low-score boxes
    iou: float = 0.7
    max_det: int = 300
    batch: int = 4
    vid_stride: int = 1
    on_truncated: str = "warn"
    tracker: str = "bytetrack"
    tracker_params: Mapping[str, Any] = field(default_factory=dict)  # checked by reidflow.trackers.check_tracker_params


@dataclass(frozen=True)
class QualityWeights(StageSettings):
    """Weights of the crop quality terms (config ``crops.weights``); their sum must be positive."""

    confidence: float = 1.0
    area: float = 1.0
    aspect: float = 1.0
    truncation: float = 1.0
    sharpness: float = 1.0
    occlusion: float = 1.0

    def __post_init__(self) -> None:
        # quality divides by the sum: all zero would make every crop NaN (checked at parse time, too)
        if not sum(asdict(self).values()) > 0:
            raise ConfigError(
                f"config: crops.weights = {asdict(self)}: the weights must have a positive sum; "
                "give at least one quality term a weight above 0"
            )


@dataclass(frozen=True)
class CropSettings(StageSettings):
    """Stage ``crops``. ``height`` x ``width`` is the one crop size: the ReID model embeds crops as stored. In the
    workflow a model of one input size (``reidflow.appearance.input_size``: clip:, onnx:, hacnn) sets it."""

    min_track_frames: int = 5
    crops_per_person: int = 50
    height: int = 256
    width: int = 128
    resize: str = "stretch"
    border_margin: float = 2.0
    aspect_target: float = 2.5
    aspect_sigma: float = 0.4
    sharpness_scale: float = 100.0
    weights: QualityWeights = field(default_factory=QualityWeights)

    def __post_init__(self) -> None:
        if isinstance(self.weights, Mapping):  # as the config gives it
            object.__setattr__(self, "weights", QualityWeights(**self.weights))


@dataclass(frozen=True)
class FeatureSettings(StageSettings):
    """Stage ``features``; ``model``: a torchreid name, ``clip:<arch>`` or ``onnx:<file>`` (``reidflow.appearance``);
    the input size is the crops' own (``CropSettings``)."""

    model: str = "osnet_x0_25"
    device: str = "auto"
    half: bool = True
    backend: str = "auto"  # the meaning of auto: reidflow.backends
    batch_size: int = field(default=64, metadata=NOT_A_PARAM)  # features do not depend on it (tested)


@dataclass(frozen=True)
class SimilaritySettings(StageSettings):
    """Stage ``similarity``."""

    aggregation: str = "mean"
    topk: int = 10
    threshold: float = 0.5
    histogram_bins: int = 20
    # a track is cut where its two sides' mean crop features have a cosine below this (reidflow.pieces)
    split_below: float = 0.65
    split_min_crops: int = 8  # crops on each side of a cut, at least


@dataclass(frozen=True)
class ClusterSettings(StageSettings):
    """Stage ``cluster``; a person's overrides (``cluster.overrides``) come as their own param."""

    linkage: str = "average"
    distance_threshold: float = 0.35
    cooccurrence_veto: int = 1
    recommend_threshold: float = 0.5
    # seen together only where the boxes overlap less (intersection over the smaller box): reidflow.spacetime
    duplicate_overlap: float = 0.5
    spacetime: bool = True
    continuation_gap: float = 2.0  # seconds
    continuation_distance: float = 1.0  # person heights
    continuation_bonus: float = 0.1  # similarity units
    max_speed: float = 2.0  # person heights per second
    teleport_penalty: float = 0.3  # similarity units
    nonperson: bool = True
    nonperson_motion: float = 0.5  # person heights
    nonperson_duration: float = 2.0  # seconds
    nonperson_confidence: float = 0.4
    nonperson_height: float = 0.5  # of the video's median track height


@dataclass(frozen=True)
class IdentitiesSettings(StageSettings):
    """Stage ``identities``."""

    # processed frames an identity may miss between two boxes and get interpolated ones: anywhere, and where
    # both boxes are away from the frame border (hidden, not gone); both 0: no filling
    fill_gaps: int = 10
    fill_hidden: int = 100


@dataclass(frozen=True)
class EvaluateSettings(StageSettings):
    """Stage ``evaluate``."""

    iou_threshold: float = 0.5


@dataclass(frozen=True)
class ReportSettings(StageSettings):
    """Stages ``report`` and ``report_index``."""

    webp_fps: float = 10.0
    webp_quality: int = 80
    webp_height: int = 256


@dataclass(frozen=True)
class PeopleSettings(StageSettings):
    """Stage ``people``: identities of all videos joined into people (reidflow.people)."""

    aggregation: str = "mean"  # as similarity.aggregation, over the identities' chosen crops
    topk: int = 10
    max_crops: int = 16  # an identity's crops compared: its best by quality rank over all its tracks
    neighbours: int = 10  # candidate pairs per identity; a pair that is none counts as unlike
    threshold: float = (
        0.65  # mean crop similarity above which identities are one person: 1 - cluster.distance_threshold
    )
    recommend_threshold: float = 0.45


# config section -> its settings class
STAGES: dict[str, type[StageSettings]] = {
    "track": TrackSettings,
    "crops": CropSettings,
    "features": FeatureSettings,
    "similarity": SimilaritySettings,
    "cluster": ClusterSettings,
    "identities": IdentitiesSettings,
    "evaluate": EvaluateSettings,
    "report": ReportSettings,
    "people": PeopleSettings,
}

# The keys of a config section that are no setting: how the rule runs, read by rules/common.smk.
RUN_KEYS: dict[str, tuple[str, ...]] = {
    "track": ("detector", "threads"),
    "features": ("weights", "threads"),
    "cluster": ("overrides",),
}


def stage_settings(stage: str, section: Mapping[str, Any]) -> StageSettings:
    """The settings of config section ``stage``."""
    return STAGES[stage].from_config(section)


def check_settings(config: Mapping[str, Any]) -> None:
    """Build every stage's settings from a validated config: what a settings class refuses fails here."""
    for stage in STAGES:
        stage_settings(stage, config.get(stage, {}))
