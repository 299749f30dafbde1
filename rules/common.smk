import re
from pathlib import Path

from reidflow import appearance, assets, backends, code_inputs, sheet
from reidflow.overrides import load_overrides, load_people_overrides, overrides_param
from reidflow.settings import STAGES as STAGE_SETTINGS

LIBRARY = Path(workflow.basedir) / "reidflow"
DEMO_VIDEO = "resources/demo/vtest.avi"
MODEL_REGISTRY = assets.load_registry(
    Path(workflow.basedir) / "resources" / "models.yaml"
)
MODELS_DIR = assets.local_models_dir(config.get("models_dir"))
VIDEOS = sheet.load_videos(config["videos"], producible={DEMO_VIDEO})
# A person's merge/split decisions per video (config cluster.overrides), checked against the sheet.
CLUSTER_OVERRIDES = load_overrides(config["cluster"]["overrides"], VIDEOS)
# ... and across videos (its "people" entry), for rule people.
PEOPLE_OVERRIDES = load_people_overrides(config["cluster"]["overrides"], VIDEOS)


# Any id the sheet accepts; sheet_entry refuses ids the sheet lacks. (An alternation of the sheet's ids
# made planning 1,000 videos ~7 % slower: bench/dag.py.)
wildcard_constraints:
    video=sheet.VIDEO_ID_PATTERN,
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
    """The reidflow modules a rule's script imports, directly or through other reidflow modules, as an input:
    editing one reruns exactly the rules that run it (tests/test_library_inputs.py checks the lists).
    The input is one manifest of the modules and their sha256, as new as the newest of them
    (reidflow.code_inputs): each module as an input of each job made planning many videos ~20 % slower.

    Names are relative to reidflow/ without .py ("track", "formats/tracks"); a package's name stands for
    its __init__.py. A submodule brings its packages' __init__.py (importing it runs them), and every
    script imports reidflow itself and reidflow.runtime.
    """
    names = {"__init__", "runtime"}
    for module in modules:
        packages = Path(module).parents[:-1]  # formats/tracks: formats (not ".")
        names.update((package / "__init__").as_posix() for package in packages)
        names.add(module)
    files = [workflow_file(library_file(name)) for name in sorted(names)]
    return code_inputs.manifest(files, label="modules")


def library_file(name):
    path = LIBRARY / f"{name}.py"
    return path if path.is_file() else LIBRARY / name / "__init__.py"


def sheet_entry(wildcards):
    """The sheet's row of the job's video; a target for any other video fails here, saying so."""
    try:
        return VIDEOS[wildcards.video]
    except KeyError:
        raise ValueError(
            f"video {wildcards.video!r} is not in the sheet {config['videos']}: add a row for it, "
            "or ask for the results of a listed video"
        ) from None


def sheet_pattern(column):
    """A path pattern in {video} that gives every video's entry of a sheet column, or None if none does
    (sheet paths hold no braces: reidflow.sheet refuses them)."""
    rows = [(video, getattr(entry, column)) for video, entry in VIDEOS.items()]
    if not rows or any(path is None for _, path in rows):
        return None
    first, path = rows[0]
    start = path.find(first)
    while start >= 0:
        prefix, suffix = path[:start], path[start + len(first) :]
        if all(p == f"{prefix}{video}{suffix}" for video, p in rows):
            return f"{prefix}{{video}}{suffix}"
        start = path.find(first, start + 1)
    return None


def listed_video(wildcards):
    """Rule track's video: the sheet's file, refusing a video the sheet lacks (sheet_entry)."""
    return sheet_entry(wildcards).path


# The video of the rules downstream of track (crops, annotate: they need its tracks, so track has refused
# any video the sheet lacks): a plain pattern when all the sheet's paths follow one, for Snakemake calls
# an input function for every job (with evaluate's gt below, ~2.5 % of planning 1,000 videos).
video_file = sheet_pattern("path") or listed_video


def cluster_overrides():
    """One video's overrides as a param of rule cluster, so that only its own edits rerun it. A function of
    the video, or the one empty value when no video has any (no function for Snakemake to call per job).
    """
    if not CLUSTER_OVERRIDES:
        return overrides_param(CLUSTER_OVERRIDES, "")
    return lambda wildcards: overrides_param(CLUSTER_OVERRIDES, wildcards.video)


def ground_truth(wildcards):
    """The sheet's gt of the video; evaluation.json exists only for videos that have one."""
    gt = sheet_entry(wildcards).gt
    if gt is None:
        raise ValueError(
            f"video {wildcards.video!r} has no ground truth: add a 'gt' column entry in {config['videos']} "
            "to get results/{video}/evaluation.json"
        )
    return gt


def persons_file(wildcards):
    return sheet_entry(wildcards).persons or []


def evaluation_inputs():
    """Rule evaluate's ground truth (gt) and, when the sheet has persons files, the video's (persons).

    gt is a plain pattern when all the sheet's gt paths follow one (evaluate needs the video's tracks, so
    track has refused any video the sheet lacks); the functions are for the other sheets.
    """
    if any(entry.persons for entry in VIDEOS.values()):
        return {"gt": ground_truth, "persons": persons_file}
    return {"gt": sheet_pattern("gt") or ground_truth}


