"""torchreid architectures by name (``features.model: osnet_x0_25``), loaded from a local weights file.

Built without pretrained downloads; classifier keys are dropped (their size depends on the training set),
every other key must match. Input: ImageNet mean/std, at the crops' size (256x128 as torchreid trains).
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from reidflow.appearance import FIXED_INPUT_SIZES, FeaturesError
from reidflow.appearance.network import TorchModel
from reidflow.appearance.weights import mismatch, read_state_dict

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Heads whose size depends on the training set's identities (HACNN has classifier_global/_local).
CLASSIFIER = re.compile(r"^classifier(_\w+)?\.")


def build_model(name: str, weights: str | Path) -> torch.nn.Module:
    """The torchreid model ``name`` in eval mode with ``weights``; never left with random weights."""
    from torchreid.reid import models

    if name not in models.__model_factory:
        raise FeaturesError(
            f"unknown torchreid model {name!r} (features.model); known: {', '.join(sorted(models.__model_factory))}, "
            "or clip:<open_clip architecture>, onnx:<file>"
        )
    model = models.build_model(name, num_classes=1, pretrained=False)  # pretrained=True would download
    state = {k: v for k, v in read_state_dict(weights).items() if not CLASSIFIER.match(k)}
    expected = {k: v for k, v in model.state_dict().items() if not CLASSIFIER.match(k)}
    problems = mismatch(expected, state)
    if problems:
        raise FeaturesError(
            f"{weights}: these weights do not fit torchreid model {name!r}: {'; '.join(problems)}. "
            f"Set features.model to the file's architecture, or features.weights to weights for {name}"
        )
    model.load_state_dict(state, strict=False)  # only the classifier is left out, checked above
    return model.eval()


def load(name: str, weights: str | Path) -> TorchModel:
    return TorchModel(name, build_model(name, weights), IMAGENET_MEAN, IMAGENET_STD, FIXED_INPUT_SIZES.get(name))
