"""The GPU lock-file pool with real processes: never more holders than devices, distinct devices, kill frees."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from reidflow import backends, gpu

REPO = Path(__file__).resolve().parents[1]

# A job: claim a device through job_device (as scripts/track.py does), record when it held which one.
HOLDER = textwrap.dedent(
    """
    import json, os, sys, time
    from reidflow import gpu
    lock_dir, record, hold_s = sys.argv[1], sys.argv[2], float(sys.argv[3])
    with gpu.job_device("auto", gpu_job=True, lock_dir=lock_dir) as device:
        start = time.monotonic()
        visible = os.environ["CUDA_VISIBLE_DEVICES"]
        time.sleep(hold_s)
        end = time.monotonic()
    with open(record, "w") as fh:
        json.dump({"device": device, "visible": visible, "start": start, "end": end}, fh)
    """
)


def job_env(devices: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env[gpu.DEVICES_ENV] = devices
    env["PYTHONPATH"] = str(REPO)
    return env


def test_contending_jobs_never_share_a_device(tmp_path):
    lock_dir, jobs, hold_s = tmp_path / "locks", 6, 0.4
    env = job_env("0,1")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(lock_dir), str(tmp_path / f"job{i}.json"), str(hold_s)], env=env
        )
        for i in range(jobs)
    ]
    for proc in procs:
        assert proc.wait(timeout=60) == 0
    records = [json.loads((tmp_path / f"job{i}.json").read_text()) for i in range(jobs)]

    assert all(r["device"] == "cuda:0" for r in records)  # each job sees only its own device
    assert {r["visible"] for r in records} == {"0", "1"}
    for i, a in enumerate(records):
        overlapping = [b for b in records[i + 1 :] if a["start"] < b["end"] and b["start"] < a["end"]]
        assert all(b["visible"] != a["visible"] for b in overlapping), "two jobs held the same device at once"
    # at most two at any moment, and the pool was really contended (two held at once, others waited)
    events = sorted([(r["start"], 1) for r in records] + [(r["end"], -1) for r in records])
    concurrent = [sum(step for _, step in events[: i + 1]) for i in range(len(events))]
    assert max(concurrent) == 2


def test_a_killed_holder_frees_its_device(tmp_path):
    lock_dir, held = tmp_path / "locks", tmp_path / "held"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import time, pathlib\nfrom reidflow import gpu\nwith gpu.claim(['0'], {str(lock_dir)!r}):\n"
            f"    pathlib.Path({str(held)!r}).touch()\n    time.sleep(600)",
        ],
        env=job_env("0"),
    )
    try:
        deadline = time.monotonic() + 30
        while not held.exists():
            assert holder.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        with pytest.raises(gpu.GpuError, match="no GPU of 0 came free"):
            with gpu.claim(["0"], lock_dir, timeout_s=0.5):
                pass
        assert (lock_dir / "gpu0.lock").read_text() == f"{holder.pid}\n"  # who holds it
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    with gpu.claim(["0"], lock_dir, timeout_s=5) as device:
        assert device == "0"


def test_released_on_exit_and_reusable_in_one_process(tmp_path):
    with gpu.claim(["a", "b"], tmp_path) as first:
        with gpu.claim(["a", "b"], tmp_path) as second:
            assert {first, second} == {"a", "b"}
            with pytest.raises(gpu.GpuError):
                with gpu.claim(["a", "b"], tmp_path, timeout_s=0.2):
                    pass
    with gpu.claim(["a", "b"], tmp_path, timeout_s=1) as again:
        assert again == "a"


@pytest.mark.parametrize(
    "requested, gpu_job, slurm",
    [
        ("cpu", True, False),  # a CPU stage never touches the pool
        ("auto", False, False),  # no gpu profile: the job was not given a GPU
        ("cuda:1", True, False),  # pinned by the user
        ("auto", True, True),  # SLURM bound the job's GPUs itself
    ],
)
def test_job_device_leaves_other_jobs_alone(tmp_path, monkeypatch, requested, gpu_job, slurm):
    monkeypatch.setenv(gpu.DEVICES_ENV, "0")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    if slurm:
        monkeypatch.setenv("SLURM_JOB_ID", "42")
    else:
        monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    with gpu.job_device(requested, gpu_job, lock_dir=tmp_path) as device:
        assert device == requested
        assert "CUDA_VISIBLE_DEVICES" not in os.environ
    assert not list(tmp_path.iterdir())  # no lock taken


def test_job_device_sets_and_restores_cuda_visible_devices(tmp_path, monkeypatch):
    monkeypatch.setenv(gpu.DEVICES_ENV, "3,5")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    with gpu.job_device("cuda", True, lock_dir=tmp_path) as device:
        assert device == "cuda:0" and os.environ["CUDA_VISIBLE_DEVICES"] == "3"
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "3,5"


def test_a_gpu_job_without_a_visible_gpu_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv(gpu.DEVICES_ENV, "")
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    with pytest.raises(gpu.GpuError, match="run without profiles/gpu"):
        with gpu.job_device("auto", True, lock_dir=tmp_path):
            pass


def test_visible_devices_order_and_lock_names(tmp_path):
    assert gpu.visible_devices({gpu.DEVICES_ENV: "2, 3", "CUDA_VISIBLE_DEVICES": "0"}) == ["2", "3"]
    assert gpu.visible_devices({"CUDA_VISIBLE_DEVICES": "GPU-1a2b,1"}) == ["GPU-1a2b", "1"]
    assert gpu.visible_devices({"CUDA_VISIBLE_DEVICES": ""}) == []  # hidden on purpose: no GPU
    assert gpu.lock_path(tmp_path, "MIG-GPU-1a/1/0").name == "gpuMIG-GPU-1a_1_0.lock"


@pytest.mark.parametrize(
    "backend, device, expected",
    [
        ("onnx", "auto", ("onnx", "cpu")),  # also on a machine with a GPU
        ("auto", "cpu", ("onnx", "cpu")),
        ("auto", "cuda:1", ("torch", "cuda:1")),
        ("auto", "1", ("torch", "cuda:1")),
        ("torch", "cpu", ("torch", "cpu")),
    ],
)
def test_choose_backend(backend, device, expected):
    assert backends.choose(backend, device, "features") == expected


def test_onnx_backend_on_a_gpu_device_is_refused():
    with pytest.raises(backends.BackendError, match="features.device is 'cuda:0'; set features.backend to torch"):
        backends.choose("onnx", "cuda:0", "features")
    with pytest.raises(
        backends.BackendError, match=r"config: track.backend 'tensorrt' unknown; use one of auto, onnx, torch"
    ):
        backends.choose("tensorrt", "cpu", "track")


@pytest.mark.parametrize("backend", backends.BACKENDS)
@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:1", "1"])
@pytest.mark.parametrize("gpu_job", [False, True])
def test_auto_means_the_same_when_planned_and_in_the_job(backend, device, gpu_job):
    """rules/common.smk asks for a GPU with may_use_gpu and plans the ONNX export from choose(gpu=...);
    the job builds what choose says for the GPU it was given: the same backend, and a GPU only if asked."""
    if backend == "onnx" and device not in ("auto", "cpu"):
        with pytest.raises(backends.BackendError):
            backends.choose(backend, device, "track", gpu=gpu_job)
        return
    asked = gpu_job and backends.may_use_gpu(backend, device)  # gpu_request(): the run declares GPUs
    chosen_backend, chosen_device = backends.choose(backend, device, "track", gpu=asked)
    assert (chosen_backend, chosen_device) == backends.choose(backend, device, "track", gpu=gpu_job)
    assert chosen_backend == (
        "onnx" if backend == "onnx" or (backend == "auto" and chosen_device == "cpu") else "torch"
    )
    if device == "auto":
        assert chosen_device == ("cuda:0" if asked else "cpu"), "auto takes a GPU exactly when the job has one"
    if device == "cpu" or backend == "onnx":
        assert not backends.may_use_gpu(backend, device) and chosen_device == "cpu"


def test_auto_device_outside_the_workflow_asks_pytorch(monkeypatch):
    monkeypatch.setattr(backends, "cuda_available", lambda: True)
    assert backends.choose("auto", "auto", "features") == ("torch", "cuda:0")
    monkeypatch.setattr(backends, "cuda_available", lambda: False)
    assert backends.choose("auto", "auto", "features") == ("onnx", "cpu")
    assert backends.choose("onnx", "auto", "features") == ("onnx", "cpu")


def test_a_job_has_a_gpu_by_its_resource_but_in_slurm_by_what_cuda_sees():
    assert backends.job_gpu(1, {}) is True
    assert backends.job_gpu(0, {}) is False
    # SLURM may advertise GPUs a node lacks (the test cluster's fake GRES): ask PyTorch there
    assert backends.job_gpu(1, {"SLURM_JOB_ID": "7"}) is None
    on_slurm = backends.choose("auto", "auto", "track", gpu=backends.job_gpu(1, {"SLURM_JOB_ID": "7"}))
    assert on_slurm == (("torch", "cuda:0") if backends.cuda_available() else ("onnx", "cpu"))
