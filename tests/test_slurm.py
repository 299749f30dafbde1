"""The workflow on a real one-node SLURM cluster through profiles/slurm, against a local run of the same clips.

../shared/slurm/start-local-slurm.sh installs (apt) and starts slurmctld/slurmd on this machine with a
fake GPU (GRES type ``testgpu``, no device behind it: GPU jobs are scheduled as GPU jobs and run on
the CPU). It needs root; elsewhere the test skips, in CI it fails instead.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import REPO, SHARED, SNAKEFILE, Workdir, missing, repo_config, write_clip

from reidflow.formats.clusters import read_clusters
from reidflow.formats.crops import CropsReader
from reidflow.formats.features import read_features
from reidflow.formats.similarity import read_similarity
from reidflow.formats.tracks import read_tracks

pytestmark = [pytest.mark.slow, pytest.mark.slurm]

SLURM_SCRIPTS = SHARED / "slurm"
FAKE_GPU_TYPE = "testgpu"
GPU_RULES = {"track", "features"}
SLURM_CLIP_FRAMES = 30
RUN_TIMEOUT_S = 600


def equal_tracks(a: Path, b: Path) -> None:
    ta, tb = read_tracks(a), read_tracks(b)
    assert len(ta.rows) > 0
    for field in ("frames", "track_ids", "boxes", "scores"):
        np.testing.assert_array_equal(getattr(ta.rows, field), getattr(tb.rows, field), err_msg=f"{a.name}: {field}")


def equal_crops(a: Path, b: Path) -> None:
    with CropsReader(a) as ra, CropsReader(b) as rb:
        assert list(ra.track_ids) == list(rb.track_ids) and len(ra.track_ids) > 0
        for tid in ra.track_ids:
            ca, cb = ra.read(tid), rb.read(tid)
            np.testing.assert_array_equal(ca.frames, cb.frames)
            np.testing.assert_array_equal(ca.crops, cb.crops)
            for name in ca.metrics:
                np.testing.assert_array_equal(
                    ca.metrics[name], cb.metrics[name], err_msg=f"{a.name}: track {tid} {name}"
                )


def equal_features(a: Path, b: Path) -> None:
    fa, fb = read_features(a), read_features(b)
    assert fa.track_ids == fb.track_ids and fa.meta == fb.meta
    for tid in fa.track_ids:
        np.testing.assert_allclose(fa.by_track[tid], fb.by_track[tid], atol=1e-5, err_msg=f"{a.name}: track {tid}")


def equal_similarity(a: Path, b: Path) -> None:
    sa, sb = read_similarity(a), read_similarity(b)
    assert sa.track_ids == sb.track_ids
    np.testing.assert_allclose(sa.matrix, sb.matrix, atol=1e-5)
    np.testing.assert_array_equal(sa.cooccurrence, sb.cooccurrence)


def equal_clusters(a: Path, b: Path) -> None:
    ca, cb = read_clusters(a), read_clusters(b)
    assert [i.members for i in ca.identities] == [i.members for i in cb.identities]


# The per-video outputs this test asks for and how a SLURM result must match the local one.
COMPARE_OUTPUTS = {
    "tracks.npz": equal_tracks,
    "final_crops.h5": equal_crops,
    "features.h5": equal_features,
    "similarity.json": equal_similarity,
    "clusters.json": equal_clusters,
}


def targets(videos) -> list[str]:
    """The compared files and the reports, so that every rule runs as a SLURM job."""
    return [f"results/{video}/{name}" for video in videos for name in COMPARE_OUTPUTS] + ["results/report/index.html"]


def slurm_is_up() -> bool:
    return (
        shutil.which("scontrol") is not None
        and "is UP" in subprocess.run(["scontrol", "ping"], capture_output=True, text=True).stdout
    )


@pytest.fixture(scope="session")
def slurm_cluster():
    """A running one-node cluster; stopped afterwards if this fixture started it."""
    start = SLURM_SCRIPTS / "start-local-slurm.sh"
    if not start.is_file():
        missing(f"{start} not found (set REIDFLOW_SHARED to the shared assets)")
    if os.geteuid() != 0:
        missing("starting a local SLURM cluster needs root")
    if shutil.which("apt-get") is None and shutil.which("slurmctld") is None:
        missing("no apt-get to install slurm-wlm, and SLURM is not installed")
    already_up = slurm_is_up()
    proc = subprocess.run(["bash", str(start)], capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        missing(f"{start} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    yield
    if not already_up:
        subprocess.run(["bash", str(SLURM_SCRIPTS / "stop-local-slurm.sh")], capture_output=True, timeout=120)


def slurm_test_profile(path: Path) -> dict:
    """profiles/slurm with what a site sets for this cluster: partition, GPU type, its CPUs and memory, squeue."""
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    profile["default-resources"].update(slurm_partition="debug", mem_mb="300 * attempt")
    cpus = min(2, os.cpu_count() or 1)
    for rule, resources in profile["set-resources"].items():
        if rule in GPU_RULES:
            resources.update(gpu_model=FAKE_GPU_TYPE, cpus_per_gpu=cpus, mem_mb="600 * attempt")
    profile.update(
        {
            "slurm-status-command": "squeue",  # no accounting on this cluster
            "slurm-init-seconds-before-status-checks": 1,
            "seconds-between-status-checks": 1,
            "latency-wait": 5,
            "slurm-keep-successful-logs": True,
        }
    )
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.yaml").write_text(yaml.safe_dump(profile))
    return profile


def first_attempt(profile: dict, rule: str, resource: str) -> int:
    """A resource of ``rule`` on its first attempt, as the profile defines it (expressions over ``attempt``)."""
    value = {**profile["default-resources"], **profile["set-resources"].get(rule, {})}[resource]
    return eval(str(value), {"attempt": 1})


def run_interruptibly(cmd: list[str], timeout: float) -> tuple[int, str]:
    """Snakemake ignores SIGTERM while it waits on jobs; SIGINT makes it cancel them and exit."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        pytest.fail(f"snakemake on SLURM did not finish within {timeout:.0f} s:\n{out[-6000:]}")
    return proc.returncode, out