# Videos whose identities evaluate_people scores across videos, i.e. with a gt and a persons file
# (the persons' names, not the gt ids, say who is who across videos); scored when two or more have them.
PEOPLE_TRUTH_VIDEOS = [v for v, entry in VIDEOS.items() if entry.gt and entry.persons]


def model_file(name):
    return assets.resolve_model(name, MODELS_DIR, MODEL_REGISTRY)


DETECTOR_WEIGHTS = model_file(config["track"]["detector"])
DETECTOR_ONNX = f"resources/models/exported/{Path(DETECTOR_WEIGHTS).stem}.onnx"


# The file the ReID model loads: features.weights, or the onnx:<file> of features.model.
REID_WEIGHTS = model_file(appearance.model_file(config["features"]))
# The model owns the crop size: one of a fixed input size (clip:, onnx:, hacnn) gets its own, the others
# crops.height x crops.width (reidflow.appearance.crop_size; reads a JSON or ONNX header, no torch).
REID_CROP_SIZE = appearance.crop_size(
    config["features"]["model"],
    REID_WEIGHTS,
    config["crops"]["height"],
    config["crops"]["width"],
)


def crop_params():
    """Rule crops' settings, at the crop size the ReID model takes (REID_CROP_SIZE)."""
    height, width = REID_CROP_SIZE
    return {**stage_params("crops"), "height": height, "width": width}


def stage_params(stage):
    """A stage's settings (reidflow.settings) as one rule param, so that changing any of them reruns
    that rule; settings results do not depend on (features.batch_size) are left out."""
    return STAGE_SETTINGS[stage].params(config[stage])


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
    section = config[stage]
    return int(
        DECLARED_GPUS > 0
        and backends.may_use_gpu(section["backend"], section["device"])
    )


def detector_inputs():
    """The detector's weights, and its ONNX export when the job will run the onnx backend: what
    reidflow.backends.choose answers for the GPU the job gets, as the job itself will ask.

    The same for every video: rule track takes them as plain inputs (**detector_inputs()), not through an
    input function, which Snakemake would call for each job (4 % of planning 1,000 videos).
    """
    inputs = {"weights": DETECTOR_WEIGHTS}
    section = config["track"]
    backend, _ = backends.choose(
        section["backend"], section["device"], "track", gpu=bool(gpu_request("track"))
    )
    if backend == "onnx":
        inputs["onnx"] = DETECTOR_ONNX
    return inputs


REPORT_TEMPLATES = code_inputs.manifest(
    sorted(workflow_file(p) for p in (LIBRARY / "report" / "templates").iterdir()),
    label="templates",
)


def report_inputs():
    """The stage files of a video's report; evaluation.json only where the sheet has ground truth.

    Patterns, and an input function for evaluation.json only when the sheet mixes videos with and without
    ground truth: Snakemake calls an input function for every job (4 % of planning 1,000 videos).
    """
    results = "results/{video}"
    inputs = {
        "tracks": f"{results}/tracks.npz",
        "crops": f"{results}/final_crops.h5",
        "features": f"{results}/features.h5",
        "similarity": f"{results}/similarity.json",
        "clusters": f"{results}/clusters.json",
    }
    with_gt = {entry.gt is not None for entry in VIDEOS.values()}
    if with_gt == {True}:
        inputs["evaluation"] = f"{results}/evaluation.json"
    elif with_gt == {True, False}:
        inputs["evaluation"] = lambda wildcards: (
            f"results/{wildcards.video}/evaluation.json"
            if sheet_entry(wildcards).gt
            else []
        )
    return inputs


def all_outputs():
    """Every stage file of every video, its report, the people across videos and the index page, and the
    export of the people of interest when the overrides select any (people.select).

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
        "identities.npz",
        "identities.txt",
        "report/index.html",
    ]
    return [
        *(f"results/{video}/{name}" for video in VIDEOS for name in stage_files),
        *(f"results/{video}/evaluation.json" for video in VIDEOS if VIDEOS[video].gt),
        "results/people/people.json",
        *(["results/people/evaluation.json"] if len(PEOPLE_TRUTH_VIDEOS) >= 2 else []),
        "results/report/index.html",
        *(["results/people/selected"] if PEOPLE_OVERRIDES["select"] else []),
        # optional (config annotate): every video encoded again with each person's box and label
        *(
            f"results/{video}/annotated.mp4"
            for video in VIDEOS
            if config.get("annotate")
        ),
    ]


def mark_index_incomplete():
    """After a failed run the index across videos must not keep claiming an earlier state (onerror)."""
    import datetime

    from reidflow.report.index import write_incomplete_index

    when = datetime.datetime.now().isoformat(timespec="seconds")
    write_incomplete_index(list(VIDEOS), "results", "results/report/index.html", when)
