"""``similarity.json`` (stage ``similarity``): the record Similarity, field by field, compact (it holds N x N matrices)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reidflow.formats.base import build_record, read_json, write_json

SIMILARITY_FORMAT_VERSION = 2


@dataclass(frozen=True)
class SimilarPair:
    a: int
    b: int
    similarity: float
    cooccurrence: int


@dataclass(frozen=True)
class Cut:
    """A track cut at an identity switch (reidflow.pieces): from ``frame`` on, its detections are ``piece``."""

    track: int  # the tracker's id
    frame: int  # first frame (0-based) of the later piece
    piece: int  # the later piece's id: track + n * base, above every tracker id (reidflow.pieces.piece_base)
    cosine: float  # of the mean crop features on the two sides (a cut is made below similarity.split_below)
    crossing: int | None = None  # the track it swapped people with where they crossed (pieces.swap_cuts)


@dataclass(frozen=True)
class Distribution:
    """Off-diagonal similarities: a healthy model spreads them; a collapsed one puts them all near 1."""

    count: int
    min: float | None
    max: float | None
    mean: float | None
    std: float | None
    histogram_edges: list[float]
    histogram_counts: list[int]


@dataclass(frozen=True)
class Similarity:
    """``similarity.json``: track × track similarity aggregated over all crop pairs.

    matrix        (N, N) float, symmetric; cooccurrence (N, N) int frames where both tracks are present
    track_ids     pieces: the tracker's ids, and a new id for each later piece of a track cut at an identity
                  switch (``cuts``, reidflow.pieces); crops and features of a piece are those of its frames
    pairs         pairs with similarity >= threshold, most similar first
    params        the aggregation's own knobs (e.g. ``topk``)
    cuts          the tracks cut at identity switches, by track and frame
    """

    video: str
    track_ids: list[int]
    aggregation: str
    params: dict[str, Any]
    threshold: float
    matrix: np.ndarray
    cooccurrence: np.ndarray
    pairs: list[SimilarPair]
    distribution: Distribution
    cuts: list[Cut] = field(default_factory=list)
    format_version: int = SIMILARITY_FORMAT_VERSION


def write_similarity(path: str | os.PathLike, similarity: Similarity) -> None:
    write_json(path, similarity, indent=None)  # N×N matrices: compact, or thousands of tracks make GBs


def read_similarity(path: str | os.PathLike) -> Similarity:
    raw = read_json(path, "similarity", SIMILARITY_FORMAT_VERSION)

    def build() -> Similarity:
        n = len(raw["track_ids"])
        return Similarity(
            **{
                **raw,
                "matrix": np.asarray(raw["matrix"], dtype=np.float64).reshape(n, n),
                "cooccurrence": np.asarray(raw["cooccurrence"], dtype=np.int64).reshape(n, n),
                "pairs": [SimilarPair(**p) for p in raw["pairs"]],
                "distribution": Distribution(**raw["distribution"]),
                "cuts": [Cut(**c) for c in raw["cuts"]],
            }
        )

    return build_record(path, "similarity", build)
