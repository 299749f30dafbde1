import re
from pathlib import Path

from reidflow import assets, sheet
from reidflow.overrides import load_overrides, overrides_param

LIBRARY = Path(workflow.basedir) / "reidflow"
DEMO_VIDEO = "resources/demo/vtest.avi"
MODEL_REGISTRY = assets.load_registry(
    Path(workflow.basedir) / "resources" / "models.yaml"
)
MODELS_DIR = assets.local_models_dir(config.get("models_dir"))
VIDEOS = sheet.load_videos(config["videos"], producible={DEMO_VIDEO})
# A person's merge/split decisions per video (config cluster.overrides), checked against the sheet.
CLUSTER_OVERRIDES = load_overrides(config["cluster"]["overrides"], VIDEOS)


wildcard_constraints:
    video="|".join(re.escape(v) for v in VIDEOS),
    model_file="|".join(re.escape(m) for m in MODEL_REGISTRY),


def workflow_file(path):
    """A file of the workflow itself, relative when it lies in the working directory: moving a
    project (workflow and results together) then changes no input path and reruns nothing.
    """
    path = Path(path)
    return (
        str(path.relative_to(Path.cwd()))
        if path.is_relative_to(Path.cwd())
        else str(path)
    )


def library(*modules):
    """Library modules a script imports: declared as inputs so that editing them reruns the rule."""
    return [
        workflow_file(LIBRARY / f"{m}.py")
        for m in ("__init__", "formats", "runtime", *modules)
    ]


def video_file(wildcards):
    return VIDEOS[wildcards.video].path


def cluster_overrides(wildcards):
    """One video's overrides as a param of rule cluster, so that only its own edits rerun it."""
    return overrides_param(CLUSTER_OVERRIDES, wildcards.video)


def ground_truth(wildcards):
    """The sheet's gt of the video; evaluation.json exists only for videos that have one."""
    gt = VIDEOS[wildcards.video].gt
    if gt is None:
        raise ValueError(
            f"video {wildcards.video!r} has no ground truth: add a 'gt' column entry in {config['videos']} "
            "to get results/{video}/evaluation.json"
        )
    return gt


def model_file(name):
    return assets.resolve_model(name, MODELS_DIR, MODEL_REGISTRY)


DETECTOR_WEIGHTS = model_file(config["track"]["detector"])
DETECTOR_ONNX = f"resources/models/exported/{Path(DETECTOR_WEIGHTS).stem}.onnx"


REID_WEIGHTS = model_file(config["features"]["weights"])
# batch_size is left out: features do not depend on it (tested), so changing it reruns nothing
FEATURE_KEYS = ("model", "device", "half", "backend")


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


CLUSTER_KEYS = (
    "linkage",
    "distance_threshold",
    "cooccurrence_veto",
    "recommend_threshold",
)


def stage_params(stage, keys):
    """A stage's knobs as one rule param, so that changing any of them reruns that rule."""
    return {key: config[stage][key] for key in keys}


# GPUs this run hands out (--resources gpu=N, set by profiles/gpu); 0 on CPU-only runs and on SLURM,
# where the slurm profile asks for GPUs per rule instead.
DECLARED_GPUS = (
    int(workflow.global_resources["gpu"].value or 0)
    if "gpu" in workflow.global_resources
    else 0
)


def gpu_request(stage):
    """A GPU stage's `resources: gpu=` value: 1 when this run declares GPUs and the stage may use one, else 0.

    The job's script claims its own device with reidflow.gpu.job_device (Snakemake assigns no device ids).
    """
    settings = config[stage]
    return int(
        DECLARED_GPUS > 0
        and settings["device"] != "cpu"
        and settings.get("backend", "auto") != "onnx"
    )


def detector_inputs(wildcards):
    inputs = {"weights": DETECTOR_WEIGHTS}
    backend, device = config["track"]["backend"], config["track"]["device"]
    # backend auto runs ONNX Runtime on the CPU only; a GPU job (gpu profile) or a CUDA device uses torch
    if backend == "onnx" or (
        backend == "auto"
        and (device == "cpu" or (device == "auto" and not gpu_request("track")))
    ):
        inputs["onnx"] = DETECTOR_ONNX
    return inputs


REPORT_TEMPLATES = sorted(workflow_file(p) for p in (LIBRARY / "templates").iterdir())


def report_inputs(wildcards):
    """The stage files of one video's report; evaluation.json only where the sheet has ground truth."""
    results = f"results/{wildcards.video}"
    inputs = {
        "tracks": f"{results}/tracks.npz",
        "crops": f"{results}/final_crops.h5",
        "features": f"{results}/features.h5",
        "similarity": f"{results}/similarity.json",
        "clusters": f"{results}/clusters.json",
    }
    if VIDEOS[wildcards.video].gt:
        inputs["evaluation"] = f"{results}/evaluation.json"
    return inputs


def all_outputs():
    """Every stage file of every video, its report, and the index across videos.

    Naming each stage file (not only the reports that need them) makes a plain run rebuild any of them
    that a user deleted, e.g. a damaged file, as the error messages advise.
    """
    stage_files = [
        "tracks.npz",
        "tracks.txt",
        "final_crops.h5",
        "features.h5",
        "similarity.json",
        "clusters.json",
        "report/index.html",
    ]
    return [
        *(f"results/{video}/{name}" for video in VIDEOS for name in stage_files),
        *(f"results/{video}/evaluation.json" for video in VIDEOS if VIDEOS[video].gt),
        "results/report/index.html",
    ]


def mark_index_incomplete():
    """After a failed run the index across videos must not keep claiming an earlier state (onerror)."""
    import datetime

    from reidflow.report import write_incomplete_index

    when = datetime.datetime.now().isoformat(timespec="seconds")
    write_incomplete_index(list(VIDEOS), "results", "results/report/index.html", when)
