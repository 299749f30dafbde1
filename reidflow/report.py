"""Stage 6, ``report``: who is in each video, at a glance, as a self-contained offline HTML page.

Per video ``report/index.html`` shows the run's settings, one card per identity with its member tracks as
animated WebPs of their crops (time order), the track × track similarity heatmap ordered by identity, the
distribution of similarities, the merge recommendations and, with ground truth, the MOT scores before and
after merging. ``report/webp/`` holds ``<track>.webp`` (the animation) and ``<track>_best.webp`` (the
best-quality crop, used as a thumbnail). The across-videos page lists every video with a link to its page.

Everything is inline (CSS, JS, SVG): the pages work opened from file:// with no network. Templates are
jinja2 with autoescaping, so names from the video sheet or file paths are always shown as text.

Functions here are pure (records in, bytes or strings out) except ``write_video_report`` and
``write_index``, which write the files.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from reidflow import ReidflowError
from reidflow.formats import (
    REBUILD,
    Clusters,
    CropsReader,
    Distribution,
    Evaluation,
    FeaturesMeta,
    Similarity,
    Tracks,
    VideoInfo,
    atomic_output,
)

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
# Cosine similarities of ReID features; values outside are clamped to the ends of the colour scale.
SCALE_MIN, SCALE_MAX = 0.0, 1.0
# A sequential-diverging scale: blue (unlike) through pale yellow (0.5) to red (alike).
PALETTE = ((0.0, (49, 54, 149)), (0.25, (69, 117, 180)), (0.5, (254, 224, 144)), (0.75, (244, 109, 67)), (1.0, (165, 0, 38)))
EVALUATION_METRICS = (  # (key, label, shown as percent, higher is better)
    ("mota", "MOTA", True, True),
    ("idf1", "IDF1", True, True),
    ("id_switches", "ID switches", False, False),
    ("num_ids", "IDs", False, None),
    ("precision", "precision", True, True),
    ("recall", "recall", True, True),
)
REASONS = {
    "cooccurrence_veto": "seen in the same frame (co-occurrence veto)",
    "below_threshold": "below the merge threshold of the linkage",
    "split_by_person": "split by a person's override",
}


class ReportError(ReidflowError):
    pass


@dataclass(frozen=True)
class ReportSettings:
    webp_fps: float = 10.0
    webp_quality: int = 80
    webp_height: int = 256


@dataclass(frozen=True)
class VideoRecords:
    """What one video's page is made of (crops are read track by track from final_crops.h5)."""

    tracks: Tracks
    features: FeaturesMeta
    similarity: Similarity
    clusters: Clusters
    evaluation: Evaluation | None = None


# --- images -------------------------------------------------------------------------------------------


def resize_to_height(image: np.ndarray, height: int) -> np.ndarray:
    from PIL import Image  # imageio's own dependency: the report needs no OpenCV

    h, w = image.shape[:2]
    if h == height:
        return image
    width = max(1, round(w * height / h))
    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.LANCZOS))


def track_webp(crops: np.ndarray, frames: np.ndarray, settings: ReportSettings) -> bytes:
    """An animated WebP of one track's RGB crops (K, H, W, 3) in time order, looping forever.

    libwebp merges consecutive identical crops into one longer frame, so timing stays right.
    """
    import imageio.v3 as iio

    crops = np.asarray(crops)
    if crops.ndim != 4 or crops.shape[-1] != 3 or len(crops) == 0:
        raise ValueError(f"expected RGB crops of shape (K>0, H, W, 3), got {crops.shape}")
    order = np.argsort(np.asarray(frames), kind="stable")
    images = np.stack([resize_to_height(crops[i], settings.webp_height) for i in order])
    return iio.imwrite(
        "<bytes>", images, extension=".webp", is_batch=True,
        duration=max(1, round(1000 / settings.webp_fps)), loop=0, quality=settings.webp_quality,
    )


def still_webp(crop: np.ndarray, settings: ReportSettings) -> bytes:
    import imageio.v3 as iio

    return iio.imwrite("<bytes>", resize_to_height(crop, settings.webp_height), extension=".webp", quality=settings.webp_quality)


