"""Appearance models: one contract for every network that turns person crops into features.

``features.model`` names the model; three kinds are known:

=============================  =====================================================  ==================
``features.model``             what runs                                              input (H x W)
=============================  =====================================================  ==================
``osnet_x0_25`` (any name)     a torchreid architecture, ``features.weights`` loaded  any: ``crops.height``
                                                                                       x ``crops.width``
``clip:ViT-B-32`` (any arch)   the image tower of an open_clip model built from its   its config's
                               config, ``features.weights`` loaded                    (224 x 224 here)
``onnx:osnet_x0_25.onnx``      an ONNX ReID export run by ONNX Runtime; the file is   the file's input
                               the model (``features.weights`` is not used)            shape
=============================  =====================================================  ==================

The contract (``AppearanceModel``): uint8 RGB crops ``(B, H, W, 3)`` in, one L2-normalised float32
vector per crop out; the model states the input size it needs (``input_size``, None: any), and the crops
stage stores the crops at that size (``crop_size``, asked by rules/common.smk while the workflow is
planned), so nothing is resized twice. Light on purpose (standard library only, plus ``onnx`` to read an
ONNX file's input shape): the Snakefile imports it; the backends import torch when a model is loaded.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from reidflow import ReidflowError

if TYPE_CHECKING:
    import numpy as np

    from reidflow.settings import FeatureSettings

# An embedder maps a uint8 batch (B, H, W, 3) RGB to float32 (B, D) unit-length features.
Embedder = Callable[["np.ndarray"], "np.ndarray"]

KINDS = ("torchreid", "clip", "onnx")
# torchreid models that run at one input size (height, width) only; the others take the crops' size.
FIXED_INPUT_SIZES = {"hacnn": (160, 64)}


class FeaturesError(ReidflowError):
    pass


@dataclass(frozen=True)
class ModelName:
    """A parsed ``features.model``: its kind (``KINDS``) and the architecture or ONNX file it names."""

    kind: str
    name: str


def parse_model(value: str) -> ModelName:
    """``osnet_x0_25`` -> torchreid; ``clip:<open_clip architecture>``; ``onnx:<file>``.

    Examples:
        >>> from reidflow import appearance
        >>> appearance.parse_model("clip:ViT-B-32")
        ModelName(kind='clip', name='ViT-B-32')
        >>> appearance.parse_model("osnet_x0_25")
        ModelName(kind='torchreid', name='osnet_x0_25')
    """
    kind, sep, name = value.partition(":")
    if not sep:
        return ModelName("torchreid", value)
    if kind not in ("clip", "onnx") or not name:
        raise FeaturesError(
            f"config: features.model {value!r}: unknown; give a torchreid model name (osnet_x0_25), "
            "clip:<open_clip architecture> (clip:ViT-B-32) or onnx:<file> (onnx:osnet_x0_25_msmt17.onnx)"
        )
    return ModelName(kind, name)


def model_file(section: Mapping[str, Any]) -> str:
    """The config value of the file a features section loads: the ``onnx:`` file, else ``weights``.

    Examples:
        >>> model_file({"model": "onnx:osnet.onnx", "weights": "osnet_x0_25_msmt17.pth"})
        'osnet.onnx'
        >>> model_file({"model": "clip:ViT-B-32", "weights": "clip_vit_b_32.safetensors"})
        'clip_vit_b_32.safetensors'
    """
    parsed = parse_model(section["model"])
    return parsed.name if parsed.kind == "onnx" else str(section["weights"])


def clip_config(arch: str) -> dict[str, Any]:
    """open_clip's JSON config of ``arch``, read from the installed package without importing it (no torch)."""
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise FeaturesError(
            f"features.model clip:{arch} needs open_clip, which is not installed: pip install 'reidflow[clip]' "
            "(open-clip-torch)"
        )
    configs = Path(next(iter(spec.submodule_search_locations))) / "model_configs"
    path = configs / f"{arch}.json"
    if not path.is_file():
        known = sorted(p.stem for p in configs.glob("*.json"))
        raise FeaturesError(
            f"config: features.model clip:{arch}: open_clip has no architecture {arch!r}; known: {', '.join(known)}"
        )
    config: dict[str, Any] = json.loads(path.read_text())
    return config


