"""Stage 3, ``features``: one appearance feature per crop, batched, L2-normalised, never averaged.

The appearance model is pluggable (``reidflow.appearance``): a torchreid architecture by name, the image
tower of a CLIP model (``clip:<open_clip architecture>``) or an ONNX ReID export (``onnx:<file>``), each
loaded from a local file and never downloaded. Every one takes uint8 RGB crops at the size final_crops.h5
stores them and gives one unit-length float32 vector per crop. The model owns its input size: one of a
fixed size (CLIP 224x224, an ONNX file's input shape, torchreid's ``hacnn``) gets crops at that size from
the crops stage (rules/common.smk asks ``appearance.crop_size``); torchreid's CNNs take the crops' size
(``crops.height`` x ``crops.width``). Nothing is resized here: crops of a size the model cannot take are
refused, naming the fix. Torch models run on CPU as an in-memory ONNX Runtime export (about 3x eager
PyTorch for OSNet), on CUDA as PyTorch, in fp16 if ``half`` (``appearance.network``).
``bench/features.py`` compares the speed with torchreid's ``FeatureExtractor``, ``bench/models.py`` the
models' quality.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import cast

import numpy as np
import torch

from reidflow import appearance
from reidflow.appearance import FIXED_INPUT_SIZES, Embedder, FeaturesError
from reidflow.appearance.network import NormalisedNetwork
from reidflow.appearance.torchreid_models import IMAGENET_MEAN, IMAGENET_STD, build_model
from reidflow.appearance.weights import read_state_dict
from reidflow.formats.crops import CropsReader
from reidflow.formats.features import Features, FeaturesMeta
from reidflow.settings import FeatureSettings

log = logging.getLogger(__name__)

__all__ = [
    "FIXED_INPUT_SIZES",
    "Embedder",
    "FeatureSettings",
    "FeaturesError",
    "ReidNetwork",
    "build_model",
    "embed_in_batches",
    "extract_features",
    "read_state_dict",
]


def ReidNetwork(model: torch.nn.Module) -> NormalisedNetwork:
    """A torchreid model as a network of uint8 (B, H, W, 3) RGB crops -> unit features (ImageNet mean/std)."""
    return NormalisedNetwork(model, IMAGENET_MEAN, IMAGENET_STD)


def embed_in_batches(
    tracks: Iterable[tuple[int, np.ndarray]], embed: Embedder, batch_size: int
) -> dict[int, np.ndarray]:
    """Features of every crop of every track, batches filled across track boundaries, crop order kept."""
    parts: dict[int, list[np.ndarray]] = {}
    pending: list[tuple[int, np.ndarray]] = []  # (track id, crops) slices waiting for a full batch
    pending_count = 0

    def flush() -> None:
        nonlocal pending, pending_count
        features = embed(np.concatenate([crops for _, crops in pending]))
        start = 0
        for track_id, crops in pending:
            parts[track_id].append(features[start : start + len(crops)])
            start += len(crops)
        pending, pending_count = [], 0

    for track_id, crops in tracks:
        parts[track_id] = []
        start = 0
        while start < len(crops):
            take = min(len(crops) - start, batch_size - pending_count)
            pending.append((track_id, crops[start : start + take]))
            pending_count += take
            start += take
            if pending_count == batch_size:
                flush()
    if pending_count:
        flush()
    return {t: np.concatenate(p) if p else np.zeros((0, 0), np.float32) for t, p in parts.items()}


def extract_features(
    crops_path: str | Path,
    weights: str | Path,
    weights_sha256: str,
    settings: FeatureSettings,
    threads: int,
    gpu: bool | None = None,
) -> Features:
    """Features of every crop in final_crops.h5, per track in the file's order, at the crops' stored size.

    ``settings.model`` is any ``reidflow.appearance`` model; ``weights`` the file it loads (for
    ``onnx:<file>`` that file itself), whose ``weights_sha256`` is recorded in the result
    (``assets.verify_model`` checks and returns it). ``gpu``: whether the job has a GPU (in the workflow:
    Snakemake gave it one); None asks PyTorch.

    Examples:
        >>> from reidflow import assets, features
        >>> from reidflow.formats.features import write_features
        >>> weights = "resources/models/osnet_x0_25_msmt17.pth"
        >>> result = features.extract_features(
        ...     "results/vtest/final_crops.h5", weights, assets.sha256_file(weights),
        ...     features.FeatureSettings(model="osnet_x0_25", device="cpu"), threads=4)
        >>> result.meta.feature_dim, result.meta.input_height, result.meta.input_width
        (512, 256, 128)
        >>> write_features("features.h5", result)
    """
    with CropsReader(crops_path) as reader:
        input_size = (int(reader.meta.crop_height), int(reader.meta.crop_width))
        fixed = appearance.input_size(settings.model, weights)  # cheap: refuse before loading anything
        appearance.check_crop_size(settings.model, fixed, input_size, crops_path)
        model = appearance.load(settings.model, weights)
        dim = model.feature_dim(input_size)
        track_ids = reader.track_ids
        embed = model.embedder(settings, threads, input_size, gpu) if track_ids else None
        started = time.perf_counter()
        tracks = ((t, cast(np.ndarray, reader.read(t).crops)) for t in track_ids)  # read with images: never None
        by_track = embed_in_batches(tracks, embed, settings.batch_size) if embed else {}
        crops = sum(len(f) for f in by_track.values())
        log.info("%d crops of %d tracks in %.1f s", crops, len(track_ids), time.perf_counter() - started)
        meta = FeaturesMeta(
            video=reader.meta.video,
            model=settings.model,
            weights=Path(weights).name,
            weights_sha256=weights_sha256,
            input_height=input_size[0],
            input_width=input_size[1],
            feature_dim=dim,
        )
    return Features(meta=meta, by_track={t: by_track[t].reshape(-1, dim) for t in track_ids})
