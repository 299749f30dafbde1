"""An ONNX ReID export (``features.model: onnx:<file>``), run by ONNX Runtime.

The convention of BoxMOT's ``osnet_*.onnx`` and of scripts/export_reid_onnx.py: input float32
(N, 3, H, W) RGB, normalised with ImageNet mean/std outside the model (here, batch-wise), output (N, D)
features, L2-normalised here. The input and output shapes are checked when the file is loaded; a fixed
H x W is the size the crops stage stores (``appearance.input_size``), a fixed N makes the crops go in
chunks of N.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from reidflow import appearance, backends
from reidflow.appearance import Embedder, FeaturesError
from reidflow.appearance.network import as_input
from reidflow.settings import FeatureSettings

log = logging.getLogger(__name__)

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32).reshape(1, 3, 1, 1)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1)


def session(path: Path, threads: int, providers: list[str]):  # -> onnxruntime.InferenceSession
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # ONNX Runtime's own warnings (unused initialisers...) are noise here
    try:
        return ort.InferenceSession(str(path), options, providers=providers)
    except Exception as err:  # onnxruntime raises its own Fail/InvalidProtobuf/... kinds
        raise FeaturesError(
            f"{path}: ONNX Runtime cannot load it ({type(err).__name__}: {str(err).splitlines()[0][:200]}); "
            "the file is truncated or not an ONNX model: export it again (scripts/export_reid_onnx.py)"
        ) from None


class OnnxFileModel:
    """An ``AppearanceModel`` of an ONNX file; shapes checked on loading."""

    def __init__(self, name: str, path: str | Path):
        self.name = name
        self.path = Path(path)
        shape = appearance.onnx_input_shape(self.path)
        appearance.check_onnx_input(shape, self.path)
        probe = session(self.path, 1, ["CPUExecutionProvider"])
        (first, *more), outputs = probe.get_inputs(), probe.get_outputs()
        if more:
            raise FeaturesError(
                f"{self.path}: the ONNX model has {len(more) + 1} inputs; a ReID export takes images only"
            )
        if first.type not in ("tensor(float)", "tensor(float16)"):
            raise FeaturesError(
                f"{self.path}: the ONNX model takes {first.type}, not float images normalised with ImageNet "
                "mean/std (the BoxMOT convention); export it so (scripts/export_reid_onnx.py)"
            )
        if len(outputs[0].shape) != 2:
            raise FeaturesError(
                f"{self.path}: the ONNX model's output {outputs[0].name!r} has shape {outputs[0].shape}, not "
                "(N, D) features; give a ReID export (without classifier), e.g. BoxMOT's osnet_*.onnx"
            )
        self.input_name = first.name
        self.float16 = first.type == "tensor(float16)"
        self.batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None  # fixed batch: chunks
        height, width = shape[2], shape[3]
        self.input_size = (height, width) if isinstance(height, int) and isinstance(width, int) else None
        self._dim = outputs[0].shape[1] if isinstance(outputs[0].shape[1], int) else None

    def feature_dim(self, input_size: tuple[int, int]) -> int:
        if self._dim is None:
            self._dim = int(
                self.embedder(FeatureSettings(device="cpu"), 1, input_size)(
                    np.zeros((1, *input_size, 3), np.uint8)
                ).shape[1]
            )
        return self._dim

    def embedder(
        self, settings: FeatureSettings, threads: int, input_size: tuple[int, int], gpu: bool | None = None
    ) -> Embedder:
        """ONNX Runtime on the CPU, or with its CUDA provider on a GPU when installed (onnxruntime-gpu)."""
        import onnxruntime as ort

        _, device = backends.choose(settings.backend, settings.device, "features", gpu)
        providers = ["CPUExecutionProvider"]
        if device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        elif device.startswith("cuda") and settings.device != "auto":  # asked for by name: never a quiet CPU run
            raise FeaturesError(
                f"{self.path}: features.device {settings.device!r}, but ONNX Runtime here has no CUDA provider; "
                "install onnxruntime-gpu, or set features.device: cpu"
            )
        elif device.startswith("cuda"):
            log.warning(
                "ONNX Runtime has no CUDA provider here (install onnxruntime-gpu): %s runs on the CPU", self.path
            )
        run = session(self.path, threads, providers)
        log.info(
            "ReID %s with ONNX Runtime (%s, batch %d, %dx%d crops)",
            self.name,
            providers[0],
            settings.batch_size,
            *input_size,
        )
        dtype = np.float16 if self.float16 else np.float32

        def forward(images: np.ndarray) -> np.ndarray:
            x = (images.transpose(0, 3, 1, 2).astype(np.float32) / 255 - IMAGENET_MEAN) / IMAGENET_STD
            out = run.run(None, {self.input_name: x.astype(dtype)})[0]
            if out.ndim != 2 or len(out) != len(images):
                raise FeaturesError(
                    f"{self.path}: the ONNX model gave features of shape {out.shape} for {len(images)} crops; "
                    "give a ReID export whose output is (N, D)"
                )
            return out.astype(np.float32)

        def embed(batch: np.ndarray) -> np.ndarray:
            images = as_input(batch, input_size)
            if self.batch is None:
                out = forward(images)
            else:  # a file exported for batches of N: chunks of N, the last one padded
                parts = []
                for start in range(0, len(images), self.batch):
                    chunk = images[start : start + self.batch]
                    padded = np.concatenate([chunk, np.zeros((self.batch - len(chunk), *chunk.shape[1:]), np.uint8)])
                    parts.append(forward(padded)[: len(chunk)])
                out = np.concatenate(parts) if parts else np.zeros((0, self._dim or 0), np.float32)
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            return out / np.maximum(norms, 1e-12)

        return embed


def load(name: str, path: str | Path) -> OnnxFileModel:
    return OnnxFileModel(name, path)
