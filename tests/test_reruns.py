"""Snakemake plans only stale work: after a full run of two videos, each change reruns exactly its part.

One full run per module (a copy of the workflow, so a test may edit its library); every test makes one
change, counts the jobs of a dry run, and undoes the change (content and file times), so the tests do
not depend on each other.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections import Counter
from pathlib import Path

import pytest
from conftest import Workdir, copy_workflow, planned_jobs, repo_config, write_clip

from reidflow.formats.clusters import read_clusters

pytestmark = pytest.mark.slow

PER_VIDEO_CHAIN = ("track", "crops", "features", "similarity", "cluster", "identities", "report")


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
    return Counter(
        (job.rule, job.wildcards.get("video")) for job in planned_jobs(proc.stdout + proc.stderr) if job.rule != "all"
    )


def chain(video: str, rules=PER_VIDEO_CHAIN, gt: bool = False) -> Counter:
    jobs = Counter((rule, video) for rule in rules)
    if gt:
        jobs[("evaluate", video)] += 1
    return jobs


INDEX = Counter({("report_index", None): 1})
# The catalogue across videos reads every video's tracks, crops, features and clusters; the index page
# shows its people (a video's page does not read it).
PEOPLE = Counter({("people", None): 1})


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
        after = ("cluster", "identities", "report")
        expected = chain("a", after, gt=True) + chain("b", after) + INDEX + PEOPLE
        assert planned(finished) == expected
    assert planned(finished) == Counter()


def test_gap_filling_reruns_identities_and_what_scores_them(finished):
    with config_changed(finished, "identities", "fill_hidden", 0):
        assert planned(finished) == IDENTITIES_JOBS
    assert planned(finished) == Counter()


def test_touched_video_reruns_only_its_chain(finished):
    video = finished.path / "videos" / "b.avi"
    stat = video.stat()
    os.utime(video)
    try:
        assert planned(finished) == chain("b") + INDEX + PEOPLE
    finally:
        os.utime(video, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_added_video_runs_only_its_jobs(finished, vtest_gt):
    finished.write_videos(two_videos(vtest_gt) + [("c", "videos/c.avi", "")])
    try:
        assert planned(finished) == chain("c") + INDEX + PEOPLE
    finally:
        finished.write_videos(two_videos(vtest_gt))


def test_people_reruns_no_video_page(finished):
    """A video's page takes its person ids from results/report/people.js when opened, never from people.json:
    a new people.json (a new video, a cross-video decision) reruns the index page only."""
    # new content (Snakemake skips an input whose checksum did not change), same people
    with edited(finished.path / "results" / "people" / "people.json", lambda text: text + "\n"):
        assert planned(finished) == INDEX


def test_other_reid_model_reruns_features_and_downstream(finished):
    with config_changed(finished, "features", "weights", "osnet_x0_25_market1501.pth"):
        downstream = ("features", "similarity", "cluster", "identities", "report")
        assert planned(finished) == chain("a", downstream, gt=True) + chain("b", downstream) + INDEX + PEOPLE


def test_overrides_rerun_their_video_and_people_only(finished):
    """One video's decisions rerun its cluster and what reads it, and people; cross-video ones people and the
    index page only."""
    overrides = finished.path / "overrides.yaml"
    tracks = read_clusters(finished.path / "results" / "a" / "clusters.json").identity_of()
    a, b = sorted(tracks)[:2]
    overrides.write_text(f'people:\n  split: [["a:track:{a}", "b:identity:1"]]\n')
    with config_changed(finished, "cluster", "overrides", str(overrides)):
        assert planned(finished) == PEOPLE + INDEX
        overrides.write_text(f"a:\n  split: [[{a}, {b}]]\n")
        assert planned(finished) == chain("a", ("cluster", "identities", "report"), gt=True) + INDEX + PEOPLE


SELECT = Counter({("select_people", None): 1})


def test_names_and_select_rerun_no_cluster_and_ignore_only_its_video(finished):
    """People's names and selection rerun people and what reads people.json (select_people once anybody is
    selected), never a video's cluster; a video's ignore reruns that video's chain from cluster on."""
    overrides = finished.path / "overrides.yaml"
    a, b = sorted(read_clusters(finished.path / "results" / "a" / "clusters.json").identity_of())[:2]

    def decisions(name: str, select: bool = True, ignore: str = "") -> str:
        text = f'people:\n  names: {{"a:track:{a}": {json.dumps(name)}}}\n'
        return text + (f'  select: ["a:track:{a}"]\n' if select else "") + ignore

    overrides.write_text(decisions("Alice", select=False))
    try:
        with config_changed(finished, "cluster", "overrides", str(overrides)):
            assert planned(finished) == PEOPLE + INDEX
            overrides.write_text(decisions("Alice"))
            assert planned(finished) == PEOPLE + INDEX + SELECT
            finished.snakemake()
            assert planned(finished) == Counter()
            assert (finished.path / "results" / "people" / "selected").is_dir()
            overrides.write_text(decisions("<script>alert(1)</script>"))
            assert planned(finished) == PEOPLE + INDEX + SELECT
            overrides.write_text(decisions("Alice", ignore=f"a:\n  ignore: [{b}]\n"))
            after = ("cluster", "identities", "report")
            assert planned(finished) == chain("a", after, gt=True) + PEOPLE + INDEX + SELECT
    finally:
        finished.snakemake()  # back to the fixture's results: people without the decisions
    assert planned(finished) == Counter()


