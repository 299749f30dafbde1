"""Hostile input, results a user can trust: damaged or deleted stage files, failed runs, killed writers.

Issue 11, items 4, 8 and 9. One small run of the real workflow (a 40-frame clip) that the tests below
damage in turn, in order.
"""

from __future__ import annotations

import pytest
from conftest import Workdir, copy_workflow, planned_jobs, repo_config, write_clip

from reidflow.files import atomic_output
from reidflow.formats.base import REBUILD

pytestmark = pytest.mark.slow

STAGE_FILES = ("tracks.npz", "tracks.txt", "final_crops.h5", "features.h5", "similarity.json", "clusters.json")


@pytest.fixture(scope="module")
def finished(tmp_path_factory, vtest_video, models_dir) -> Workdir:
    root = tmp_path_factory.mktemp("hostile_results")
    write_clip(vtest_video, root / "a.avi", 40)
    wd = Workdir(root, repo_config(models_dir), snakefile=copy_workflow(root / "workflow"))
    wd.write_config()
    wd.write_videos([("a", root / "a.avi")], header=("video", "path"))
    wd.snakemake()
    return wd


def planned_rules(wd: Workdir) -> set[str]:
    proc = wd.snakemake("-n")
    return {job.rule for job in planned_jobs(proc.stdout + proc.stderr)} - {"all"}


def test_every_missing_stage_file_is_rebuilt_by_a_plain_run(finished):
    results = finished.path / "results" / "a"
    for name in STAGE_FILES:
        (results / name).unlink()
        assert planned_rules(finished), f"deleting {name} left nothing to do"
        finished.snakemake()
        assert (results / name).is_file(), name
    assert planned_rules(finished) == set()


def test_deleting_a_damaged_file_as_advised_rebuilds_it(finished):
    """Truncate features.h5, run (similarity fails, naming the command), delete it, run: all is rebuilt."""
    results = finished.path / "results" / "a"
    features = results / "features.h5"
    features.write_bytes(features.read_bytes()[:1000])
    failed = finished.snakemake(check=False)
    assert failed.returncode != 0
    log = (finished.path / "logs" / "similarity" / "a.log").read_text()
    assert f"{REBUILD}" in log and "features.h5" in log
    features.unlink()
    assert {"features", "similarity"} <= planned_rules(finished)
    finished.snakemake()
    assert features.is_file() and (results / "similarity.json").is_file()
    assert planned_rules(finished) == set()


def test_stale_temporaries_of_a_killed_writer_are_removed(finished):
    results = finished.path / "results" / "a"
    stale = results / ".final_crops.h5.k1lled_0.tmp"
    stale.write_bytes(b"x" * 1000)  # what a SIGKILLed crops job leaves
    other = results / ".tracks.txt.k1lled_0.tmp"  # upstream of crops: not rewritten
    other.write_bytes(b"x")
    (results / "final_crops.h5").unlink()
    finished.snakemake()
    assert not stale.exists()
    assert other.exists(), "a writer removes only its own output's temporaries"
    other.unlink()


def test_atomic_output_removes_only_its_own_stale_temporaries(tmp_path):
    target = tmp_path / "clusters.json"
    own = [tmp_path / ".clusters.json.abcd_123.tmp", tmp_path / ".clusters.json.zz99zz99.tmp"]
    foreign = [
        tmp_path / ".clusters.json.x.y.tmp",
        tmp_path / ".clusters.json.bak.abcd_123.tmp",
        tmp_path / "clusters.json.abcd_123.tmp",
    ]
    for path in own + foreign:
        path.write_text("stale")
    with atomic_output(target) as tmp:
        tmp.write_text("{}")
    assert target.read_text() == "{}"
    assert [p for p in own if p.exists()] == []
    assert all(p.exists() for p in foreign)


def test_failed_run_leaves_no_stale_index(finished):
    """A new sheet whose only video fails: the index must not keep listing the earlier sheet's video."""
    index = finished.path / "results" / "report" / "index.html"
    assert 'href="../a/report/index.html"' in index.read_text()
    broken = finished.path / "broken.avi"
    broken.write_bytes(b"not a video at all" * 100)
    sheet = finished.path / "config" / "videos.tsv"
    before = sheet.read_text()
    try:
        finished.write_videos([("b", broken)], header=("video", "path"))
        proc = finished.snakemake(check=False)
        assert proc.returncode != 0
        page = index.read_text()
        assert 'id="incomplete"' in page
        assert "../a/report" not in page, "the index still links a video that is no longer in the sheet"
        assert "<td>b</td>" in page and "no results" in page
    finally:
        sheet.write_text(before)
    # the sheet restored, a plain run makes the full index again
    finished.snakemake()
    page = index.read_text()
    assert 'id="incomplete"' not in page and 'href="../a/report/index.html"' in page