def planned_jobs(output: str) -> dict[str, int]:
    """Snakemake's 'Job stats' table at the start of a run: rule -> number of jobs."""
    table = output[output.index("Job stats:") :]
    counts = {}
    for line in table.splitlines()[3:]:
        name, _, count = line.partition(" ")
        if name == "total":
            return counts
        counts[name] = int(count)
    raise AssertionError(f"no job stats table in:\n{output[:3000]}")


def slurm_job(job_id: str) -> dict[str, str]:
    """``scontrol show job``: finished jobs stay visible for MinJobAge (900 s on the test cluster)."""
    out = subprocess.run(
        ["scontrol", "show", "job", "--oneliner", job_id], capture_output=True, text=True, check=True
    ).stdout
    return dict(re.findall(r"(\S+?)=(\S*)", out))


def test_workflow_on_slurm_equals_a_local_run(slurm_cluster, tmp_path, models_dir, vtest_video):
    clip = write_clip(vtest_video, tmp_path / "clip.avi", SLURM_CLIP_FRAMES)
    clips = {"clip1": clip, "clip2": clip}  # two videos (the sheet needs distinct ids, not distinct files)
    runs = {}
    for name in ("local", "slurm"):
        config = repo_config(models_dir)
        config["track"]["imgsz"] = 320  # the cluster is this 2-core machine: keep the jobs short
        wd = Workdir(tmp_path / name, config)
        wd.write_config()
        wd.write_videos([(video, path, "") for video, path in clips.items()])
        runs[name] = wd

    runs["local"].snakemake(*targets(clips))

    profile = slurm_test_profile(tmp_path / "profile")
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--directory",
        str(runs["slurm"].path),
        "--profile",
        str(tmp_path / "profile"),
        *targets(clips),
    ]
    returncode, out = run_interruptibly(cmd, RUN_TIMEOUT_S)
    assert returncode == 0, out[-6000:]

    # every job Snakemake planned went to SLURM, ran there and completed
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+) \(log: \S*/rule_([A-Za-z0-9_]+)/", out)
    planned = planned_jobs(out)
    per_rule = {rule: sum(1 for _, r in submitted if r == rule) for rule in planned}
    assert per_rule == planned and "track" in planned, out[-4000:]
    for job_id, rule in submitted:
        job = slurm_job(job_id)
        assert job["JobState"] == "COMPLETED" and job["Partition"] == "debug", job
        assert Path(job["WorkDir"]) == runs["slurm"].path and job["Comment"].startswith(f"rule_{rule}")
        # memory and time limit as the profile computes them for a first attempt
        minutes = first_attempt(profile, rule, "runtime")
        assert job["MinMemoryNode"] == f"{first_attempt(profile, rule, 'mem_mb')}M", job
        assert job["TimeLimit"] == f"{minutes // 60:02d}:{minutes % 60:02d}:00", job
        # the GPU rules asked SLURM for a GPU of the site's type; the others did not
        asked_gpu = job.get("TresPerJob", "")
        if rule in GPU_RULES:
            assert asked_gpu == f"gres:gpu:{FAKE_GPU_TYPE}:1", job
            assert job["CpusPerTres"] == f"gres:gpu:{first_attempt(profile, rule, 'cpus_per_gpu')}", job
        else:
            assert "gpu" not in asked_gpu, job
    # and SLURM bound the GPU into the job: the job's own log shows what slurmd set
    for video in clips:
        log = (runs["slurm"].path / "logs" / "track" / f"{video}.log").read_text()
        assert re.search(r"SLURM job \d+ assigned its GPUs: .*'CUDA_VISIBLE_DEVICES': '0'", log), log

    for video in clips:
        for name, same in COMPARE_OUTPUTS.items():
            same(runs["slurm"].path / "results" / video / name, runs["local"].path / "results" / video / name)