# The first stage whose rule runs each module (see library(...) in rules/*.smk): it and all after it rerun.
FIRST_STAGE = {
    "video": "track",
    "files": "track",
    "formats/base": "track",
    "formats/tracks": "track",
    "formats/mot": "track",
    "formats/crops": "crops",
    "formats/features": "features",
    "formats/similarity": "similarity",
    "formats/clusters": "cluster",
}
# identities.npz is read by evaluate (its filled boxes: identities are scored as delivered), which only
# video a has, and whose evaluation.json the report of video a shows.
IDENTITIES_JOBS = chain("a", ("identities", "evaluate", "report")) + chain("b", ("identities",)) + INDEX
# Modules whose stage only the index page reads, or nothing: only their own jobs (and the index) rerun;
# and the identities modules (above).
LEAF_JOBS = {
    "identities": IDENTITIES_JOBS,
    "formats/identities": IDENTITIES_JOBS,
    "people": PEOPLE + INDEX,
    "formats/people": PEOPLE + INDEX,  # read by people and by report_index
}
# What the ONNX export runs: the track module (which imports video) and the formats it loads.
EXPORT_DETECTOR_RUNS = {"track", "video", "files", "formats/base", "formats/tracks"}


def after_edit_of(module: str) -> Counter:
    """Jobs an edit of reidflow/<module>.py must plan: the rules that import it and all downstream."""
    if module in LEAF_JOBS:
        return LEAF_JOBS[module]
    if module == "evaluate":  # only video a has ground truth
        return chain("a", ("evaluate", "report")) + INDEX
    if module == "formats/evaluation":  # read by evaluate, and by report for every video
        return chain("a", ("evaluate", "report")) + chain("b", ("report",)) + INDEX
    if module == "report/index":  # the page across videos only
        return INDEX
    if module == "report" or module.startswith("report/"):  # the package, or a module of the video pages
        return chain("a", ("report",)) + chain("b", ("report",)) + INDEX
    first = FIRST_STAGE.get(module, module)
    downstream = PER_VIDEO_CHAIN[PER_VIDEO_CHAIN.index(first) :]
    jobs = chain("a", downstream, gt="cluster" in downstream) + chain("b", downstream) + INDEX + PEOPLE
    if module in EXPORT_DETECTOR_RUNS:
        jobs[("export_detector", None)] += 1
    return jobs


def module_file(root: Path, module: str) -> Path:
    """reidflow/<module>.py, or the package's __init__.py."""
    path = root / "reidflow" / f"{module}.py"
    return path if path.is_file() else root / "reidflow" / module / "__init__.py"


@pytest.mark.parametrize(
    "module",
    ["track", "video", "crops", "features", "similarity", "cluster", "evaluate", "report"]
    + ["files", "formats/base", "formats/tracks", "formats/mot", "formats/crops", "formats/features"]
    + ["formats/similarity", "formats/clusters", "formats/evaluation", "report/video", "report/index"]
    + ["identities", "formats/identities", "people", "formats/people"],
)
def test_edited_library_module_reruns_its_stage_and_downstream(finished, module):
    with edited(module_file(finished.snakefile.parent, module), lambda text: text + "\n# edited\n"):
        assert planned(finished) == after_edit_of(module)
    assert planned(finished) == Counter()


def test_moved_project_reruns_nothing(finished, tmp_path):
    """Workflow, sheet and results moved together: no input path changes (library inputs are relative)."""
    moved = tmp_path / "moved"
    shutil.copytree(finished.path, moved, symlinks=True)  # copy2 keeps file times
    wd = Workdir(moved, finished.config, snakefile=moved / "workflow" / "Snakefile")
    assert planned(wd) == Counter()
