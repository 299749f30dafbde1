"""Snakemake plans only stale work: after a full run of two videos, each change reruns exactly its part.

One full run per module (a copy of the workflow, so a test may edit its library); every test makes one
change, counts the jobs of a dry run, and undoes the change (content and file times), so the tests do
not depend on each other.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections import Counter
from pathlib import Path

import pytest

from conftest import Workdir, copy_workflow, planned_jobs, repo_config, write_clip

pytestmark = pytest.mark.slow

PER_VIDEO_CHAIN = ("track", "crops", "features", "similarity", "cluster", "report")


@pytest.fixture(scope="module")
def finished(tmp_path_factory, vtest_video, vtest_clip, vtest_gt, models_dir) -> Workdir:
    root = tmp_path_factory.mktemp("reruns")
    snakefile = copy_workflow(root / "workflow")
    (root / "videos").mkdir()
    shutil.copyfile(vtest_clip, root / "videos" / "a.avi")
    write_clip(vtest_video, root / "videos" / "b.avi", 60, start=400)
    write_clip(vtest_video, root / "videos" / "c.avi", 40, start=600)
    wd = Workdir(root, repo_config(models_dir), snakefile=snakefile)
    wd.write_config()
    wd.write_videos(two_videos(vtest_gt))
    wd.snakemake()
    return wd


def two_videos(gt: Path) -> list[tuple]:
    return [("a", "videos/a.avi", gt), ("b", "videos/b.avi", "")]


def planned(wd: Workdir) -> Counter:
    """(rule, video) of every job a dry run plans; the target rule ``all`` is left out."""
    proc = wd.snakemake("-n")
    return Counter((job.rule, job.wildcards.get("video")) for job in planned_jobs(proc.stdout + proc.stderr) if job.rule != "all")


def chain(video: str, rules=PER_VIDEO_CHAIN, gt: bool = False) -> Counter:
    jobs = Counter((rule, video) for rule in rules)
    if gt:
        jobs[("evaluate", video)] += 1
    return jobs


INDEX = Counter({("report_index", None): 1})


@contextlib.contextmanager
def edited(path: Path, change):
    """Apply ``change`` to a file's text; restore text and file times afterwards."""
    text, stat = path.read_text(), path.stat()
    path.write_text(change(text))
    try:
        yield
    finally:
        path.write_text(text)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@contextlib.contextmanager
def config_changed(wd: Workdir, section: str, key: str, value):
    old = wd.config[section][key]
    wd.config[section][key] = value
    wd.write_config()
    try:
        yield
    finally:
        wd.config[section][key] = old
        wd.write_config()


def test_nothing_changed_nothing_to_do(finished):
    assert planned(finished) == Counter()


def test_cluster_threshold_reruns_cluster_and_what_follows(finished):
    with config_changed(finished, "cluster", "distance_threshold", 0.2):
        expected = chain("a", ("cluster", "report"), gt=True) + chain("b", ("cluster", "report")) + INDEX
        assert planned(finished) == expected
    assert planned(finished) == Counter()


def test_touched_video_reruns_only_its_chain(finished):
    video = finished.path / "videos" / "b.avi"
    stat = video.stat()
    os.utime(video)
    try:
        assert planned(finished) == chain("b") + INDEX
    finally:
        os.utime(video, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_added_video_runs_only_its_jobs(finished, vtest_gt):
    finished.write_videos(two_videos(vtest_gt) + [("c", "videos/c.avi", "")])
    try:
        assert planned(finished) == chain("c") + INDEX
    finally:
        finished.write_videos(two_videos(vtest_gt))


def test_other_reid_model_reruns_features_and_downstream(finished):
    with config_changed(finished, "features", "weights", "osnet_x0_25_market1501.pth"):
        downstream = ("features", "similarity", "cluster", "report")
        assert planned(finished) == chain("a", downstream, gt=True) + chain("b", downstream) + INDEX


def after_edit_of(module: str) -> Counter:
    """Jobs an edit of reidflow/<module>.py must plan: the rules that import it and all downstream."""
    if module == "evaluate":  # only video a has ground truth
        return chain("a", ("evaluate", "report")) + INDEX
    if module == "report":
        return chain("a", ("report",)) + chain("b", ("report",)) + INDEX
    first = {"video": "track"}.get(module, module)
    downstream = PER_VIDEO_CHAIN[PER_VIDEO_CHAIN.index(first) :]
    jobs = chain("a", downstream, gt="cluster" in downstream) + chain("b", downstream) + INDEX
    if module in ("track", "video"):
        jobs[("export_detector", None)] += 1  # the ONNX export is made by the track module (which imports video)
    return jobs


@pytest.mark.parametrize("module", ["track", "video", "crops", "features", "similarity", "cluster", "evaluate", "report"])
def test_edited_library_module_reruns_its_stage_and_downstream(finished, module):
    with edited(finished.snakefile.parent / "reidflow" / f"{module}.py", lambda text: text + "\n# edited\n"):
        assert planned(finished) == after_edit_of(module)
    assert planned(finished) == Counter()


def test_moved_project_reruns_nothing(finished, tmp_path):
    """Workflow, sheet and results moved together: no input path changes (library inputs are relative)."""
    moved = tmp_path / "moved"
    shutil.copytree(finished.path, moved, symlinks=True)  # copy2 keeps file times
    wd = Workdir(moved, finished.config, snakefile=moved / "workflow" / "Snakefile")
    assert planned(wd) == Counter()
