"""Shared fixtures: real assets from ../shared (or the project's own download path), and workflow runs.

With ../shared present (development machines, CI) the tests use its weights, video and ground truth.
Without it they fetch weights and the demo video through reidflow's own download code; tests that need
ground truth then skip, saying so. In CI (CI=true) a missing asset is a failure, never a skip.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from reidflow import assets, runtime

# Every script sets up ultralytics before anything can import it (reidflow.runtime.run); some tests import
# ultralytics themselves, so the test process does the same first. tests/hostile/test_weights.py checks
# the library on its own, in fresh processes.
runtime.configure_ultralytics()

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
SHARED = Path(os.environ.get("REIDFLOW_SHARED", REPO.parent / "shared"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CLIP_FRAMES = 124  # the frames gt_frames1-124.txt covers


def pytest_collection_modifyitems(items):
    """SLURM tests last: once slurm-wlm is installed, every Snakemake start asks it for its config."""
    items.sort(key=lambda item: item.get_closest_marker("slurm") is not None)


def missing(reason: str):
    """Skip on a user's machine; fail in CI, where every asset must be present."""
    if IN_CI:
        pytest.fail(f"{reason} (CI must not skip this test)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def models_dir() -> Path:
    shared = SHARED / "models"
    if (shared / "yolov8n.pt").is_file():
        return shared
    registry = assets.load_registry(REPO / "resources" / "models.yaml")
    target = REPO / assets.DOWNLOAD_DIR
    try:
        for name in ("yolov8n.pt", "osnet_x0_25_msmt17.pth"):
            assets.fetch(target / name, registry[name].url, registry[name].sha256)
    except assets.AssetError as err:
        missing(f"no {SHARED}/models (set REIDFLOW_SHARED to the shared assets) and the download failed: {err}")
    return target


@pytest.fixture(scope="session")
def weights(models_dir) -> Path:
    """The default ReID weights (OSNet x0.25, MSMT17)."""
    path = models_dir / "osnet_x0_25_msmt17.pth"
    if not path.is_file():
        missing(f"{path} is missing")
    return path


@pytest.fixture(scope="session")
def vtest_video() -> Path:
    shared = SHARED / "data" / "pets09-s2l1" / "vtest.avi"
    if shared.is_file():
        return shared
    target = REPO / "resources" / "demo" / "vtest.avi"
    try:
        return assets.fetch(
            target, assets.DEMO_VIDEO_URL, assets.DEMO_VIDEO_SHA256, local_copies=assets.DEMO_VIDEO_LOCAL
        )
    except assets.AssetError as err:
        missing(f"no {SHARED} (set REIDFLOW_SHARED) and the demo video could not be fetched: {err}")


@pytest.fixture(scope="session")
def vtest_gt() -> Path:
    gt = SHARED / "data" / "pets09-s2l1" / "gt_frames1-124.txt"
    if not gt.is_file():
        missing(f"ground truth {gt} is only in ../shared")
    return gt


@pytest.fixture(scope="session")
def reid_crops() -> Path:
    """Labelled person crops (labels.csv: file, source, identity, frame, x, y, w, h)."""
    folder = SHARED / "data" / "reid-crops"
    if not (folder / "labels.csv").is_file():
        missing(f"labelled ReID crops {folder} are only in ../shared")
    return folder


def write_clip(src: Path, dst: Path, frames: int, start: int = 0) -> Path:
    """Cut ``frames`` frames from ``start`` on into an MJPG .avi (what a user's short clip looks like)."""
    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
    for _ in range(start):  # read, not seek: OpenCV seeks are inexact between keyframes
        cap.read()
    writer = None
    for _ in range(frames):
        ok, frame = cap.read()
        if not ok:
            break
        if writer is None:
            h, w = frame.shape[:2]
            writer = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
        writer.write(frame)
    cap.release()
    writer.release()
    return dst


@pytest.fixture(scope="session")
def vtest_clip(tmp_path_factory, vtest_video) -> Path:
    return write_clip(vtest_video, tmp_path_factory.mktemp("clip") / "vtest124.avi", CLIP_FRAMES)


@dataclass(frozen=True)
class PlannedJob:
    rule: str
    wildcards: dict[str, str]
    resources: dict[str, str]


def planned_jobs(output: str) -> list[PlannedJob]:
    """The jobs a dry run (``snakemake -n``) prints, in its printed order."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", output):
        head = re.match(r"(?:local)?rule (\w+):", block.strip())
        if not head:
            continue
        fields = {}
        for key in ("wildcards", "resources"):
            line = re.search(rf"^\s+{key}: (.*)$", block, flags=re.M)
            fields[key] = dict(item.split("=", 1) for item in line[1].split(", ")) if line else {}
        jobs.append(PlannedJob(head[1], fields["wildcards"], fields["resources"]))
    return jobs


@dataclass
class Workdir:
    """A Snakemake working directory with its own config/config.yaml and config/videos.tsv."""

    path: Path
    config: dict
    snakefile: Path = SNAKEFILE

    def write_config(self) -> None:
        (self.path / "config").mkdir(parents=True, exist_ok=True)
        (self.path / "config" / "config.yaml").write_text(yaml.safe_dump(self.config))

    def write_videos(self, rows: list[tuple], header: tuple = ("video", "path", "gt")) -> None:
        lines = ["\t".join(header)] + ["\t".join(str(v) for v in row) for row in rows]
        (self.path / "config" / "videos.tsv").write_text("\n".join(lines) + "\n")

    def snakemake(self, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
        cmd = [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(self.snakefile),
            "--directory",
            str(self.path),
            "--cores",
            "2",
            *args,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
        return proc


WORKFLOW_PARTS = ("Snakefile", "rules", "scripts", "reidflow", "config/schemas", "resources/models.yaml", "envs")


def copy_workflow(dst: Path) -> Path:
    """A private copy of the workflow (its Snakefile returned): tests that edit code or rerun a finished
    project then depend neither on each other nor on edits of the checkout while they run."""
    for part in WORKFLOW_PARTS:
        src = REPO / part
        if src.is_dir():
            shutil.copytree(src, dst / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (dst / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / part)
    return dst / "Snakefile"


def repo_config(models_dir: Path) -> dict:
    """The repository's config (a fresh copy), pointed at config/videos.tsv and the local weights."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["videos"] = "config/videos.tsv"
    config["models_dir"] = str(models_dir)
    return config


@pytest.fixture
def workdir(tmp_path, models_dir) -> Workdir:
    wd = Workdir(tmp_path, repo_config(models_dir))
    wd.write_config()
    return wd


@pytest.fixture(scope="session")
def vtest_run(tmp_path_factory, models_dir, vtest_clip, vtest_gt) -> Workdir:
    """One full run of the workflow on the vtest clip with its ground truth, shared by the tests that only
    read its results (they must not change it)."""
    wd = Workdir(tmp_path_factory.mktemp("vtest_run"), repo_config(models_dir))
    wd.write_config()
    wd.write_videos([("clip", vtest_clip, vtest_gt)])
    wd.snakemake()
    return wd


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) IoU of xyxy boxes."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=-1)
    area = lambda x: np.prod(x[:, 2:] - x[:, :2], axis=-1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)
