"""``clusters.json`` (stage ``cluster``): the record Clusters, field by field."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from reidflow.formats.base import build_record, read_json, write_json
from reidflow.formats.similarity import Cut

CLUSTERS_FORMAT_VERSION = 3


@dataclass(frozen=True)
class Identity:
    id: int
    members: list[int]  # track ids, longest-seen first
    representative: int  # the member track shown first: the longest-seen one (most detections)
    frames_covered: int  # distinct frames in which any member is present
    mean_similarity: float | None  # mean pairwise similarity of the members; None for a single track
    decided_by: str = "clustering"  # "person" when an override merged any of its members


@dataclass(frozen=True)
class Merge:
    """One merge step: two groups of tracks joined at ``similarity``, the linkage's same-person score (appearance
    plus space-time evidence: it may exceed 1); ``decided_by`` is "clustering" or "person"."""

    left: list[int]
    right: list[int]
    similarity: float
    decided_by: str


@dataclass(frozen=True)
class Recommendation:
    """A pair above the recommend threshold left in different identities, and why.

    ``reason``: "cooccurrence_veto" (seen in the same frame at different places), "below_threshold" (the
    linkage kept them apart), "cut_at_switch" (the two pieces of a track cut at an identity switch, or
    identities holding such pieces) or "split_by_person" (an override split them).
    """

    a: int
    b: int
    similarity: float  # appearance
    cooccurrence: int  # frames both are present in (also where their boxes overlap)
    reason: str
    score: float  # same-person score: appearance plus space-time evidence (reidflow.spacetime)


@dataclass(frozen=True)
class Flagged:
    """A track kept out of identities as a likely false detection, for a person to confirm.

    ``reasons``: "static", "low_confidence", "small" (reidflow.spacetime.nonperson_reasons), or
    "ignored_by_person" (the overrides file's ``ignore``).
    """

    track: int
    reasons: list[str]
    detections: int


@dataclass(frozen=True)
class Clusters:
    """``clusters.json``: identities, the merges that made them, and merge recommendations for a person.

    params     the stage's settings (reidflow.settings.ClusterSettings)
    flagged    tracks kept out of identities as likely false detections, with why
    apart      identity id pairs [a, b] (a < b) that are different people because some track of one was
               seen with some track of the other (the co-occurrence veto), or they hold the two sides of a
               track cut at an identity switch (``cuts``): what stage people keeps apart
    overrides  the person's decisions applied for this video: {"merge": [[a, b], ...], "split": [[a, b], ...]}
               and, when the video has any, "ignore": [track, ...] (reidflow.overrides)
    cuts       tracks cut at identity switches (similarity.json's ``cuts``): track ids in this file are pieces
               (reidflow.pieces), which every reader of tracks.npz, final_crops.h5 or features.h5 applies
    """

    video: str
    params: dict[str, Any]
    overrides: dict[str, list[list[int]] | list[int]]  # merge/split pairs; ignore (track ids) when any
    identities: list[Identity]
    merges: list[Merge]
    recommendations: list[Recommendation]
    flagged: list[Flagged] = field(default_factory=list)
    apart: list[list[int]] = field(default_factory=list)
    cuts: list[Cut] = field(default_factory=list)
    format_version: int = CLUSTERS_FORMAT_VERSION

    def identity_of(self) -> dict[int, int]:
        return {track: identity.id for identity in self.identities for track in identity.members}


def write_clusters(path: str | os.PathLike, clusters: Clusters) -> None:
    write_json(path, clusters)


def read_clusters(path: str | os.PathLike) -> Clusters:
    raw = read_json(path, "cluster", CLUSTERS_FORMAT_VERSION)
    return build_record(
        path,
        "cluster",
        lambda: Clusters(
            **{
                **raw,
                "identities": [Identity(**i) for i in raw["identities"]],
                "merges": [Merge(**m) for m in raw["merges"]],
                "recommendations": [Recommendation(**r) for r in raw["recommendations"]],
                "flagged": [Flagged(**f) for f in raw["flagged"]],
                "cuts": [Cut(**c) for c in raw["cuts"]],
            }
        ),
    )
