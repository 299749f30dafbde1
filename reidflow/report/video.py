"""One video's page, ``results/<video>/report/index.html``, and its WebPs in ``report/webp/``.

``video_context`` computes everything the page shows (pure); ``write_video_report`` reads the crops track by
track, writes the WebPs, then the page.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reidflow import ReidflowError, pieces
from reidflow.files import atomic_output
from reidflow.formats.base import REBUILD
from reidflow.formats.clusters import Clusters
from reidflow.formats.evaluation import Evaluation
from reidflow.formats.features import FeaturesMeta
from reidflow.formats.similarity import Cut, Similarity
from reidflow.formats.tracks import TrackRows, Tracks, VideoInfo
from reidflow.piece_crops import PieceCrops
from reidflow.report.heatmap import (
    PALETTE,
    SCALE_MAX,
    SCALE_MIN,
    collapsed,
    colour,
    heatmap,
    histogram,
    identity_order,
    threshold_markers,
)
from reidflow.report.images import ReportSettings, still_webp, track_webp
from reidflow.report.metrics import evaluation_rows, evaluation_tables, video_duration
from reidflow.report.render import environment

log = logging.getLogger(__name__)

REASONS = {
    "cooccurrence_veto": "seen in the same frame at different places (co-occurrence veto)",
    "below_threshold": "below the merge threshold of the linkage",
    "split_by_person": "split by a person's override",
    "cut_at_switch": "the two sides of a track cut where its appearance switches",
}
NONPERSON = {  # reidflow.spacetime.nonperson_reasons
    "static": "barely moves",
    "low_confidence": "low detector confidence",
    "small": "much smaller than the other tracks",
    "ignored_by_person": "a person said so (overrides: ignore)",
}


class ReportError(ReidflowError):
    pass


@dataclass(frozen=True)
class VideoRecords:
    """What one video's page is made of (crops are read track by track from final_crops.h5)."""

    tracks: Tracks
    features: FeaturesMeta
    similarity: Similarity
    clusters: Clusters
    evaluation: Evaluation | None = None


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
    cut: str = ""  # where the track was cut at an identity switch, for a piece of a cut track

    @property
    def webp(self) -> str:
        return f"webp/{self.track_id}.webp"

    @property
    def thumbnail(self) -> str:
        return f"webp/{self.track_id}_best.webp"


def track_extents(rows: TrackRows) -> dict[int, tuple[int, int, int]]:
    """Per track (or piece): first frame, last frame, detections."""
    ids, inverse, counts = np.unique(rows.track_ids, return_inverse=True, return_counts=True)
    first = np.full(len(ids), np.iinfo(np.int64).max)
    last = np.full(len(ids), -1)
    np.minimum.at(first, inverse, rows.frames)
    np.maximum.at(last, inverse, rows.frames)
    return {int(t): (int(a), int(b), int(c)) for t, a, b, c in zip(ids, first, last, counts)}


def cut_notes(cuts: Sequence[Cut]) -> dict[int, str]:
    """What a card says about a piece of a track cut at an identity switch: from which track, where."""
    notes: dict[int, str] = {}
    for cut in sorted(cuts, key=lambda c: (c.track, c.frame)):
        here = f"cut at frame {cut.frame}: later frames are track {cut.piece}"
        notes[cut.track] = f"{notes[cut.track]}; {here}" if cut.track in notes else here
        notes[cut.piece] = f"cut from track {cut.track} at frame {cut.frame} (sides {cut.cosine:.2f} alike)"
        if cut.crossing is not None:
            notes[cut.piece] += f", where it swapped people with track {cut.crossing}"
    return notes


def identity_hue(position: int) -> int:
    """Well-separated hues for neighbouring identities (golden angle)."""
    return round(position * 137.508) % 360


def check_consistent(records: VideoRecords, crop_tracks: list[int], names: dict[str, str]) -> None:
    """Every stage's file must describe the same video and the same tracks; say which file is stale."""
    video = records.tracks.meta.video
    for key, record in (
        ("features", records.features),
        ("similarity", records.similarity),
        ("clusters", records.clusters),
        ("evaluation", records.evaluation),
    ):
        if record is not None and record.video != video:
            raise ReportError(
                f"{names[key]}: made for video {record.video!r}, not {video!r}; delete it and rerun the workflow"
            )
    members = identity_order(records.clusters)
    if len(members) != len(set(members)):
        raise ReportError(f"{names['clusters']}: a track belongs to more than one identity; {REBUILD}")
    if set(records.similarity.track_ids) != set(crop_tracks):
        raise ReportError(f"{names['similarity']}: its tracks differ from those of {names['crops']}; {REBUILD}")
    flagged = {f.track for f in records.clusters.flagged}  # not a person: in no identity
    if set(members) | flagged != set(crop_tracks) or flagged & set(members):
        raise ReportError(f"{names['clusters']}: its tracks differ from those of {names['crops']}; {REBUILD}")


def truncation_warning(info: VideoInfo) -> str | None:
    """The header's warning for a video that decoded short of the frames its container declares."""
    return None if info.shortfall is None else f"Truncated or damaged video: {info.shortfall}."


