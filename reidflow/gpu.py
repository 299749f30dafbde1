"""One GPU per running job on a local workstation: a pool of lock files, one per device.

Snakemake counts GPUs (``--resources gpu=N``, profiles/gpu) but does not say which device a job should
use (snakemake#281), so every GPU job would land on ``cuda:0``. A job claims a device by taking an
exclusive ``flock`` on ``<lock dir>/gpu<id>.lock`` and runs with ``CUDA_VISIBLE_DEVICES=<id>``. The
kernel drops the lock when the process ends, however it ends (exit, exception, SIGKILL), so a killed
job never leaves a device taken.

On SLURM the scheduler already binds each job to its own GPUs (``CUDA_VISIBLE_DEVICES`` set by
slurmd), so the pool stays out of the way there. Which backend and device a stage's settings mean, given
the device its job holds, is ``reidflow.backends``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from reidflow import ReidflowError

log = logging.getLogger(__name__)

DEVICES_ENV = "REIDFLOW_GPU_DEVICES"  # the device ids the pool hands out, e.g. "0,1"
LOCK_DIR_ENV = "REIDFLOW_GPU_LOCK_DIR"  # where the lock files live (one directory per machine)
# Pinned devices (cuda:1, 1) are taken as they are: the user chose the device.
PINNED_DEVICE = re.compile(r"^(cuda:)?[0-9]+$")
SLURM_GPU_VARIABLES = ("SLURM_JOB_GPUS", "SLURM_STEP_GPUS", "SLURM_GPUS", "SLURM_GPUS_ON_NODE", "CUDA_VISIBLE_DEVICES")


class GpuError(ReidflowError):
    pass


def _split_ids(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def nvidia_smi_devices() -> list[str]:
    """Indices of the GPUs nvidia-smi lists; empty without the driver."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run(
            [exe, "--query-gpu=index", "--format=csv,noheader"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return _split_ids(out.stdout.replace("\n", ",")) if out.returncode == 0 else []


def visible_devices(environ: dict[str, str] | None = None) -> list[str]:
    """The device ids a job may be given: ``REIDFLOW_GPU_DEVICES``, else ``CUDA_VISIBLE_DEVICES``, else nvidia-smi.

    Export ``CUDA_VISIBLE_DEVICES=0,1`` (or ``REIDFLOW_GPU_DEVICES``) before starting Snakemake to give the
    workflow a subset of the machine's GPUs.
    """
    env = os.environ if environ is None else environ
    for name in (DEVICES_ENV, "CUDA_VISIBLE_DEVICES"):
        if name in env:
            return _split_ids(env[name])
    return nvidia_smi_devices()


def default_lock_dir() -> Path:
    """Shared by every workflow run on this machine, so two runs never share a device either."""
    return Path(os.environ.get(LOCK_DIR_ENV) or Path(tempfile.gettempdir()) / "reidflow-gpu-locks")


def lock_path(lock_dir: Path, device: str) -> Path:
    # device ids may be UUIDs or MIG names ("MIG-GPU-.../1/0"): keep the file name flat
    return lock_dir / f"gpu{re.sub(r'[^A-Za-z0-9._-]', '_', device)}.lock"


def _open_lock(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except PermissionError:
        # another user's lock file: flock works on a read-only descriptor as well
        return os.open(path, os.O_RDONLY)


def _try_lock(path: Path) -> int | None:
    fd = _open_lock(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        os.close(fd)
        if err.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return None
        raise
    with contextlib.suppress(OSError):  # who holds it, for a person looking at the directory
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _first_free(devices: Sequence[str], lock_dir: Path) -> tuple[str, int] | None:
    for device in devices:
        fd = _try_lock(lock_path(lock_dir, device))
        if fd is not None:
            return device, fd
    return None


@contextlib.contextmanager
def claim(
    devices: Sequence[str], lock_dir: str | Path | None = None, poll_s: float = 0.2, timeout_s: float | None = None
) -> Iterator[str]:
    """Hold one of ``devices`` (a free one, first free first) until the block ends; wait while all are held."""
    if not devices:
        raise GpuError("no GPU to claim: the device list is empty")
    lock_dir = Path(lock_dir) if lock_dir is not None else default_lock_dir()
    try:
        lock_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise GpuError(
            f"{lock_dir}: cannot create the GPU lock directory ({err.strerror}); set {LOCK_DIR_ENV} to a writable directory"
        ) from None
    start = time.monotonic()
    waiting_logged = False
    while (held := _first_free(devices, lock_dir)) is None:
        if timeout_s is not None and time.monotonic() - start > timeout_s:
            raise GpuError(f"no GPU of {', '.join(devices)} came free within {timeout_s:.0f} s (locks in {lock_dir})")
        if not waiting_logged:
            log.info("all GPUs (%s) are held by other jobs; waiting (locks in %s)", ", ".join(devices), lock_dir)
            waiting_logged = True
        time.sleep(poll_s)
    device, fd = held
    try:
        yield device
    finally:
        os.close(fd)  # closing the only descriptor releases the flock


def _cuda_already_initialised() -> bool:
    torch = sys.modules.get("torch")
    return bool(torch is not None and torch.cuda.is_initialized())


@contextlib.contextmanager
def job_device(requested: str, gpu_job: bool, lock_dir: str | Path | None = None) -> Iterator[str]:
    """The device string a job's stage should use, with a GPU of its own while the block runs.

    ``requested`` is the stage's ``device`` setting, ``gpu_job`` whether Snakemake gave the job a GPU
    (``resources: gpu=1``). A GPU job on a workstation claims a device from the pool, runs with
    ``CUDA_VISIBLE_DEVICES`` set to it and gets ``cuda:0``. Everything else gets ``requested`` back
    unchanged: CPU jobs, jobs without the gpu profile, pinned devices (``cuda:1``), and SLURM jobs.
    Enter it before anything initialises CUDA.
    """
    if not gpu_job or requested == "cpu" or PINNED_DEVICE.match(requested):
        yield requested
        return
    if "SLURM_JOB_ID" in os.environ:
        seen = {name: os.environ[name] for name in SLURM_GPU_VARIABLES if name in os.environ}
        log.info("SLURM job %s assigned its GPUs: %s", os.environ["SLURM_JOB_ID"], seen or "none visible")
        yield requested
        return
    devices = visible_devices()
    if not devices:
        raise GpuError(
            "this job asks for a GPU (resources gpu=1, set by --resources gpu=N or profiles/gpu) but none is visible "
            f"(no {DEVICES_ENV} or CUDA_VISIBLE_DEVICES, nvidia-smi lists none); run without profiles/gpu on a CPU-only machine"
        )
    if _cuda_already_initialised():
        raise GpuError(
            "CUDA was initialised before the job claimed its GPU; claim the device first (reidflow.gpu.job_device)"
        )
    with claim(devices, lock_dir) as device:
        previous = os.environ.get("CUDA_VISIBLE_DEVICES")
        os.environ["CUDA_VISIBLE_DEVICES"] = device
        log.info("claimed GPU %s of %s (CUDA_VISIBLE_DEVICES=%s)", device, ", ".join(devices), device)
        try:
            yield "cuda:0"
        finally:
            if previous is None:
                os.environ.pop("CUDA_VISIBLE_DEVICES", None)
            else:
                os.environ["CUDA_VISIBLE_DEVICES"] = previous
