"""Stage 3, ``features``: one torchreid feature per crop, batched, L2-normalised, never averaged.

The model is any torchreid architecture by name, built without pretrained downloads and loaded from a
local weights file: classifier keys are dropped (their size depends on the training set), every other
key must match. Crops go in as uint8 RGB batches at the size final_crops.h5 stores them: the crops
stage owns the input size (``crops.height``, ``crops.width``) and nothing is resized here; a model that
runs at one size only (``FIXED_INPUT_SIZES``) refuses crops of another size, naming the settings to
change. The ImageNet mean/std normalisation and the L2 norm are layers of the network (``ReidNetwork``).
On CPU it runs as an in-memory ONNX Runtime export of the loaded model (about 3x eager PyTorch there); on
CUDA as PyTorch, in fp16 if ``half``. ``bench/features.py`` compares it with torchreid's ``FeatureExtractor``.
"""

from __future__ import annotations

import io
import logging
import pickle
import re
import time
import warnings
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import cast

import numpy as np
import torch

from reidflow import ReidflowError, backends
from reidflow.formats.crops import CropsReader
from reidflow.formats.features import Features, FeaturesMeta
from reidflow.settings import FeatureSettings

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Heads whose size depends on the training set's identities (HACNN has classifier_global/_local).
CLASSIFIER = re.compile(r"^classifier(_\w+)?\.")
# Models that run at one input size (height, width) only; the others take the crops' size.
FIXED_INPUT_SIZES = {"hacnn": (160, 64)}

# An embedder maps a uint8 batch (B, H, W, 3) RGB to float32 (B, D) unit-length features.
Embedder = Callable[[np.ndarray], np.ndarray]


class FeaturesError(ReidflowError):
    pass


