"""CLIP image embeddings (``features.model: clip:<open_clip architecture>``), through open_clip.

The model is built from open_clip's config of the architecture with ``pretrained=None`` (open_clip never
downloads then) and its image tower loaded from the local ``features.weights`` file: open_clip's state
dict (``open_clip_pytorch_model.bin`` or ``open_clip_model.safetensors``), read as tensors only. Of the
file only the ``visual.*`` keys are used; they must all match. CLIP's own preprocessing is applied batch-wise
in the network: its mean/std, at its input size (224x224 for ViT-B-32), which the crops stage stores (the
crops are the model's input, never resized here). Features: the image tower's output (512-d for
ViT-B-32), L2-normalised.

CLIP is not trained for person re-identification: it embeds what an image shows (clothing colours and
kinds, carried things, the scene around), not the identity cues a ReID model learns. It may help across
cameras of very different colour, viewpoint or resolution, and where clothing is the cue wanted; on one
camera a ReID model separates people better (bench/models.py measures both).
"""

from __future__ import annotations

from pathlib import Path

import torch

from reidflow import appearance
from reidflow.appearance import FeaturesError
from reidflow.appearance.network import TorchModel
from reidflow.appearance.weights import mismatch, read_state_dict

VISUAL = "visual."


def build_visual(arch: str) -> torch.nn.Module:
    """open_clip's image tower of ``arch``, built from its config, randomly initialised (torch's seed)."""
    import open_clip

    config = appearance.clip_config(arch)  # a clear error for an unknown architecture, before open_clip's own
    # The image tower alone: create_model would build the text tower too, and for some architectures
    # (roberta-*, xlm-roberta-*, mt5-*, ...) that one comes from the Hugging Face hub. The builder is
    # open_clip's own (private in 3.3.0, the pinned version: tests/test_appearance.py builds with it).
    visual = open_clip.model._build_vision_tower(
        config["embed_dim"], config["vision_cfg"], quick_gelu=config.get("quick_gelu", False)
    )
    preprocess = config.get("preprocess_cfg", {})
    for key in ("mean", "std"):  # what the architecture was trained with, where its config says
        if key in preprocess:
            setattr(visual, f"image_{key}", tuple(preprocess[key]))
    return visual


def load(arch: str, weights: str | Path) -> TorchModel:
    visual = build_visual(arch)
    state = read_state_dict(weights)
    image_state = {k.removeprefix(VISUAL): v for k, v in state.items() if k.startswith(VISUAL)}
    expected = visual.state_dict()
    problems = mismatch(expected, image_state) if image_state else ["no image-tower keys (visual.*)"]
    if problems:
        raise FeaturesError(
            f"{weights}: these weights do not fit open_clip's image tower of {arch!r}: {'; '.join(problems)}. "
            f"Give open_clip weights of {arch} (its open_clip_pytorch_model.bin or open_clip_model.safetensors) "
            "in features.weights, or set features.model to clip:<the file's architecture>"
        )
    visual.load_state_dict({k: v.float() for k, v in image_state.items()})
    return from_visual(arch, visual)


def from_visual(arch: str, visual: torch.nn.Module) -> TorchModel:
    """The image tower as an appearance model with CLIP's mean/std (the tower's own, else OpenAI's)."""
    import open_clip

    mean = getattr(visual, "image_mean", None) or open_clip.OPENAI_DATASET_MEAN
    std = getattr(visual, "image_std", None) or open_clip.OPENAI_DATASET_STD
    return TorchModel(f"clip:{arch}", visual.float(), mean, std, appearance.input_size(f"clip:{arch}"))
