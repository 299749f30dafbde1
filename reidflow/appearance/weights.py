"""A local weights file read safely: tensors only (``torch.load(weights_only=True)``, or safetensors)."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from reidflow.appearance import FeaturesError


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a weights file; accepts a plain state dict, a torchreid checkpoint, DataParallel names,
    and ``.safetensors`` files (open_clip's Hugging Face exports)."""
    path = Path(path)
    if not path.is_file():
        raise FeaturesError(f"{path}: weights file not found; set features.weights or models_dir")
    if path.suffix == ".safetensors":
        return _read_safetensors(path)
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
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
        loaded = loaded["state_dict"]  # torchreid's (and open_clip's) training checkpoints
    if not isinstance(loaded, dict) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise FeaturesError(f"{path}: not a state dict of tensors; give the weights file of the model")
    return {k.removeprefix("module."): v for k, v in loaded.items()}


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(path, device="cpu")
    except (SafetensorError, OSError, ValueError) as err:
        raise FeaturesError(
            f"{path}: cannot read the weights ({type(err).__name__}: {err}); the file is truncated or not a "
            "safetensors file: delete it and fetch it again"
        ) from None


def mismatch(expected: dict[str, torch.Tensor], state: dict[str, torch.Tensor]) -> list[str]:
    """What keeps ``state`` from loading into a module whose state dict is ``expected``, counted per kind."""
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    wrong_shape = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    return [
        f"{len(items)} {what} (e.g. {', '.join(items[:3])})"
        for what, items in (
            ("missing keys", missing),
            ("unexpected keys", unexpected),
            ("keys of another shape", wrong_shape),
        )
        if items
    ]
