"""Generated data shared by the tests of similarity, cluster and evaluate (imported, not fixtures)."""

import numpy as np

from reidflow.formats.tracks import TrackRows
from reidflow.similarity import unit_rows


def unit_tracks(rng: np.random.Generator, counts: list[int], dim: int = 24) -> list[np.ndarray]:
    """One (K, dim) matrix of random unit-length features per K in ``counts``."""
    return [unit_rows(rng.standard_normal((k, dim))) for k in counts]


def views_of(rng: np.random.Generator, person: np.ndarray, k: int, noise: float = 0.3) -> np.ndarray:
    """``k`` unit-length crop features of one person: noisy copies of the vector ``person``."""
    return unit_rows(person + noise * rng.standard_normal((k, len(person))))


def rows_for(spans: dict[int, tuple[int, int]]) -> TrackRows:
    """One detection per frame for each track id in ``spans`` {id: (first, last)}."""
    parts = [
        TrackRows(np.arange(a, b + 1), np.full(b - a + 1, t), np.zeros((b - a + 1, 4)), np.ones(b - a + 1))
        for t, (a, b) in spans.items()
    ]
    return TrackRows.concatenate(parts)


def walker(track_ids, x0: float, frames: np.ndarray | None = None, score: float = 1.0) -> TrackRows:
    """Boxes of one person walking right, 2 px a frame (default frames 0-39); ``track_ids`` per frame
    (a scalar or an array)."""
    frames = np.arange(40) if frames is None else np.asarray(frames)
    x = x0 + 2.0 * frames
    boxes = np.c_[x, np.full_like(x, 100.0), x + 40, np.full_like(x, 220.0)]
    return TrackRows(frames, np.broadcast_to(track_ids, frames.shape), boxes, np.full(len(frames), score))


def write_crops_of(path, video: str, rows: TrackRows, crop_counts: dict[int, int]) -> None:
    """A final_crops.h5 for generated ``rows``: per track in ``crop_counts`` that many tiny grey crops, at
    the track's first frames (what the similarity stage reads: the frame of each crop)."""
    from reidflow.formats.crops import CROP_METRICS, PERSONS_DTYPE, CropsMeta, open_crops_writer

    frames_of = {t: np.sort(rows.frames[rows.track_ids == t]) for t in crop_counts}
    persons = np.array(
        [(t, f[0], f[-1], len(f), crop_counts[t]) for t, f in frames_of.items()],
        dtype=PERSONS_DTYPE,
    )
    meta = CropsMeta(video, f"{video}.avi", 10.0, int(rows.frames.max()) + 1, 8, 4, "stretch", {})
    with open_crops_writer(path, meta, persons) as writer:
        for t, k in crop_counts.items():
            for slot in range(k):
                writer.put_crop(t, slot, np.full((8, 4, 3), 128, dtype=np.uint8))
            metrics = {name: np.ones(k, dtype=np.float32) for name in CROP_METRICS}
            metrics["rank"] = np.arange(1, k + 1)
            writer.put_track(t, frames_of[t][:k], np.tile([0, 0, 4, 8], (k, 1)), metrics)