def onnx_input_shape(path: str | Path) -> list[int | str]:
    """The first graph input's shape of an ONNX file (an int per fixed dimension, a name per free one)."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise FeaturesError(f"{path}: ONNX file not found; fix features.model onnx:<file> or put the file there")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as err:  # protobuf's DecodeError and friends: the file is damaged, whatever the kind
        raise FeaturesError(
            f"{path}: not a readable ONNX model ({type(err).__name__}); the file is truncated or not ONNX: "
            "export it again (scripts/export_reid_onnx.py) or fetch it again"
        ) from None
    weights = {init.name for init in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in weights]
    if not inputs:
        raise FeaturesError(f"{path}: the ONNX model has no input; give a ReID export taking (N, 3, H, W) images")
    dims = inputs[0].type.tensor_type.shape.dim
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in dims]


def input_size(model: str, path: str | Path | None = None) -> tuple[int, int] | None:
    """The (height, width) ``model`` takes, or None when it takes any size (torchreid's CNNs).

    ``path``: the ONNX file of an ``onnx:`` model (its input shape says the size). Cheap: no torch.

    Examples:
        >>> input_size("clip:ViT-B-32"), input_size("osnet_x0_25"), input_size("hacnn")
        ((224, 224), None, (160, 64))
    """
    parsed = parse_model(model)
    if parsed.kind == "torchreid":
        return FIXED_INPUT_SIZES.get(parsed.name)
    if parsed.kind == "clip":
        size = clip_config(parsed.name).get("vision_cfg", {}).get("image_size", 224)
        height, width = (size, size) if isinstance(size, int) else size
        return int(height), int(width)
    shape = onnx_input_shape(path if path is not None else parsed.name)
    check_onnx_input(shape, path or parsed.name)
    height, width = shape[2], shape[3]
    return (height, width) if isinstance(height, int) and isinstance(width, int) else None


def check_onnx_input(shape: list[int | str], path: str | Path) -> None:
    if len(shape) != 4 or shape[1] != 3:
        raise FeaturesError(
            f"{path}: the ONNX model takes input of shape {shape}, not (N, 3, H, W) RGB images; give a ReID "
            "export of an image model (e.g. BoxMOT's osnet_*.onnx, or scripts/export_reid_onnx.py)"
        )


def crop_size(model: str, path: str | Path | None, height: int, width: int) -> tuple[int, int]:
    """The size the crops stage stores for ``model``: its own input size, else ``height`` x ``width``
    (``crops.height``, ``crops.width``). rules/common.smk hands it to rule crops.

    Examples:
        >>> crop_size("clip:ViT-B-32", None, 256, 128), crop_size("osnet_x0_25", None, 256, 128)
        ((224, 224), (256, 128))
    """
    return input_size(model, path) or (height, width)


def check_crop_size(model: str, fixed: tuple[int, int] | None, size: tuple[int, int], crops_file: str | Path) -> None:
    """Refuse crops of a size that a model of one input size cannot take: they are never resized again."""
    if fixed is not None and tuple(size) != tuple(fixed):
        raise FeaturesError(
            f"{crops_file}: crops of {size[0]}x{size[1]} px, but features.model {model} takes {fixed[0]}x{fixed[1]} "
            f"crops only (the crops are its input, never resized again); make the crops for this model: the "
            f"workflow's rule crops does so itself (delete {crops_file} to rebuild it), from Python give "
            f"CropSettings(height={fixed[0]}, width={fixed[1]})"
        )


class AppearanceModel(Protocol):
    """A loaded appearance model: what ``extract_features`` needs of any backend."""

    name: str  # the features.model value
    input_size: tuple[int, int] | None  # (height, width) it takes, None: any

    def feature_dim(self, input_size: tuple[int, int]) -> int: ...

    def embedder(
        self, settings: FeatureSettings, threads: int, input_size: tuple[int, int], gpu: bool | None = None
    ) -> Embedder:
        """uint8 (B, H, W, 3) RGB -> float32 (B, D) unit rows, on the backend/device ``settings`` mean."""
        ...


def load(model: str, weights: str | Path) -> AppearanceModel:
    """The appearance model ``model`` (a ``features.model`` value), loaded from the local file ``weights``.

    ``weights``: the weights file (torchreid, clip), or the ONNX file itself (onnx). Nothing is ever
    downloaded; the caller checks the file's sha256 first (``assets.verify_model``).

    Examples:
        >>> from reidflow import appearance
        >>> from reidflow.settings import FeatureSettings
        >>> net = appearance.load("osnet_x0_25", "resources/models/osnet_x0_25_msmt17.pth")  # doctest: +SKIP
        >>> # crops: uint8 (B, 256, 128, 3) RGB
        >>> embed = net.embedder(FeatureSettings(device="cpu"), threads=2, input_size=(256, 128))  # doctest: +SKIP
        >>> embed(crops).shape  # doctest: +SKIP
        (B, 512)
        >>> appearance.load("clip:ViT-B-32", "models/open_clip_vit_b_32.safetensors").input_size  # doctest: +SKIP
        (224, 224)
        >>> appearance.load("onnx:osnet_x0_25.onnx", "models/osnet_x0_25.onnx").input_size  # doctest: +SKIP
        (256, 128)
    """
    parsed = parse_model(model)
    if parsed.kind == "torchreid":
        from reidflow.appearance import torchreid_models

        return torchreid_models.load(parsed.name, weights)
    if parsed.kind == "clip":
        from reidflow.appearance import clip_models

        return clip_models.load(parsed.name, weights)
    from reidflow.appearance import onnx_models

    return onnx_models.load(model, weights)