# --- heatmap and histogram ----------------------------------------------------------------------------


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
    return bool(distribution.count >= 2 and distribution.std is not None and distribution.std < 0.03 and distribution.mean > 0.9)


def threshold_markers(similarity: Similarity, clusters: Clusters) -> list[Marker]:
    markers = [Marker("pair threshold", similarity.threshold)]
    if "distance_threshold" in clusters.params:
        markers.append(Marker("merge (1 − distance threshold)", 1.0 - float(clusters.params["distance_threshold"])))
    if "recommend_threshold" in clusters.params:
        markers.append(Marker("recommend threshold", float(clusters.params["recommend_threshold"])))
    return markers


# --- page context -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackCard:
    track_id: int
    first_frame: int
    last_frame: int
    detections: int
    crops: int
    mean_quality: float
    width: int  # of the WebP, px
    height: int

    @property
    def webp(self) -> str:
        return f"webp/{self.track_id}.webp"

    @property
    def thumbnail(self) -> str:
        return f"webp/{self.track_id}_best.webp"


def identity_hue(position: int) -> int:
    """Well-separated hues for neighbouring identities (golden angle)."""
    return round(position * 137.508) % 360


def check_consistent(records: VideoRecords, crop_tracks: list[int], names: dict[str, str]) -> None:
    """Every stage's file must describe the same video and the same tracks; say which file is stale."""
    video = records.tracks.meta.video
    for key, record in (("features", records.features), ("similarity", records.similarity), ("clusters", records.clusters), ("evaluation", records.evaluation)):
        if record is not None and record.video != video:
            raise ReportError(f"{names[key]}: made for video {record.video!r}, not {video!r}; delete it and rerun the workflow")
    members = identity_order(records.clusters)
    if len(members) != len(set(members)):
        raise ReportError(f"{names['clusters']}: a track belongs to more than one identity; {REBUILD}")
    if set(records.similarity.track_ids) != set(crop_tracks):
        raise ReportError(
            f"{names['similarity']}: its tracks differ from those of {names['crops']}; {REBUILD}"
        )
    if set(members) != set(crop_tracks):
        raise ReportError(f"{names['clusters']}: its tracks differ from those of {names['crops']}; {REBUILD}")


def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def video_duration(info: VideoInfo) -> str:
    """The video's length as m:ss (h:mm:ss), "?" when its frame rate is unknown."""
    return format_duration(info.frame_count / info.fps if info.fps > 0 else float("nan"))


def truncation_warning(info: VideoInfo) -> str | None:
    """The header's warning for a video that decoded short of the frames its container declares."""
    return None if info.shortfall is None else f"Truncated or damaged video: {info.shortfall}."


def pipeline_line(records: VideoRecords) -> str:
    """The models and key settings of this run in one line, for the page header (the Settings section
    holds the rest), e.g. "yolov8n.pt · bytetrack · osnet_x0_25 (osnet_x0_25_msmt17.pth) · similarity mean ·
    average linkage, distance < 0.35".
    """
    meta, features, similarity, params = records.tracks.meta, records.features, records.similarity, records.clusters.params
    parts = [Path(meta.detector).name + (f" (vid_stride {meta.vid_stride})" if meta.vid_stride > 1 else ""), meta.tracker]
    parts.append(f"{features.model} ({Path(features.weights).name})")
    aggregation = ", ".join(f"{key}={value}" for key, value in sorted(similarity.params.items()))
    parts.append(f"similarity {similarity.aggregation}" + (f" ({aggregation})" if aggregation else ""))
    if "linkage" in params:
        linkage = f"{params['linkage']} linkage"
        if "distance_threshold" in params:
            linkage += f", distance < {params['distance_threshold']}"
        parts.append(linkage)
    return " · ".join(parts)


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
            rows.append(EvaluationRow(label, *(_maybe(v, percent) for v in (raw, merged)), "–", None))
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


