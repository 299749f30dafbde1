import re
import sys
from pathlib import Path

sys.path.insert(0, workflow.basedir)  # the workflow's own reidflow, installed or not

from reidflow import assets, sheet

LIBRARY = Path(workflow.basedir) / "reidflow"
DEMO_VIDEO = "resources/demo/vtest.avi"
MODEL_REGISTRY = assets.load_registry(
    Path(workflow.basedir) / "resources" / "models.yaml"
)
MODELS_DIR = assets.local_models_dir(config.get("models_dir"))
VIDEOS = sheet.load_videos(config["videos"], producible={DEMO_VIDEO})


wildcard_constraints:
    video="|".join(re.escape(v) for v in VIDEOS),
    model_file="|".join(re.escape(m) for m in MODEL_REGISTRY),


def library(*modules):
    """Library modules a script imports: declared as inputs so that editing them reruns the rule."""
    return [
        str(LIBRARY / f"{m}.py") for m in ("__init__", "formats", "runtime", *modules)
    ]


def video_file(wildcards):
    return VIDEOS[wildcards.video].path


def model_file(name):
    return assets.resolve_model(name, MODELS_DIR, MODEL_REGISTRY)


DETECTOR_WEIGHTS = model_file(config["track"]["detector"])
DETECTOR_ONNX = f"resources/models/exported/{Path(DETECTOR_WEIGHTS).stem}.onnx"


DETECTOR_KEYS = (
    "imgsz",
    "conf",
    "iou",
    "max_det",
    "batch",
    "backend",
    "device",
    "half",
)


def stage_params(stage, keys):
    """A stage's knobs as one rule param, so that changing any of them reruns that rule."""
    return {key: config[stage][key] for key in keys}


def detector_inputs(wildcards):
    inputs = {"weights": DETECTOR_WEIGHTS}
    if config["track"]["backend"] != "torch":
        inputs["onnx"] = DETECTOR_ONNX
    return inputs


def all_outputs():
    return expand("results/{video}/final_crops.h5", video=VIDEOS)
