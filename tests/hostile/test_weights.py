"""Hostile model files: nothing loaded from disk is trusted (issue 11).

A weights file is loaded only when its sha256 is the one known for it (the registry's, the one recorded
on first use, or the one the user declared), and only through torch's ``weights_only`` unpickler, so a
file that names code is refused before that code runs. Every hostile file here would create a marker
file if it were unpickled in full.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO, Workdir, repo_config

from reidflow import assets, features, track, trackers
from reidflow.assets import ChecksumError

REGISTRY = assets.load_registry(REPO / assets.REGISTRY_FILE)


class PlantsMarker:
    """Unpickled in full, this creates ``marker``: what any code named by a weights file could do."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def hostile_checkpoint(path: Path, marker: Path) -> Path:
    """An ultralytics-shaped checkpoint whose model is code."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": PlantsMarker(marker), "train_args": {}}, path)
    return path


def flip_byte(path: Path, offset: int = 1000) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


# --- YOLO weights: loaded only through the weights_only unpickler ---------------------------------


def test_yolo_with_code_is_refused_by_the_onnx_export(tmp_path):
    marker = tmp_path / "marker"
    weights = hostile_checkpoint(tmp_path / "models" / "yolov8n.pt", marker)
    with pytest.raises(track.TrackError) as err:
        track.export_onnx(weights, tmp_path / "yolov8n.onnx")
    assert not marker.exists(), "the file's code ran"
    message = str(err.value)
    assert str(weights) in message and "refused" in message and "allowed list" in message
    assert "official weights" in message and "\n" not in message
    assert not (tmp_path / "yolov8n.onnx").exists()


def test_yolo_with_code_is_refused_by_the_torch_detector(tmp_path):
    marker = tmp_path / "marker"
    weights = hostile_checkpoint(tmp_path / "yolov8n.pt", marker)
    settings = track.TrackSettings(backend="torch", device="cpu")
    with pytest.raises(track.TrackError) as err:
        track.build_detector(weights, None, settings, threads=1)
    assert not marker.exists(), "the file's code ran"
    assert str(weights) in str(err.value) and "refused" in str(err.value) and "allowed list" in str(err.value)


# Run in a fresh interpreter: ``imports`` first, then reidflow.track loads hostile weights. Prints the
# environment ultralytics reads right after the imports, and the TrackError's message.
FRESH_LOAD = """
import json, os, sys
VARIABLES = ("YOLO_OFFLINE", "YOLO_AUTOINSTALL", "ULTRALYTICS_SAFE_LOAD")
{imports}
from reidflow import track
after_import = {{name: os.environ.get(name) for name in VARIABLES}}
try:
    track.load_yolo(sys.argv[1])
    message = None
except track.TrackError as err:
    message = str(err)