def check_input_size(model: str, size: tuple[int, int], crops_file: str | Path) -> None:
    """Refuse crops of a size that ``model`` cannot take (``FIXED_INPUT_SIZES``)."""
    fixed = FIXED_INPUT_SIZES.get(model)
    if fixed is not None and tuple(size) != fixed:
        raise FeaturesError(
            f"{crops_file}: crops of {size[0]}x{size[1]} px, but features.model {model} takes {fixed[0]}x{fixed[1]} "
            f"crops only; set crops.height: {fixed[0]} and crops.width: {fixed[1]} (the crops are the model's input, "
            "never resized again)"
        )


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a weights file; accepts a plain state dict, a torchreid checkpoint and DataParallel names."""
    path = Path(path)
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise FeaturesError(f"{path}: weights file not found; set features.weights or models_dir") from None
    except pickle.UnpicklingError:
        # torch's own message advises weights_only=False, which would run the file's code: never show it
        raise FeaturesError(
            f"{path}: refused: the file contains objects other than tensors (code or classes a weights file does "
            "not need, which could run when loaded), or is no PyTorch file; use the official weights, or a plain "
            "state dict saved with torch.save(model.state_dict(), path)"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as err:
        raise FeaturesError(
            f"{path}: cannot read the weights ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}); "
            "the file is truncated or not a PyTorch state dict: delete it and fetch it again"
        ) from None
    if isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
        loaded = loaded["state_dict"]  # torchreid's training checkpoints
    if not isinstance(loaded, dict) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise FeaturesError(f"{path}: not a state dict of tensors; give the weights file of a torchreid model")
    return {k.removeprefix("module."): v for k, v in loaded.items()}


def build_model(name: str, weights: str | Path) -> torch.nn.Module:
    """The torchreid model ``name`` in eval mode with ``weights``; never left with random weights."""
    from torchreid.reid import models

    if name not in models.__model_factory:
        raise FeaturesError(
            f"unknown torchreid model {name!r} (features.model); known: {', '.join(sorted(models.__model_factory))}"
        )
    model = models.build_model(name, num_classes=1, pretrained=False)  # pretrained=True would download
    state = {k: v for k, v in read_state_dict(weights).items() if not CLASSIFIER.match(k)}
    expected = {k: v for k, v in model.state_dict().items() if not CLASSIFIER.match(k)}
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    wrong_shape = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or unexpected or wrong_shape:
        problems = [
            f"{len(items)} {what} (e.g. {', '.join(items[:3])})"
            for what, items in (
                ("missing keys", missing),
                ("unexpected keys", unexpected),
                ("keys of another shape", wrong_shape),
            )
            if items
        ]
        raise FeaturesError(
            f"{weights}: these weights do not fit torchreid model {name!r}: {'; '.join(problems)}. "
            f"Set features.model to the file's architecture, or features.weights to weights for {name}"
        )
    model.load_state_dict(state, strict=False)  # only the classifier is left out, checked above
    return model.eval()


def feature_dim(model: torch.nn.Module, input_size: tuple[int, int]) -> int:
    dim = getattr(model, "feature_dim", None)
    if isinstance(dim, int):
        return dim
    with torch.inference_mode():
        return int(model(torch.zeros(1, 3, *input_size)).shape[1])


class ReidNetwork(torch.nn.Module):
    """uint8 (B, H, W, 3) RGB crops -> unit-length float32 features.

    The ImageNet normalisation and the L2 norm are part of the network, so ONNX Runtime (or the GPU)
    runs them with it: no per-crop Python work, and only uint8 pixels travel to a GPU.
    """

    mean: torch.Tensor  # buffers, declared for the type checker
    std: torch.Tensor

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = (images.permute(0, 3, 1, 2).float() - self.mean.float()) / self.std.float()
        out = self.model(x.to(self.mean.dtype))  # fp16 when the network was made half
        return torch.nn.functional.normalize(out.float(), dim=1)


def as_input(batch: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    """The batch as the network takes it; crops of another size are an error, never stretched a second time."""
    if batch.shape[1:3] != tuple(input_size):
        raise FeaturesError(
            f"crops of {batch.shape[1]}x{batch.shape[2]} px, but the ReID network was built for "
            f"{input_size[0]}x{input_size[1]}: crops are embedded at the size they are stored"
        )
    return np.ascontiguousarray(batch)


def torch_embedder(model: torch.nn.Module, device: str, half: bool, input_size: tuple[int, int]) -> Embedder:
    half = half and device.startswith("cuda")  # fp16 only where it is fast and supported
    network = ReidNetwork(model).to(device)
    if half:
        network = network.half()

    def embed(batch: np.ndarray) -> np.ndarray:
        images = torch.from_numpy(as_input(batch, input_size)).to(device, non_blocking=True)
        with torch.inference_mode():
            return network(images).cpu().numpy()

    return embed


def onnx_embedder(model: torch.nn.Module, threads: int, input_size: tuple[int, int]) -> Embedder:
    """Export the loaded model to ONNX in memory and run it with ONNX Runtime on the CPU."""
    import onnxruntime as ort

    buffer = io.BytesIO()
    started = time.perf_counter()
    with warnings.catch_warnings():  # tracer notes about Python branches in the model's forward: expected
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            ReidNetwork(model).eval(),
            (torch.zeros(1, *input_size, 3, dtype=torch.uint8),),
            buffer,  # type: ignore[arg-type]  # torch writes to any binary file object
            input_names=["images"],
            output_names=["features"],
            dynamic_axes={"images": {0: "batch"}, "features": {0: "batch"}},
            dynamo=False,
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
    log.info("ONNX export of the ReID model: %.1f s", time.perf_counter() - started)

    def embed(batch: np.ndarray) -> np.ndarray:
        return session.run(None, {"images": as_input(batch, input_size)})[0]

    return embed


def build_embedder(
    model: torch.nn.Module,
    settings: FeatureSettings,
    threads: int,
    input_size: tuple[int, int],
    gpu: bool | None = None,
) -> Embedder:
    """The network on the backend and device that ``settings`` mean (``backends.choose``), for crops of
    ``input_size`` (height, width). ``gpu``: whether the job has a GPU; None asks PyTorch."""
    backend, device = backends.choose(settings.backend, settings.device, "features", gpu)
    torch.set_num_threads(threads)
    log.info(
        "ReID %s on %s (%s backend, batch %d, %dx%d crops)",
        settings.model,
        device,
        backend,
        settings.batch_size,
        *input_size,
    )
    if backend == "onnx":
        return onnx_embedder(model, threads, input_size)
    return torch_embedder(model, device, settings.half, input_size)


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

    ``weights_sha256`` is recorded in the result (``assets.verify_model`` checks and returns it).
    ``gpu``: whether the job has a GPU (in the workflow: Snakemake gave it one); None asks PyTorch.

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
        check_input_size(settings.model, input_size, crops_path)
        model = build_model(settings.model, weights)
        dim = feature_dim(model, input_size)
        track_ids = reader.track_ids
        embed = build_embedder(model, settings, threads, input_size, gpu) if track_ids else None
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
