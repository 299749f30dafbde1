"""A PyTorch appearance network run as the features stage needs it: uint8 crops in, unit features out.

The mean/std normalisation and the L2 norm are layers of the network (``NormalisedNetwork``), so ONNX
Runtime or the GPU runs them with it: no per-crop Python work, and only uint8 pixels travel to a GPU. On
CPU (backend ``onnx``) the loaded network runs as an in-memory ONNX Runtime export (about 3x eager
PyTorch for OSNet); on CUDA as PyTorch, in fp16 if ``half``.
"""

from __future__ import annotations

import io
import logging
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from reidflow import backends
from reidflow.appearance import Embedder, FeaturesError
from reidflow.settings import FeatureSettings

log = logging.getLogger(__name__)


class NormalisedNetwork(torch.nn.Module):
    """uint8 (B, H, W, 3) RGB crops -> unit-length float32 features of ``model`` (which takes
    (B, 3, H, W) images normalised with ``mean``/``std`` of pixel values in [0, 1])."""

    mean: torch.Tensor  # buffers, declared for the type checker
    std: torch.Tensor

    def __init__(self, model: torch.nn.Module, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(tuple(mean)).view(1, 3, 1, 1) * 255)
        self.register_buffer("std", torch.tensor(tuple(std)).view(1, 3, 1, 1) * 255)

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


def torch_embedder(network: NormalisedNetwork, device: str, half: bool, input_size: tuple[int, int]) -> Embedder:
    half = half and device.startswith("cuda")  # fp16 only where it is fast and supported
    network = network.to(device)
    if half:
        network = network.half()

    def embed(batch: np.ndarray) -> np.ndarray:
        images = torch.from_numpy(as_input(batch, input_size)).to(device, non_blocking=True)
        with torch.inference_mode():
            return network(images).cpu().numpy()

    return embed


def onnx_embedder(network: NormalisedNetwork, threads: int, input_size: tuple[int, int]) -> Embedder:
    """Export the loaded network to ONNX in memory and run it with ONNX Runtime on the CPU."""
    import onnxruntime as ort

    buffer = io.BytesIO()
    started = time.perf_counter()
    with warnings.catch_warnings():  # tracer notes about Python branches in the model's forward: expected
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        torch.onnx.export(
            network.float().eval(),
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
    network: NormalisedNetwork,
    settings: FeatureSettings,
    threads: int,
    input_size: tuple[int, int],
    gpu: bool | None = None,
) -> Embedder:
    """``network`` on the backend and device that ``settings`` mean (``backends.choose``), for crops of
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
        return onnx_embedder(network, threads, input_size)
    return torch_embedder(network, device, settings.half, input_size)


class TorchModel:
    """An ``AppearanceModel`` made of a PyTorch network (torchreid, open_clip's image tower)."""

    def __init__(
        self,
        name: str,
        module: torch.nn.Module,
        mean: Sequence[float],
        std: Sequence[float],
        input_size: tuple[int, int] | None,
    ):
        self.name = name
        self.module = module.eval()
        self.input_size = input_size
        self.network = NormalisedNetwork(self.module, mean, std).eval()

    def feature_dim(self, input_size: tuple[int, int]) -> int:
        dim = getattr(self.module, "feature_dim", None)
        if isinstance(dim, int):
            return dim
        with torch.inference_mode():
            return int(self.module(torch.zeros(1, 3, *input_size)).shape[1])

    def embedder(
        self, settings: FeatureSettings, threads: int, input_size: tuple[int, int], gpu: bool | None = None
    ) -> Embedder:
        return build_embedder(self.network, settings, threads, input_size, gpu)


def export_onnx(
    module: torch.nn.Module, path: str | Path, input_size: tuple[int, int], dynamic_batch: bool = True
) -> Path:
    """Write ``module`` as an ONNX ReID export in BoxMOT's convention: float32 (N, 3, H, W) input normalised
    outside the model, raw (N, D) features out; ``features.model: onnx:<file>`` runs it.

    Examples:
        >>> from reidflow.appearance import network, torchreid_models
        >>> osnet = torchreid_models.build_model("osnet_x0_25", "resources/models/osnet_x0_25_msmt17.pth")
        >>> network.export_onnx(osnet, "resources/models/osnet_x0_25_msmt17.onnx", (256, 128))
        PosixPath('resources/models/osnet_x0_25_msmt17.onnx')
    """
    from reidflow.files import atomic_output

    path = Path(path)
    with warnings.catch_warnings(), atomic_output(path) as tmp:
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            module.float().eval(),
            (torch.zeros(1, 3, *input_size),),
            str(tmp),
            input_names=["images"],
            output_names=["features"],
            dynamic_axes={"images": {0: "batch"}, "features": {0: "batch"}} if dynamic_batch else None,
            dynamo=False,
        )
    return path
