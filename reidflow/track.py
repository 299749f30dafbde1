"""Stage 1, ``track``: detect people with ultralytics YOLO and follow them with ultralytics' ByteTrack/BoT-SORT.

Speed on CPU comes from an ONNX Runtime export of the same weights (threads set by the rule), a
rectangular letterbox like ultralytics' own, person-only post-processing, and a decoder thread that
reads ahead. Detections go to a fresh tracker frame by frame, in order: batched ``model.track`` with
``persist=True`` is unreliable (ultralytics#22483), so detection is batched and tracking is not.

ultralytics is imported only inside the functions that need it, each after
``runtime.configure_ultralytics()`` (offline, weights only through its allow-list).

The whole stage from Python: see ``track_video``.
"""

from __future__ import annotations

import logging
import pickle
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from reidflow import ReidflowError, backends
from reidflow.files import atomic_output
from reidflow.formats.tracks import TrackRows, VideoInfo
from reidflow.runtime import configure_ultralytics
from reidflow.settings import TrackSettings
from reidflow.trackers import check_tracker_params
from reidflow.video import FrameReader

log = logging.getLogger(__name__)

PERSON_CLASS = 0


class TrackError(ReidflowError):
    pass


def tracker_params(name: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """ultralytics' defaults for ``name`` with ``overrides`` applied (checked by check_tracker_params)."""
    overrides = dict(overrides or {})
    check_tracker_params(name, overrides)
    import yaml

    configure_ultralytics()
    from ultralytics.utils import ROOT

    defaults = yaml.safe_load((Path(ROOT) / "cfg" / "trackers" / f"{name}.yaml").read_text())
    return {**defaults, **overrides, "tracker_type": name}


def make_tracker(params: dict[str, Any]):
    configure_ultralytics()
    from ultralytics.trackers.track import TRACKER_MAP
    from ultralytics.utils import IterableSimpleNamespace

    return TRACKER_MAP[params["tracker_type"]](args=IterableSimpleNamespace(**params))


def letterbox_geometry(height: int, width: int, imgsz: int, stride: int = 32) -> tuple[float, int, int, int, int]:
    """Scale and padding of ultralytics' rectangular letterbox: (gain, new_w, new_h, pad_left, pad_top).

    The padded input is ``new`` rounded up to a multiple of ``stride`` on each side, padding centred.
    """
    gain = min(imgsz / height, imgsz / width)
    new_w, new_h = round(width * gain), round(height * gain)
    pad_w = (-new_w) % stride
    pad_h = (-new_h) % stride
    return gain, new_w, new_h, int(round(pad_w / 2 - 0.1)), int(round(pad_h / 2 - 0.1))


class OnnxPersonDetector:
    """Person boxes from an ONNX export of a YOLOv8-style detector (output: batch × (4 + classes) × anchors)."""

    def __init__(self, onnx_path: str | Path, settings: TrackSettings, threads: int):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own exception types
            raise TrackError(f"{onnx_path}: cannot load the ONNX detector ({err}); delete it to re-export") from None
        self.input_name = self.session.get_inputs()[0].name
        self.settings = settings

    def preprocess(self, frames: Sequence[np.ndarray]) -> tuple[np.ndarray, tuple[float, int, int]]:
        h, w = frames[0].shape[:2]
        gain, new_w, new_h, left, top = letterbox_geometry(h, w, self.settings.imgsz)
        in_w, in_h = new_w + (-new_w) % 32, new_h + (-new_h) % 32
        batch = np.full((len(frames), in_h, in_w, 3), 114, dtype=np.uint8)
        for i, frame in enumerate(frames):
            resized = (
                frame if (new_w, new_h) == (w, h) else cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
            )
            batch[i, top : top + new_h, left : left + new_w] = resized
        tensor = np.ascontiguousarray(batch[..., ::-1].transpose(0, 3, 1, 2), dtype=np.float32)
        tensor *= 1.0 / 255.0
        return tensor, (gain, left, top)

    def postprocess(
        self, output: np.ndarray, geometry: tuple[float, int, int], shape: tuple[int, int]
    ) -> list[np.ndarray]:
        import torch
        from torchvision.ops import nms

        gain, left, top = geometry
        height, width = shape
        s = self.settings
        results = []
        for pred in output:  # (4 + classes, anchors)
            scores = pred[4:]
            person = scores[PERSON_CLASS]
            # ultralytics keeps a box for its best class only: a person box must have person as argmax
            keep = (person > s.conf) & (scores.argmax(0) == PERSON_CLASS)
            cx, cy, bw, bh = pred[:4, keep]
            conf = person[keep]
            boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
            if len(conf):
                kept = nms(torch.from_numpy(boxes), torch.from_numpy(conf), s.iou).numpy()[: s.max_det]
                boxes, conf = boxes[kept], conf[kept]
            boxes = (boxes - np.array([left, top, left, top], dtype=np.float32)) / gain
            boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
            boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
            results.append(np.concatenate([boxes, conf[:, None]], axis=1).astype(np.float32))
        return results

    def __call__(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        tensor, geometry = self.preprocess(frames)
        output = self.session.run(None, {self.input_name: tensor})[0]
        return self.postprocess(output, geometry, frames[0].shape[:2])


def require_safe_load() -> None:
    """Fail closed unless ultralytics will unpickle weights with its allow-list (``configure_ultralytics``)."""
    import torch

    configure_ultralytics()
    from ultralytics.nn import tasks

    # ultralytics reads ULTRALYTICS_SAFE_LOAD once, at import, and falls back to a full unpickle on torch < 2.6
    if not getattr(tasks, "SAFE_LOAD", False) or not hasattr(torch.serialization, "get_unsafe_globals_in_checkpoint"):
        raise TrackError(
            "ultralytics would load YOLO weights with a full unpickle, which can run code from the file: it was "
            "imported before reidflow.runtime.configure_ultralytics() ran, or torch is older than 2.6; call "
            "configure_ultralytics() before importing ultralytics (or set ULTRALYTICS_SAFE_LOAD=1), with "
            "torch >= 2.6 (envs/track.yaml)"
        )


def load_yolo(weights: str | Path):
    """ultralytics' YOLO detector from a ``.pt`` file holding only tensors and known model classes."""
    require_safe_load()
    from ultralytics import YOLO

    try:
        return YOLO(str(weights), task="detect")
    except Exception as err:  # ultralytics raises many types for a bad checkpoint
        if isinstance(err.__cause__, pickle.UnpicklingError):  # the weights_only unpickler said no
            raise TrackError(
                f"{weights}: refused: the file contains code or objects outside the allowed list of ultralytics "
                "model classes, which could run code when loaded (or it is damaged); use the official weights "
                "(e.g. yolov8n.pt from resources/models.yaml) or a checkpoint saved by ultralytics itself"
            ) from None
        lines = str(err).strip().splitlines()
        reason = re.sub(r"^ERROR\W*", "", lines[0]) if lines else type(err).__name__  # drop ultralytics' emoji
        raise TrackError(f"{weights}: cannot load the YOLO weights ({reason}); replace the file") from None


class TorchPersonDetector:
    """Person boxes from ultralytics' own predictor (PyTorch; the GPU path, fp16 with ``half``)."""

    def __init__(self, weights: str | Path, settings: TrackSettings, device: str):
        self.model = load_yolo(weights)
        self.settings, self.device = settings, device

    def __call__(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        s = self.settings
        results = self.model.predict(
            list(frames),
            imgsz=s.imgsz,
            conf=s.conf,
            iou=s.iou,
            max_det=s.max_det,
            classes=[PERSON_CLASS],
            device=self.device,
            half=s.half and self.device != "cpu",
            verbose=False,
        )
        return [r.boxes.data[:, :5].cpu().numpy().astype(np.float32) for r in results]


Detector = Callable[[Sequence[np.ndarray]], list[np.ndarray]]


def build_detector(
    weights: str | Path, onnx_path: str | Path | None, settings: TrackSettings, threads: int, gpu: bool | None = None
) -> Detector:
    """The detector that ``settings.backend`` and ``settings.device`` mean (``backends.choose``): ultralytics'
    PyTorch predictor from ``weights``, or ONNX Runtime on the CPU from ``onnx_path`` (``export_onnx``).

    ``gpu``: whether the job has a GPU (in the workflow: Snakemake gave it one); None asks PyTorch.
    """
    backend, device = backends.choose(settings.backend, settings.device, "track", gpu)
    if backend == "onnx":
        if onnx_path is None:
            raise TrackError("the onnx backend needs the exported detector (rule export_detector)")
        log.info("detector: ONNX Runtime on CPU, %d threads, %s", threads, onnx_path)
        return OnnxPersonDetector(onnx_path, settings, threads)
    import torch

    torch.set_num_threads(max(1, threads))
    log.info("detector: ultralytics/PyTorch on %s%s, %s", device, " fp16" if settings.half else "", weights)
    return TorchPersonDetector(weights, settings, device)


def export_onnx(weights: str | Path, out: str | Path, imgsz: int = TrackSettings.imgsz) -> None:
    """Export YOLO weights to ONNX with dynamic shapes, offline, without touching the weights' folder."""
    weights = Path(weights)
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / weights.name
        shutil.copyfile(weights, local)
        try:
            model = load_yolo(local)
        except TrackError as err:  # name the user's file, not the temporary copy
            raise TrackError(str(err).replace(str(local), str(weights), 1)) from None
        try:
            exported = model.export(format="onnx", dynamic=True, simplify=True, imgsz=imgsz)
        except Exception as err:
            raise TrackError(f"{weights}: ONNX export failed ({err})") from None
        with atomic_output(out) as target:
            shutil.move(exported, target)


def track_video(
    video: str | Path,
    detector: Detector,
    params: dict[str, Any],
    vid_stride: int = TrackSettings.vid_stride,
    batch: int = TrackSettings.batch,
    stop: int | None = None,
) -> tuple[TrackRows, VideoInfo]:
    """Run detector and a fresh tracker over the video in one streaming pass.

    Rows hold the detector's box (not the Kalman prediction) with the tracker's id, so later crops
    show what was actually seen. Memory: a few frames plus the rows. ``params``: ``tracker_params``.

    Examples:
        >>> from reidflow import track
        >>> from reidflow.formats.tracks import Tracks, TracksMeta, write_tracks
        >>> settings = track.TrackSettings(device="cpu", vid_stride=2)
        >>> track.export_onnx("yolov8n.pt", "yolov8n.onnx", settings.imgsz)
        >>> detector = track.build_detector("yolov8n.pt", "yolov8n.onnx", settings, threads=4)
        >>> params = track.tracker_params(settings.tracker, {"track_buffer": 60})
        >>> rows, info = track.track_video("vtest.avi", detector, params, settings.vid_stride, settings.batch)
        >>> len(rows), info.frame_count
        (8412, 795)
        >>> meta = TracksMeta("vtest", "vtest.avi", info, settings.vid_stride, "yolov8n.pt", "<sha256>", settings.tracker, params)
        >>> write_tracks("tracks.npz", Tracks(rows, meta))
    """
    configure_ultralytics()
    from ultralytics.engine.results import Boxes

    tracker = make_tracker(params)
    reader = FrameReader(video, stride=vid_stride, stop=stop)
    expected = reader.info.frame_count or None
    parts: list[TrackRows] = []
    started = last_report = time.monotonic()
    done = 0

    def flush(pending: list[tuple[int, np.ndarray]]) -> None:
        nonlocal done
        detections = detector([frame for _, frame in pending])
        for (index, frame), dets in zip(pending, detections):
            data = np.zeros((len(dets), 6), dtype=np.float32)
            data[:, :5] = dets  # class column stays 0: person
            out = tracker.update(Boxes(data, frame.shape[:2]), frame)
            if len(out):
                det_index = out[:, -1].astype(int)
                parts.append(TrackRows(np.full(len(out), index), out[:, 4], dets[det_index, :4], dets[det_index, 4]))
        done += len(pending)

    pending: list[tuple[int, np.ndarray]] = []
    for item in reader:
        pending.append(item)
        if len(pending) >= batch:
            flush(pending)
            pending = []
            now = time.monotonic()
            if now - last_report >= 10:
                last_report = now
                total = f"/{-(-expected // vid_stride)}" if expected else ""
                log.info("frame %d: %d%s frames processed, %.1f frames/s", item[0], done, total, done / (now - started))
    if pending:
        flush(pending)
    rows = TrackRows.concatenate(parts)
    elapsed = time.monotonic() - started
    log.info(
        "done: %d frames, %d tracks, %d rows in %.1f s (%.1f frames/s)",
        done,
        len(np.unique(rows.track_ids)),
        len(rows),
        elapsed,
        done / max(elapsed, 1e-9),
    )
    return rows, reader.info_after_read()
