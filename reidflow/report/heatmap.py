"""The similarity heatmap (tracks grouped by identity), its colour scale, and the histogram of similarities."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from reidflow.formats.clusters import Clusters
from reidflow.formats.similarity import Distribution, Similarity

# Cosine similarities of ReID features; values outside are clamped to the ends of the colour scale.
SCALE_MIN, SCALE_MAX = 0.0, 1.0

# A sequential-diverging scale: blue (unlike) through pale yellow (0.5) to red (alike).
PALETTE = (
    (0.0, (49, 54, 149)),
    (0.25, (69, 117, 180)),
    (0.5, (254, 224, 144)),
    (0.75, (244, 109, 67)),
    (1.0, (165, 0, 38)),
)


def colour(value: float) -> str:
    """Hex colour of a similarity on the report's scale (heatmap.js computes the same, rounding half up)."""
    t = (min(max(value, SCALE_MIN), SCALE_MAX) - SCALE_MIN) / (SCALE_MAX - SCALE_MIN)
    for (t0, c0), (t1, c1) in zip(PALETTE, PALETTE[1:]):
        if t <= t1:
            f = (t - t0) / (t1 - t0)
            return "#" + "".join(f"{math.floor(a + (b - a) * f + 0.5):02x}" for a, b in zip(c0, c1))
    return "#" + "".join(f"{c:02x}" for c in PALETTE[-1][1])


@dataclass(frozen=True)
class Heatmap:
    """The similarity matrix in the page's order: tracks grouped by identity."""

    track_ids: list[int]
    identities: list[int]  # identity of each row
    values: np.ndarray  # (N, N) similarity
    cooccurrence: np.ndarray  # (N, N) frames in which both tracks are present
    blocks: list[tuple[int, int]]  # (first row, size) of each identity with more than one track

    @property
    def size(self) -> int:
        return len(self.track_ids)

    def payload(self, hues: dict[int, int], cell_px: int) -> dict[str, Any]:
        """What heatmap.js draws: the matrix row-major, rounded to what the tooltip shows."""
        rows, cols = np.nonzero(np.triu(self.cooccurrence, 1))
        return {
            "ids": self.track_ids,
            "identities": self.identities,
            "hues": [hues[i] for i in self.identities],
            "values": [round(float(v), 3) for v in self.values.reshape(-1)],
            "together": [[int(i), int(j), int(self.cooccurrence[i, j])] for i, j in zip(rows, cols)],
            "blocks": self.blocks,
            "cell": cell_px,
            "labels": cell_px >= 12,
            "palette": [[t, list(c)] for t, c in PALETTE],
            "scale": [SCALE_MIN, SCALE_MAX],
        }


def identity_order(clusters: Clusters) -> list[int]:
    """Track ids grouped by identity, identities and members in the order of clusters.json."""
    return [track for identity in clusters.identities for track in identity.members]


def heatmap(similarity: Similarity, clusters: Clusters) -> Heatmap:
    order = identity_order(clusters)
    index = {t: i for i, t in enumerate(similarity.track_ids)}
    identity_of = clusters.identity_of()
    rows = [index[t] for t in order]
    blocks, start = [], 0
    for identity in clusters.identities:
        if len(identity.members) > 1:
            blocks.append((start, len(identity.members)))
        start += len(identity.members)
    return Heatmap(
        track_ids=order,
        identities=[identity_of[t] for t in order],
        values=similarity.matrix[np.ix_(rows, rows)],
        cooccurrence=similarity.cooccurrence[np.ix_(rows, rows)],
        blocks=blocks,
    )


@dataclass(frozen=True)
class Bar:
    low: float
    high: float
    count: int
    height: float  # fraction of the tallest bar


@dataclass(frozen=True)
class Marker:
    label: str
    value: float


def histogram(distribution: Distribution) -> list[Bar]:
    edges, counts = distribution.histogram_edges, distribution.histogram_counts
    if not counts:  # fewer than two tracks: no pairs
        return []
    if len(edges) != len(counts) + 1:
        raise ValueError(f"histogram with {len(edges)} edges and {len(counts)} counts")
    tallest = max(counts, default=0) or 1
    return [Bar(float(lo), float(hi), int(n), n / tallest) for lo, hi, n in zip(edges, edges[1:], counts)]


def collapsed(distribution: Distribution) -> bool:
    """All pairs alike: the seeds' sign of a collapsed model (every similarity near 0.99)."""
    return bool(
        distribution.count >= 2
        and distribution.std is not None
        and distribution.std < 0.03
        and distribution.mean is not None
        and distribution.mean > 0.9
    )


def threshold_markers(similarity: Similarity, clusters: Clusters) -> list[Marker]:
    markers = [Marker("pair threshold", similarity.threshold)]
    if "distance_threshold" in clusters.params:
        markers.append(Marker("merge (1 − distance threshold)", 1.0 - float(clusters.params["distance_threshold"])))
    if "recommend_threshold" in clusters.params:
        markers.append(Marker("recommend threshold", float(clusters.params["recommend_threshold"])))
    return markers
