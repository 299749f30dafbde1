"""Stage 2, ``crops``: the best crops of every person, scored for quality, in one decode pass.

Per kept track (at least ``min_track_frames`` detections) up to ``crops_per_person`` detections are
chosen evenly over the track's whole life. Each crop gets six terms in [0, 1] and their weighted mean:

    confidence   detection confidence
    area         min(r, 1/r), r = box area / the track's median box area (too small or too large is worse)
    aspect       exp(-0.5 * (ln(aspect / aspect_target) / aspect_sigma)^2), aspect = height / width
    truncation   0 if the box is within ``border_margin`` px of the frame border (cut off), else 1
    sharpness    s / (s + sharpness_scale), s = variance of the Laplacian of the resized grey crop
    occlusion    1 - the largest fraction of the box covered by another track's box in the same frame

    quality = sum(w_i * term_i) / sum(w_i)        (weights: config crops.weights)

``rank`` orders a track's crops by quality (1 = best; ties: earlier frame first). Crops are stretched to
height x width like torchreid's training transforms (``resize: pad`` keeps the aspect ratio instead and
pads with black); the original box is kept. This is the only resize: ``features`` embeds the crops at
the size they are stored (``CropSettings`` owns the ReID input size).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from reidflow import ReidflowError
from reidflow.formats.crops import PERSONS_DTYPE, CropsMeta, open_crops_writer
from reidflow.formats.tracks import TrackRows, Tracks
from reidflow.settings import CropSettings, QualityWeights
from reidflow.video import FrameReader, probe

log = logging.getLogger(__name__)

RESIZE_MODES = ("stretch", "pad")


class CropsError(ReidflowError):
    pass


def rows_by_track(rows: TrackRows) -> dict[int, np.ndarray]:
    """Row indices of each track in frame order, from one sort (no per-track scan of all rows)."""
    order = np.lexsort((rows.frames, rows.track_ids))
    ids, starts = np.unique(rows.track_ids[order], return_index=True)
    return {int(t): part for t, part in zip(ids, np.split(order, starts[1:]))}


def persons_table(
    rows: TrackRows, by_track: dict[int, np.ndarray], min_frames: int, crops_per_person: int
) -> np.ndarray:
    """Kept tracks, longest-seen first (ties: earlier first appearance, then id)."""
    table = [
        (tid, rows.frames[idx[0]], rows.frames[idx[-1]], len(idx), min(len(idx), crops_per_person))
        for tid, idx in by_track.items()
        if len(idx) >= min_frames
    ]
    table.sort(key=lambda p: (-p[3], p[1], p[0]))
    return np.array(table, dtype=PERSONS_DTYPE)


def spread(n: int, k: int) -> np.ndarray:
    """``min(n, k)`` distinct indices into ``range(n)``, evenly spaced, first and last included."""
    if k >= n:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, k)).astype(int))


def occlusion(rows: TrackRows, of: np.ndarray | None = None) -> np.ndarray:
    """For rows ``of`` (default: all): the largest fraction of each box covered by another track's box in
    the same frame. One vectorised pass over (row, row of the same frame) pairs, so memory grows with the
    rows asked for times the people per frame (the stage asks only for the rows it crops)."""
    of = np.arange(len(rows)) if of is None else np.asarray(of, dtype=np.int64)
    by_frame = np.argsort(rows.frames, kind="stable")
    frames = rows.frames[by_frame]
    first = np.searchsorted(frames, rows.frames[of], side="left")
    count = np.searchsorted(frames, rows.frames[of], side="right") - first
    # pair k: row of[owner[k]] against row other[k], both in the same frame
    owner = np.repeat(np.arange(len(of)), count)
    offset = np.arange(len(owner)) - np.repeat(np.cumsum(count) - count, count)
    other = by_frame[np.repeat(first, count) + offset]
    another_track = rows.track_ids[other] != rows.track_ids[of[owner]]
    owner, other = owner[another_track], other[another_track]
    a, b = rows.boxes[of[owner]], rows.boxes[other]
    inter = np.prod(np.clip(np.minimum(a[:, 2:], b[:, 2:]) - np.maximum(a[:, :2], b[:, :2]), 0, None), axis=1)
    area = np.maximum(np.prod(a[:, 2:] - a[:, :2], axis=1), 1e-6)
    out = np.zeros(len(of), dtype=np.float32)
    np.maximum.at(out, owner, inter / area)
    return out


def truncated(boxes: np.ndarray, width: int, height: int, margin: float) -> np.ndarray:
    return (
        (boxes[:, 0] <= margin)
        | (boxes[:, 1] <= margin)
        | (boxes[:, 2] >= width - margin)
        | (boxes[:, 3] >= height - margin)
    )


def sharpness(crop: np.ndarray) -> float:
    """Variance of the Laplacian of the grey crop: low for blurred crops."""
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    # int16 holds the 3x3 Laplacian of uint8 exactly and meanStdDev sums it exactly: the same value as
    # float32, computed faster
    _, std = cv2.meanStdDev(cv2.Laplacian(grey, cv2.CV_16S))
    return float(std[0, 0]) ** 2


def cut(frame: np.ndarray, box: np.ndarray, height: int, width: int, resize: str) -> tuple[np.ndarray, float]:
    """The box's pixels (BGR frame) as an RGB crop of height x width, and the sharpness of its image part."""
    fh, fw = frame.shape[:2]
    # Python scalars: per crop, NumPy's clip on scalars costs about half as much as the resize
    x1, y1 = min(max(math.floor(box[0]), 0), fw - 1), min(max(math.floor(box[1]), 0), fh - 1)
    x2, y2 = min(max(math.ceil(box[2]), x1 + 1), fw), min(max(math.ceil(box[3]), y1 + 1), fh)
    patch = frame[y1:y2, x1:x2]
    if resize == "stretch":
        out = cv2.cvtColor(cv2.resize(patch, (width, height), interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB)
        return out, sharpness(out)
    scale = min(height / patch.shape[0], width / patch.shape[1])
    new_w, new_h = max(1, round(patch.shape[1] * scale)), max(1, round(patch.shape[0] * scale))
    resized = cv2.cvtColor(cv2.resize(patch, (new_w, new_h), interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB)
    out = np.zeros((height, width, 3), dtype=np.uint8)
    top, left = (height - new_h) // 2, (width - new_w) // 2
    out[top : top + new_h, left : left + new_w] = resized
    return out, sharpness(resized)  # not across the padding edge


def quality(terms: dict[str, np.ndarray], weights: QualityWeights) -> np.ndarray:
    w = asdict(weights)
    total = sum(w.values())  # positive: QualityWeights checks it
    return (sum(w[name] * terms[name] for name in w) / total).astype(np.float32)


def ranks(scores: np.ndarray, frames: np.ndarray) -> np.ndarray:
    order = np.lexsort((frames, -scores))
    out = np.empty(len(scores), dtype=np.int64)
    out[order] = np.arange(1, len(scores) + 1)
    return out


def crop_metrics(
    rows: TrackRows,
    picked: np.ndarray,
    track_rows: np.ndarray,
    sharp: np.ndarray,
    occluded: np.ndarray,
    frame_size: tuple[int, int],
    settings: CropSettings,
) -> dict[str, np.ndarray]:
    """Every metric of CROP_METRICS for one track's crops: rows ``picked`` of its ``track_rows``, with the
    sharpness and occlusion of each crop."""
    boxes = rows.boxes[picked]
    track_boxes = rows.boxes[track_rows]
    track_areas = np.prod(track_boxes[:, 2:] - track_boxes[:, :2], axis=1)
    areas = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    ratio = areas / max(float(np.median(track_areas)), 1e-6)
    aspect = (boxes[:, 3] - boxes[:, 1]) / np.maximum(boxes[:, 2] - boxes[:, 0], 1e-6)
    cut_off = truncated(boxes, *frame_size, settings.border_margin)
    terms = {
        "confidence": rows.scores[picked],
        "area": np.minimum(ratio, 1 / np.maximum(ratio, 1e-6)),
        "aspect": np.exp(
            -0.5 * (np.log(np.maximum(aspect, 1e-6) / settings.aspect_target) / settings.aspect_sigma) ** 2
        ),
        "truncation": (~cut_off).astype(np.float32),
        "sharpness": sharp / (sharp + settings.sharpness_scale),
        "occlusion": 1 - occluded,
    }
    q = quality(terms, settings.weights)
    return {
        "confidence": rows.scores[picked].astype(np.float32),
        "area_ratio": ratio.astype(np.float32),
        "aspect": aspect.astype(np.float32),
        "truncated": cut_off,
        "sharpness": sharp,
        "occlusion": occluded,
        "quality": q,
        "rank": ranks(q, rows.frames[picked]),
    }


def extract_crops(video: str | Path, tracks: Tracks, settings: CropSettings, out: str | Path, video_id: str) -> int:
    """Write ``final_crops.h5`` for the tracks of one video; returns the number of crops.

    Examples:
        >>> from reidflow import crops
        >>> from reidflow.formats.tracks import read_tracks
        >>> settings = crops.CropSettings(crops_per_person=20, weights=crops.QualityWeights(sharpness=2.0))
        >>> crops.extract_crops("vtest.avi", read_tracks("results/vtest/tracks.npz"), settings, "final_crops.h5", "vtest")
        612
    """
    if settings.resize not in RESIZE_MODES:
        raise CropsError(f"crops.resize {settings.resize!r} unknown; use one of {', '.join(RESIZE_MODES)}")
    if settings.crops_per_person < 1:
        raise CropsError(f"crops.crops_per_person is {settings.crops_per_person}; keep at least 1 crop per person")
    rows = tracks.rows
    info = probe(video)
    if (info.width, info.height) != (tracks.meta.info.width, tracks.meta.info.height):
        raise CropsError(
            f"{video}: {info.width}x{info.height}, but its tracks.npz was made from a "
            f"{tracks.meta.info.width}x{tracks.meta.info.height} video ({tracks.meta.source}); delete this video's tracks.npz and run `snakemake` again, which rebuilds it"
        )
    by_track = rows_by_track(rows)
    persons = persons_table(rows, by_track, settings.min_track_frames, settings.crops_per_person)

    # which rows become crops, and where each goes: frame -> [(track id, slot, row)]
    chosen: dict[int, np.ndarray] = {}
    by_frame: dict[int, list[tuple[int, int, int]]] = {}
    for person in persons:
        tid = int(person["track_id"])
        picked = by_track[tid][spread(len(by_track[tid]), settings.crops_per_person)]
        chosen[tid] = picked
        for slot, row in enumerate(picked):
            by_frame.setdefault(int(rows.frames[row]), []).append((tid, slot, int(row)))
    occluded = np.zeros(len(rows), dtype=np.float32)  # filled for the rows that become crops
    crop_rows = np.concatenate([np.empty(0, dtype=np.int64), *chosen.values()])
    occluded[crop_rows] = occlusion(rows, crop_rows)

    meta = CropsMeta(
        video=video_id,
        source=str(video),
        fps=tracks.meta.info.fps,
        frame_count=tracks.meta.info.frame_count,
        crop_height=settings.height,
        crop_width=settings.width,
        resize=settings.resize,
        params=asdict(settings),
    )
    sharp = {tid: np.zeros(len(picked), dtype=np.float32) for tid, picked in chosen.items()}
    to_cut = {tid: len(picked) for tid, picked in chosen.items()}
    frame_size = (info.width, info.height)
    last_needed = max(by_frame, default=-1)
    started = time.monotonic()
    with open_crops_writer(out, meta, persons) as writer:
        if by_frame:
            reader = FrameReader(video, stop=last_needed + 1, wanted=by_frame)
            for index, frame in reader:
                for tid, slot, row in by_frame[index]:
                    crop, sharp[tid][slot] = cut(
                        frame, rows.boxes[row], settings.height, settings.width, settings.resize
                    )
                    writer.put_crop(tid, slot, crop)
                    to_cut[tid] -= 1
                    if not to_cut[tid]:  # the track's last crop: finish it now, while the decoder reads ahead
                        picked = chosen[tid]
                        metrics = crop_metrics(
                            rows, picked, by_track[tid], sharp[tid], occluded[picked], frame_size, settings
                        )
                        writer.put_track(tid, rows.frames[picked], rows.boxes[picked], metrics)
            if reader.frames_read <= last_needed:
                raise CropsError(
                    f"{video} has {reader.frames_read} frames, but its tracks.npz has detections up to frame "
                    f"{last_needed}: the tracks belong to another video; delete this video's tracks.npz and run `snakemake` again, which rebuilds it"
                )
    n = sum(len(p) for p in chosen.values())
    log.info(
        "%d persons, %d crops, last frame read %d, %.1f s", len(persons), n, last_needed, time.monotonic() - started
    )
    return n
