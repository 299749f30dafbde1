"""Which backend and device a model stage (``track``, ``features``) runs on: the one meaning of ``auto``.

``backend`` is ``onnx`` (ONNX Runtime, CPU only), ``torch`` (PyTorch, CPU or CUDA) or ``auto``;
``device`` is ``cpu``, ``cuda``, ``cuda:N``, ``N`` or ``auto``. ``auto`` means: a GPU when the job has
one, else the CPU; then ``torch`` on a GPU and ``onnx`` on the CPU. A job has a GPU when Snakemake gave it
one (``resources: gpu=1``: profiles/gpu); in a SLURM job and called from Python outside the workflow, when
PyTorch sees a CUDA device (``job_gpu``). An explicit device is taken as it is.

The workflow asks twice and gets the same answer: when it is planned (rules/common.smk: whether a job
asks for a GPU, whether ``track`` needs the ONNX export) and in the job (which backend it builds).
Light on purpose: PyTorch is imported only to look for a GPU outside the workflow.

Examples:
    >>> from reidflow import backends
    >>> backends.choose("auto", "auto", "features", gpu=False)
    ('onnx', 'cpu')
    >>> backends.choose("auto", "auto", "features", gpu=True)
    ('torch', 'cuda:0')
    >>> backends.choose("auto", "1", "track", gpu=False)
    ('torch', 'cuda:1')
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from reidflow import ReidflowError

BACKENDS = ("auto", "onnx", "torch")


class BackendError(ReidflowError):
    pass


def may_use_gpu(backend: str, device: str) -> bool:
    """Whether a stage with these settings runs on a GPU when the job has one (so it should ask for one)."""
    return device != "cpu" and backend != "onnx"


def job_gpu(gpu_resource: int, environ: Mapping[str, str] = os.environ) -> bool | None:
    """Whether a workflow job has a GPU, for ``choose``: its ``gpu`` resource says so on a workstation; in
    a SLURM job the allocation decides what CUDA sees (a cluster may advertise GPUs a node lacks), so None
    (ask PyTorch). The planner assumes the CPU for SLURM runs, so the ONNX export is there either way."""
    if "SLURM_JOB_ID" in environ:
        return None
    return gpu_resource > 0


def cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def choose(backend: str, device: str, stage: str, gpu: bool | None = None) -> tuple[str, str]:
    """(backend, device) that a stage's settings mean: ``onnx`` on ``cpu``, or ``torch`` on ``cpu`` / ``cuda:N``.

    ``gpu``: whether the job has a GPU (in the workflow: it was given ``gpu=1``); None asks PyTorch.
    ``stage`` names the config section in messages.
    """
    if backend not in BACKENDS:
        raise BackendError(f"config: {stage}.backend {backend!r} unknown; use one of {', '.join(BACKENDS)}")
    if device == "auto":
        if not may_use_gpu(backend, device):
            device = "cpu"
        else:
            device = "cuda:0" if (cuda_available() if gpu is None else gpu) else "cpu"
    elif device.isdigit():
        device = f"cuda:{device}"
    if backend == "auto":
        backend = "onnx" if device == "cpu" else "torch"
    if backend == "onnx" and device != "cpu":
        raise BackendError(
            f"the onnx backend runs on the CPU only, but {stage}.device is {device!r}; set {stage}.backend to torch"
        )
    return backend, device