def pipeline_line(records: VideoRecords) -> str:
    """The models and key settings of this run in one line, for the page header (the Settings section
    holds the rest), e.g. "yolov8n.pt · bytetrack · osnet_x0_25 (osnet_x0_25_msmt17.pth) · similarity mean ·
    average linkage, distance < 0.35".
    """
    meta, features, similarity, params = (
        records.tracks.meta,
        records.features,
        records.similarity,
        records.clusters.params,
    )
    parts = [
        Path(meta.detector).name + (f" (vid_stride {meta.vid_stride})" if meta.vid_stride > 1 else ""),
        meta.tracker,
    ]
    parts.append(f"{features.model} ({Path(features.weights).name})")
    aggregation = ", ".join(f"{key}={value}" for key, value in sorted(similarity.params.items()))
    parts.append(f"similarity {similarity.aggregation}" + (f" ({aggregation})" if aggregation else ""))
    if "linkage" in params:
        linkage = f"{params['linkage']} linkage"
        if "distance_threshold" in params:
            linkage += f", distance < {params['distance_threshold']}"
        parts.append(linkage)
    return " · ".join(parts)


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
        for rec in sorted(clusters.recommendations, key=lambda r: (r.reason != "below_threshold", -r.score))
    ]
    flagged = [{"card": cards[f.track], "reasons": [NONPERSON.get(r, r) for r in f.reasons]} for f in clusters.flagged]
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
        "tracks_kept": len(cards) - len(clusters.cuts),  # cards show pieces: one more per cut
        "tracks_cut": len({c.track for c in clusters.cuts}),
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
        "flagged": flagged,
        "evaluation": records.evaluation,
        "evaluation_rows": evaluation_rows(records.evaluation) if records.evaluation else [],
        # per trajectory, and per person when the sheet gives a persons file
        "evaluation_tables": evaluation_tables(records.evaluation) if records.evaluation else [],
        # the decisions panel (templates/decisions.js): the decisions in force come from the overview's folder
        "decisions_page": {
            "page": "video",
            "video": tracks.meta.video,
            "results": "../../",
            "script": "../../report/decisions.js",
        },
    }


def render_video(context: dict[str, Any]) -> str:
    return environment().get_template("video.html.j2").render(**context)


def write_video_report(
    records: VideoRecords,
    crops_path: str | Path,
    out_html: str | Path,
    webp_dir: str | Path,
    settings: ReportSettings,
    names: dict[str, str] | None = None,
) -> None:
    """Write ``webp_dir/<track>.webp`` + ``<track>_best.webp`` for every kept track, then the page.

    ``names`` maps record keys (features, similarity, clusters, evaluation, crops) to their paths, for
    error messages.

    Examples:
        >>> from reidflow.formats.clusters import read_clusters
        >>> from reidflow.formats.features import read_features_meta
        >>> from reidflow.formats.similarity import read_similarity
        >>> from reidflow.formats.tracks import read_tracks
        >>> from reidflow.report.video import ReportSettings, VideoRecords, write_video_report
        >>> records = VideoRecords(
        ...     tracks=read_tracks("results/vtest/tracks.npz"),
        ...     features=read_features_meta("results/vtest/features.h5"),
        ...     similarity=read_similarity("results/vtest/similarity.json"),
        ...     clusters=read_clusters("results/vtest/clusters.json"))
        >>> write_video_report(records, "results/vtest/final_crops.h5", "report/index.html", "report/webp",
        ...                    ReportSettings(webp_fps=5))
    """
    names = {
        "features": "features.h5",
        "similarity": "similarity.json",
        "clusters": "clusters.json",
        "evaluation": "evaluation.json",
        "crops": str(crops_path),
        **(names or {}),
    }
    webp_dir = Path(webp_dir)
    webp_dir.mkdir(parents=True, exist_ok=True)
    cards: dict[int, TrackCard] = {}
    cuts = records.clusters.cuts
    extent = track_extents(pieces.split_rows(records.tracks.rows, cuts))
    notes = cut_notes(cuts)
    with PieceCrops(crops_path, cuts) as reader:
        check_consistent(records, reader.track_ids, names)
        for track_id in reader.track_ids:
            crops = reader.read(track_id)  # one track's images in memory at a time
            if crops.crops is None or len(crops.crops) == 0:
                raise ReportError(f"{crops_path}: track {track_id} has no crops; {REBUILD}")
            (webp_dir / f"{track_id}.webp").write_bytes(track_webp(crops.crops, crops.frames, settings))
            best = int(np.argmin(crops.metrics["rank"]))
            (webp_dir / f"{track_id}_best.webp").write_bytes(still_webp(crops.crops[best], settings))
            h, w = crops.crops.shape[1:3]
            first_frame, last_frame, detections = extent[track_id]
            cards[track_id] = TrackCard(
                track_id=track_id,
                first_frame=first_frame,
                last_frame=last_frame,
                detections=detections,
                crops=len(crops.frames),
                mean_quality=float(np.mean(crops.metrics["quality"])),
                width=max(1, round(w * settings.webp_height / h)),
                height=settings.webp_height,
                cut=notes.get(track_id, ""),
            )
        crops_meta = reader.meta.params  # the crop settings used, resize and size included
    html = render_video(video_context(records, cards, crops_meta))
    with atomic_output(out_html) as tmp:
        tmp.write_text(html, encoding="utf-8")
    log.info(
        "report of %s: %d identities, %d tracks -> %s",
        records.tracks.meta.video,
        len(records.clusters.identities),
        len(cards),
        out_html,
    )