print(json.dumps({{"after_import": after_import, "message": message}}))
"""


def load_in_fresh_process(weights: Path, imports: str = "") -> dict:
    env = {
        k: v for k, v in os.environ.items() if k not in ("YOLO_OFFLINE", "YOLO_AUTOINSTALL", "ULTRALYTICS_SAFE_LOAD")
    }
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run(
        [sys.executable, "-c", FRESH_LOAD.format(imports=imports), str(weights)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_library_sets_up_ultralytics_itself_and_not_at_import(tmp_path):
    """Used from Python without the workflow: importing reidflow.track changes nothing, and loading
    weights sets up ultralytics first, so a file with code is refused by the allow-list."""
    marker = tmp_path / "marker"
    weights = hostile_checkpoint(tmp_path / "yolov8n.pt", marker)
    result = load_in_fresh_process(weights)
    assert result["after_import"] == dict.fromkeys(("YOLO_OFFLINE", "YOLO_AUTOINSTALL", "ULTRALYTICS_SAFE_LOAD")), (
        "no import-time side effects"
    )
    assert not marker.exists(), "the file's code ran"
    assert str(weights) in result["message"] and "refused" in result["message"] and "allowed list" in result["message"]


def test_ultralytics_imported_before_reidflow_fails_closed(tmp_path):
    marker = tmp_path / "marker"
    weights = hostile_checkpoint(tmp_path / "yolov8n.pt", marker)
    result = load_in_fresh_process(weights, imports="import ultralytics")
    assert not marker.exists(), "the file's code ran"
    assert (
        "full unpickle" in result["message"]
        and "configure_ultralytics() before importing ultralytics" in result["message"]
    )


def test_ultralytics_never_unpickles_in_full(monkeypatch, models_dir, tmp_path):
    """Real weights load, export and track while every torch.load ultralytics makes is weights_only."""
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    track.require_safe_load()
    track.export_onnx(models_dir / "yolov8n.pt", tmp_path / "yolov8n.onnx")
    assert (tmp_path / "yolov8n.onnx").stat().st_size > 1_000_000
    detector = track.TorchPersonDetector(models_dir / "yolov8n.pt", track.TrackSettings(), "cpu")
    frame = np.zeros((480, 640, 3), dtype=np.uint8)
    assert detector([frame])[0].shape[1] == 5
    for name in trackers.TRACKERS:
        track.make_tracker(track.tracker_params(name))
    assert calls and all(flag is True for flag in calls), f"torch.load weights_only flags: {calls}"


# --- checksums: before every load ------------------------------------------------------------------


def test_registry_file_with_other_bytes_is_refused(models_dir, tmp_path):
    name = "osnet_x0_25_msmt17.pth"
    path = tmp_path / name
    shutil.copyfile(models_dir / name, path)
    good = assets.verify_model(path, name, REGISTRY, tmp_path / "SHA256SUMS")
    assert good == REGISTRY[name].sha256
    flip_byte(path)
    bad = assets.sha256_file(path)
    with pytest.raises(ChecksumError) as err:
        assets.verify_model(path, name, REGISTRY, tmp_path / "SHA256SUMS")
    message = str(err.value)
    assert str(path) in message and bad in message and REGISTRY[name].sha256 in message
    assert "downloaded again" in message and "\n" not in message


def test_first_use_is_recorded_and_a_later_change_refused(models_dir, tmp_path):
    assert REGISTRY["yolov8n.pt"].sha256 is None, "no official hash: trusted on first use"
    path = tmp_path / "models" / "yolov8n.pt"
    path.parent.mkdir()
    shutil.copyfile(models_dir / "yolov8n.pt", path)
    sums = tmp_path / "resources" / "models" / "SHA256SUMS"
    logged = []
    first = assets.verify_model(path, "yolov8n.pt", REGISTRY, sums, log=logged.append)
    assert sums.read_text() == f"{first}  yolov8n.pt\n", "the line sha256sum writes"
    assert logged and "first use" in logged[0]
    assert assets.verify_model(path, "yolov8n.pt", REGISTRY, sums) == first
    flip_byte(path)
    changed = assets.sha256_file(path)
    with pytest.raises(ChecksumError) as err:
        assets.verify_model(path, "yolov8n.pt", REGISTRY, sums)
    message = str(err.value)
    assert first in message and changed in message and str(path) in message
    assert f"update the line for yolov8n.pt in {sums}" in message
    assert sums.read_text() == f"{first}  yolov8n.pt\n", "a changed file is never recorded"


def _verify_in_child(args):
    path, sums = args
    return assets.verify_model(path, "yolov8n.pt", REGISTRY, sums, log=lambda _: None)


def test_concurrent_first_uses_record_one_line(tmp_path):
    path = tmp_path / "yolov8n.pt"
    path.write_bytes(b"weights" * 1000)
    sums = tmp_path / "SHA256SUMS"
    with multiprocessing.get_context("fork").Pool(4) as pool:
        digests = pool.map(_verify_in_child, [(path, sums)] * 8)
    assert len(set(digests)) == 1
    assert sums.read_text().splitlines() == [f"{digests[0]}  yolov8n.pt"]


def test_own_weights_must_be_declared(models_dir, tmp_path):
    path = tmp_path / "data" / "my_reid.pth"
    path.parent.mkdir()
    shutil.copyfile(models_dir / "osnet_x0_25_market1501.pth", path)
    sums = tmp_path / "SHA256SUMS"
    digest = assets.sha256_file(path)
    with pytest.raises(ChecksumError) as err:
        assets.verify_model(path, str(path), REGISTRY, sums)
    message = str(err.value)
    assert "no sha256 is declared" in message and f"'{digest}  {path}'" in message and str(sums) in message
    assert not sums.exists(), "the user's own weights are never trusted on first use"
    sums.write_text(f"# my weights\n{digest}  {path}\n")  # what `sha256sum PATH >> SHA256SUMS` adds
    assert assets.verify_model(path, str(path), REGISTRY, sums) == digest
    flip_byte(path)
    with pytest.raises(ChecksumError, match=f"expected {digest}"):
        assets.verify_model(path, str(path), REGISTRY, sums)


def test_malformed_checksum_file_names_its_line(tmp_path):
    sums = tmp_path / "SHA256SUMS"
    sums.write_text(f"{'a' * 64}  yolov8n.pt\nnot a checksum line\n")
    with pytest.raises(assets.AssetError, match=r"SHA256SUMS, line 2: not a '<sha256>  <file>' line"):
        assets.read_sums(sums)


# --- ReID weights: clean refusal ---------------------------------------------------------------------


def test_reid_weights_with_code_are_refused_cleanly(tmp_path):
    marker = tmp_path / "marker"
    weights = tmp_path / "osnet.pth"
    torch.save({"conv1.weight": torch.zeros(1), "evil": PlantsMarker(marker)}, weights)
    with pytest.raises(features.FeaturesError) as err:
        features.read_state_dict(weights)
    assert not marker.exists()
    message = str(err.value)
    assert str(weights) in message and "refused" in message and "other than tensors" in message
    assert "\x1b[" not in message and "\n" not in message
    assert "can still be loaded" not in message and "weights_only=False" not in message


# --- through the workflow ------------------------------------------------------------------------------


@pytest.fixture
def bare_workdir(tmp_path, vtest_video) -> Workdir:
    """A working directory whose weights come from REIDFLOW_MODELS_DIR (set by the test), not the config."""
    config = repo_config(tmp_path)
    config["models_dir"] = None
    wd = Workdir(tmp_path / "run", config)
    wd.write_config()
    wd.write_videos([("clip", vtest_video, "")])
    return wd


ONNX = "resources/models/exported/yolov8n.onnx"


@pytest.mark.slow
def test_workflow_refuses_yolo_with_code(bare_workdir, tmp_path, monkeypatch):
    marker = tmp_path / "marker"
    hostile_checkpoint(tmp_path / "models" / "yolov8n.pt", marker)
    monkeypatch.setenv(assets.MODELS_DIR_ENV, str(tmp_path / "models"))
    proc = bare_workdir.snakemake(ONNX, check=False)
    assert not marker.exists(), "the file's code ran"
    log = (bare_workdir.path / "logs" / "export_detector" / "detector.log").read_text()
    assert proc.returncode != 0 and "refused" in log and "allowed list" in log, proc.stderr[-3000:]
    assert not (bare_workdir.path / ONNX).exists()


@pytest.mark.slow
def test_workflow_records_first_use_and_refuses_a_changed_detector(bare_workdir, tmp_path, monkeypatch, models_dir):
    weights = tmp_path / "models" / "yolov8n.pt"
    weights.parent.mkdir()
    shutil.copyfile(models_dir / "yolov8n.pt", weights)
    monkeypatch.setenv(assets.MODELS_DIR_ENV, str(weights.parent))
    bare_workdir.snakemake(ONNX)
    sums = bare_workdir.path / assets.SUMS_FILE
    first = assets.sha256_file(weights)
    assert sums.read_text() == f"{first}  yolov8n.pt\n"
    flip_byte(weights)
    proc = bare_workdir.snakemake(ONNX, check=False)
    log = (bare_workdir.path / "logs" / "export_detector" / "detector.log").read_text()
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert first in log and assets.sha256_file(weights) in log and "update the line for yolov8n.pt" in log
