"""``final_crops.h5`` (stage ``crops``), HDF5, and the codec policy of its crops (Blosc/LZ4):

attrs        format_version, video, source, fps, frame_count, crop_height, crop_width, resize, params (JSON)
persons      table (track_id, first_frame, last_frame, detections, crops_kept), longest-seen first
tracks/<id>/ one group per kept track, K crops in frame order:
    crops    uint8 (K,H,W,3) RGB, chunked one crop per chunk, compressed
    frames   int64 (K,), boxes float32 (K,4) original xyxy box, and one (K,) dataset per metric
             in CROP_METRICS (``rank``: 1 = best quality within the track)
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import hdf5plugin
import numpy as np

from reidflow.files import atomic_output
from reidflow.formats.base import REBUILD, FormatError, plain

CROPS_FORMAT_VERSION = 1
# Blosc/LZ4: lossless and several times faster than gzip or LZF on video crops. Reading needs the
# filter, which ``import hdf5plugin`` registers (done above, so every reader of this module has it).
CROP_BLOSC: dict[str, Any] = dict(cname="lz4", clevel=5, shuffle=hdf5plugin.Blosc.NOSHUFFLE)
CROP_COMPRESSION = dict(hdf5plugin.Blosc(**CROP_BLOSC))
CROP_METRICS = ("confidence", "area_ratio", "aspect", "truncated", "sharpness", "occlusion", "quality", "rank")
PERSONS_DTYPE = np.dtype(
    [("track_id", "<i8"), ("first_frame", "<i8"), ("last_frame", "<i8"), ("detections", "<i8"), ("crops_kept", "<i8")]
)


@dataclass(frozen=True)
class CropsMeta:
    video: str
    source: str
    fps: float
    frame_count: int
    crop_height: int
    crop_width: int
    resize: str
    params: dict[str, Any] = field(default_factory=dict)
    format_version: int = CROPS_FORMAT_VERSION


@dataclass(frozen=True)
class TrackCrops:
    """One track's crops in frame order; ``crops`` is None when read without images."""

    track_id: int
    frames: np.ndarray
    boxes: np.ndarray
    metrics: dict[str, np.ndarray]
    crops: np.ndarray | None = None


class CropsWriter:
    """Writes final_crops.h5 crop by crop, so memory holds a few frames, not every crop.

    Made by ``open_crops_writer``, which owns the file. Each crop is compressed here with python-blosc
    (the codec and settings of CROP_COMPRESSION) and stored as a finished chunk: HDF5's own filter
    pipeline compresses under the GIL, stalling other threads (the frame decoder); python-blosc releases
    it. Readers see an ordinary Blosc-filtered dataset, one crop per chunk.
    """

    def __init__(self, file: Any, meta: CropsMeta, persons: np.ndarray):
        import blosc

        blosc.set_releasegil(True)
        self._compress = functools.partial(blosc.compress, typesize=1, **CROP_BLOSC)
        self._file = file
        file.attrs.update({k: v for k, v in asdict(meta).items() if k != "params"})
        file.attrs["params"] = json.dumps(meta.params, sort_keys=True)
        file.create_dataset("persons", data=persons.astype(PERSONS_DTYPE))
        tracks = file.create_group("tracks")
        h, w = meta.crop_height, meta.crop_width
        self._crop_shape = (h, w, 3)
        self._crops: dict[int, Any] = {}
        for person in persons:
            k = int(person["crops_kept"])
            group = tracks.create_group(str(int(person["track_id"])))
            self._crops[int(person["track_id"])] = group.create_dataset(
                "crops",
                shape=(k, h, w, 3),
                dtype=np.uint8,
                chunks=(1, h, w, 3) if k else None,
                **(CROP_COMPRESSION if k else {}),
            )

    def put_crop(self, track_id: int, slot: int, image: np.ndarray) -> None:
        if image.shape != self._crop_shape or image.dtype != np.uint8:
            raise FormatError(
                f"a crop of {image.shape} {image.dtype}, but final_crops.h5 holds {self._crop_shape} uint8"
            )
        self._crops[track_id].id.write_direct_chunk((slot, 0, 0, 0), self._compress(np.ascontiguousarray(image)))

    def put_track(self, track_id: int, frames: np.ndarray, boxes: np.ndarray, metrics: dict[str, np.ndarray]) -> None:
        group = self._file["tracks"][str(track_id)]
        group.create_dataset("frames", data=np.asarray(frames, dtype=np.int64))
        group.create_dataset("boxes", data=np.asarray(boxes, dtype=np.float32))
        for name in CROP_METRICS:
            group.create_dataset(name, data=metrics[name])


@contextlib.contextmanager
def open_crops_writer(path: str | os.PathLike, meta: CropsMeta, persons: np.ndarray) -> Iterator[CropsWriter]:
    """The file appears under its name only when the block succeeds and the HDF5 file closed cleanly."""
    import h5py

    with atomic_output(path) as tmp:
        # Created afresh, not truncated ("w"): on ext4, truncating the empty temporary file makes close()
        # write the whole file back synchronously (auto_da_alloc), ~0.07 s per 130 MB of crops.
        tmp.unlink()
        with h5py.File(tmp, "x") as file:
            yield CropsWriter(file, meta, persons)


class CropsReader:
    """The only way later stages read final_crops.h5."""

    def __init__(self, path: str | os.PathLike):
        import h5py

        self.path = Path(path)
        try:
            self._file = h5py.File(self.path, "r")
        except FileNotFoundError:
            raise FormatError(f"{self.path}: file not found; run the workflow's 'crops' rule to create it") from None
        except OSError as err:
            raise FormatError(f"{self.path}: not an HDF5 file ({err}); {REBUILD}") from None
        attrs = dict(self._file.attrs)
        version = attrs.get("format_version")
        if version != CROPS_FORMAT_VERSION:
            self._file.close()
            raise FormatError(
                f"{self.path}: crops format version {version}, this reidflow reads version {CROPS_FORMAT_VERSION}; "
                + REBUILD
            )
        attrs["params"] = json.loads(attrs["params"])
        fields = CropsMeta.__dataclass_fields__
        self.meta = CropsMeta(**{k: plain(v) for k, v in attrs.items() if k in fields})
        self.persons = self._file["persons"][()]

    @property
    def track_ids(self) -> list[int]:
        return [int(t) for t in self.persons["track_id"]]

    def read(self, track_id: int, images: bool = True) -> TrackCrops:
        group = self._file["tracks"][str(int(track_id))]
        return TrackCrops(
            track_id=int(track_id),
            frames=group["frames"][()],
            boxes=group["boxes"][()],
            metrics={name: group[name][()] for name in CROP_METRICS},
            crops=group["crops"][()] if images else None,
        )

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> CropsReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_crop_frames(path: str | os.PathLike, track_ids: list[int] | None = None) -> list[np.ndarray]:
    """The frame of each crop of each track (``track_ids``: the file's own order when None), without images.

    A track that the file lacks is an error naming the file.
    """
    with CropsReader(path) as reader:
        ids = reader.track_ids if track_ids is None else [int(t) for t in track_ids]
        missing = sorted(set(ids) - set(reader.track_ids))
        if missing:
            raise FormatError(f"{path}: no crops of track(s) {', '.join(map(str, missing[:10]))}; {REBUILD}")
        return [reader.read(t, images=False).frames for t in ids]