def video_context(records: VideoRecords, cards: dict[int, TrackCard], crops_meta: dict[str, Any]) -> dict[str, Any]:
    """Everything the video template shows, computed here so that the template only lays it out."""
    tracks, similarity, clusters = records.tracks, records.similarity, records.clusters
    info = tracks.meta.info
    identities = []
    for position, identity in enumerate(clusters.identities):
        identities.append(
            {
                "identity": identity,
                "hue": identity_hue(position),
                "tracks": [cards[t] for t in identity.members],
                "crops": sum(cards[t].crops for t in identity.members),
            }
        )
    hue_of = {identity.id: identity_hue(p) for p, identity in enumerate(clusters.identities)}
    identity_of = clusters.identity_of()
    recommendations = [
        {
            "rec": rec,
            "reason": REASONS.get(rec.reason, rec.reason),
            "a": cards[rec.a],
            "b": cards[rec.b],
            "identity_a": identity_of[rec.a],
            "identity_b": identity_of[rec.b],
        }
        # pairs only the threshold kept apart first: those are a person's real decisions
        for rec in sorted(clusters.recommendations, key=lambda r: (r.reason != "below_threshold", -r.similarity))
    ]
    grid = heatmap(similarity, clusters)
    cell_px = max(1, min(22, 800 // max(grid.size, 1)))  # 1 px per track beyond 800 tracks
    return {
        "video": tracks.meta.video,
        "source": tracks.meta.source,
        "pipeline": pipeline_line(records),
        "duration": video_duration(info),
        "info": info,
        "truncation": truncation_warning(info),
        "tracks_found": len(tracks.track_ids),
        "tracks_kept": len(cards),
        "detections": len(tracks.rows),
        "meta": tracks.meta,
        "crops_meta": crops_meta,
        "features": records.features,
        "similarity": similarity,
        "clusters": clusters,
        "merged_tracks": sum(len(i.members) for i in clusters.identities if len(i.members) > 1),
        "identities": identities,
        "heatmap": grid,
        "heatmap_data": grid.payload(hue_of, cell_px),
        # the palette's own anchors: SVG interpolates linearly between stops, as heatmap.js does
        "legend": [(t, colour(SCALE_MIN + t * (SCALE_MAX - SCALE_MIN))) for t, _ in PALETTE],
        "scale": (SCALE_MIN, SCALE_MAX),
        "histogram": histogram(similarity.distribution),
        "markers": threshold_markers(similarity, clusters),
        "distribution": similarity.distribution,
        "collapsed": collapsed(similarity.distribution),
        "recommendations": recommendations,
        "evaluation": records.evaluation,
        "evaluation_rows": evaluation_rows(records.evaluation) if records.evaluation else [],
    }


@dataclass(frozen=True)
class VideoSummary:
    """One row of the across-videos page."""

    video: str
    source: str
    duration: str
    frames: int
    fps: float
    tracks: int
    identities: int
    evaluation: Evaluation | None

    @property
    def link(self) -> str:
        return f"../{quote(self.video)}/report/index.html"


def video_summary(tracks: Tracks, clusters: Clusters, evaluation: Evaluation | None) -> VideoSummary:
    info = tracks.meta.info
    return VideoSummary(
        video=tracks.meta.video,
        source=tracks.meta.source,
        duration=video_duration(info),
        frames=info.frame_count,
        fps=info.fps,
        tracks=len(tracks.track_ids),
        identities=len(clusters.identities),
        evaluation=evaluation,
    )


def flatten_settings(settings: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested config as (dotted key, value) rows, in the config's own order."""
    rows: list[tuple[str, Any]] = []
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows.extend(flatten_settings(value, f"{name}."))
        else:
            rows.append((name, value))
    return rows


# --- rendering ----------------------------------------------------------------------------------------


def environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every value is text: a video named <script>…</script> stays text
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # compact JSON: the heatmap's N×N values make most of a large page
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "separators": (",", ":")}
    env.filters["num"] = lambda value, digits=3: "–" if value is None else f"{value:.{digits}f}"
    env.filters["pct"] = lambda value: "–" if value is None else f"{100 * value:.1f} %"
    return env


def render_video(context: dict[str, Any]) -> str:
    return environment().get_template("video.html.j2").render(**context)


def render_index(summaries: list[VideoSummary], settings: dict[str, Any]) -> str:
    metrics = [(key, label) for key, label, percent, _ in EVALUATION_METRICS if percent][:2]  # MOTA, IDF1
    return environment().get_template("index.html.j2").render(
        videos=summaries, settings=flatten_settings(settings), metrics=metrics,
        with_evaluation=any(s.evaluation is not None for s in summaries),
    )


# --- files --------------------------------------------------------------------------------------------


def write_video_report(
    records: VideoRecords, crops_path: str | Path, out_html: str | Path, webp_dir: str | Path,
    settings: ReportSettings, names: dict[str, str] | None = None,
) -> None:
    """Write ``webp_dir/<track>.webp`` + ``<track>_best.webp`` for every kept track, then the page.

    ``names`` maps record keys (features, similarity, clusters, evaluation, crops) to their paths, for
    error messages.
    """
    names = {"features": "features.h5", "similarity": "similarity.json", "clusters": "clusters.json",
             "evaluation": "evaluation.json", "crops": str(crops_path), **(names or {})}
    webp_dir = Path(webp_dir)
    webp_dir.mkdir(parents=True, exist_ok=True)
    cards: dict[int, TrackCard] = {}
    with CropsReader(crops_path) as reader:
        check_consistent(records, reader.track_ids, names)
        for person in reader.persons:
            track_id = int(person["track_id"])
            crops = reader.read(track_id)  # one track's images in memory at a time
            if crops.crops is None or len(crops.crops) == 0:
                raise ReportError(f"{crops_path}: track {track_id} has no crops; {REBUILD}")
            (webp_dir / f"{track_id}.webp").write_bytes(track_webp(crops.crops, crops.frames, settings))
            best = int(np.argmin(crops.metrics["rank"]))
            (webp_dir / f"{track_id}_best.webp").write_bytes(still_webp(crops.crops[best], settings))
            h, w = crops.crops.shape[1:3]
            cards[track_id] = TrackCard(
                track_id=track_id,
                first_frame=int(person["first_frame"]),
                last_frame=int(person["last_frame"]),
                detections=int(person["detections"]),
                crops=len(crops.frames),
                mean_quality=float(np.mean(crops.metrics["quality"])),
                width=max(1, round(w * settings.webp_height / h)),
                height=settings.webp_height,
            )
        crops_meta = reader.meta.params  # the crop settings used, resize and size included
    html = render_video(video_context(records, cards, crops_meta))
    with atomic_output(out_html) as tmp:
        tmp.write_text(html, encoding="utf-8")
    log.info("report of %s: %d identities, %d tracks -> %s", records.tracks.meta.video, len(records.clusters.identities), len(cards), out_html)


def write_index(summaries: list[VideoSummary], settings: dict[str, Any], out_html: str | Path) -> None:
    html = render_index(summaries, settings)
    with atomic_output(out_html) as tmp:
        tmp.write_text(html, encoding="utf-8")
    log.info("index of %d videos -> %s", len(summaries), out_html)


@dataclass(frozen=True)
class VideoStatus:
    """One row of the index written when a run fails: does the video have a report at all?"""

    video: str
    has_report: bool

    @property
    def link(self) -> str:
        return f"../{quote(self.video)}/report/index.html"


def write_incomplete_index(videos: list[str], results_dir: str | Path, out_html: str | Path, when: str) -> None:
    """Replace the index after a failed run, so that it never shows an earlier, complete-looking state.

    Lists every video of the sheet and marks those without a report; a successful run rebuilds the full page.
    """
    results_dir = Path(results_dir)
    rows = [VideoStatus(video, (results_dir / video / "report" / "index.html").is_file()) for video in videos]
    html = environment().get_template("incomplete.html.j2").render(videos=rows, when=when)
    with atomic_output(out_html) as tmp:
        tmp.write_text(html, encoding="utf-8")
        # Dated 1970, the page is older than every input of rule report_index: the next run replaces it
        # even when nothing upstream changes (e.g. the sheet was restored).
        os.utime(tmp, (0, 0))
    log.info("run incomplete: index lists %d videos, %d without a report -> %s", len(rows), sum(not r.has_report for r in rows), out_html)
