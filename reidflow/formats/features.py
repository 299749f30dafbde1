"""``features.h5`` (stage ``features``), HDF5: attrs as FeaturesMeta; ``track_ids`` in final_crops.h5's order;
tracks/<id>/features float32 (K, D), unit rows, row i = crop i of that track.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from reidflow.files import atomic_output
from reidflow.formats.base import REBUILD, FormatError, plain

FEATURES_FORMAT_VERSION = 1


@dataclass(frozen=True)
class FeaturesMeta:
    video: str
    model: str  # features.model: a torchreid name, clip:<architecture> or onnx:<file> (reidflow.appearance)
    weights: str  # name of the file the model loaded (for onnx: the ONNX file)
    weights_sha256: str  # of that file, as checked before loading
    input_height: int  # the crops' size, which the model took as it is
    input_width: int
    feature_dim: int
    format_version: int = FEATURES_FORMAT_VERSION


@dataclass(frozen=True)
class Features:
    """Per track a float32 (K, D) matrix of unit-length features, row i = crop i of that track in final_crops.h5.

    ``by_track`` keeps the order of final_crops.h5's persons table (longest-seen first).
    """

    meta: FeaturesMeta
    by_track: dict[int, np.ndarray]

    @property
    def track_ids(self) -> list[int]:
        return list(self.by_track)


def write_features(path: str | os.PathLike, features: Features) -> None:
    import h5py

    with atomic_output(path) as tmp, h5py.File(tmp, "w") as file:
        file.attrs.update(asdict(features.meta))
        file.create_dataset("track_ids", data=np.asarray(features.track_ids, dtype=np.int64))
        group = file.create_group("tracks")
        dim = features.meta.feature_dim
        for track_id, matrix in features.by_track.items():
            matrix = np.asarray(matrix, dtype=np.float32)
            if matrix.ndim != 2 or matrix.shape[1] != dim:
                raise ValueError(f"track {track_id}: features of shape {matrix.shape}, expected (K, {dim})")
            group.create_dataset(f"{int(track_id)}/features", data=matrix)


def read_features(path: str | os.PathLike) -> Features:
    return _read_features(path, with_tracks=True)


def read_features_meta(path: str | os.PathLike) -> FeaturesMeta:
    """The attributes alone (model, weights, sizes), without loading every track's matrix."""
    return _read_features(path, with_tracks=False).meta


def _read_features(path: str | os.PathLike, with_tracks: bool) -> Features:
    import h5py

    path = Path(path)
    hint = REBUILD
    try:
        with h5py.File(path, "r") as file:
            attrs = {k: plain(v) for k, v in file.attrs.items()}
            if attrs.get("format_version") != FEATURES_FORMAT_VERSION:
                raise FormatError(
                    f"{path}: features format version {attrs.get('format_version')}, this reidflow reads version "
                    f"{FEATURES_FORMAT_VERSION}; {hint}"
                )
            meta = FeaturesMeta(**{k: v for k, v in attrs.items() if k in FeaturesMeta.__dataclass_fields__})
            track_ids = file["track_ids"][()] if with_tracks else []
            by_track = {int(t): file["tracks"][str(int(t))]["features"][()] for t in track_ids}
    except FileNotFoundError:
        raise FormatError(f"{path}: file not found; run the workflow's 'features' rule to create it") from None
    except (OSError, KeyError, TypeError) as err:
        raise FormatError(f"{path}: not a reidflow features.h5 file ({err}); {hint}") from None
    return Features(meta=meta, by_track=by_track)
