"""Frames/s of the ``track`` stage against the plain ultralytics loop, as a ratio from one run.

Baseline: ``for frame in video: model.track(frame, persist=True, classes=[0])`` with the same weights,
imgsz and thread count. Stage: reidflow.track (ONNX Runtime export, rect letterbox, batched detector,
decoder thread, same ByteTrack). The one-time ONNX export (its own rule) is timed separately.

    .venv/bin/python bench/track.py --weights ../shared/models/yolov8n.pt --video ../shared/data/pets09-s2l1/vtest.avi
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import torch

from reidflow import track


def baseline_fps(video: Path, weights: Path, frames: int, imgsz: int) -> float:
    model = track.load_yolo(weights)  # weights_only unpickle, like the stage
    cap = cv2.VideoCapture(str(video))
    ok, frame = cap.read()
    model.track(frame, persist=True, classes=[0], imgsz=imgsz, verbose=False)  # warm-up, not timed
    cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
    model = track.load_yolo(weights)  # fresh tracker
    start, done = time.perf_counter(), 0
    while done < frames:
        ok, frame = cap.read()
        if not ok:
            break
        model.track(frame, persist=True, classes=[0], imgsz=imgsz, verbose=False)
        done += 1
    return done / (time.perf_counter() - start)


def stage_fps(video: Path, onnx: Path, weights: Path, frames: int, imgsz: int, threads: int, batch: int) -> float:
    settings = track.TrackSettings(imgsz=imgsz, batch=batch, device="cpu")
    detector = track.build_detector(weights, onnx, settings, threads)
    cap = cv2.VideoCapture(str(video))
    detector([cap.read()[1]])  # warm-up, not timed
    start = time.perf_counter()
    track.track_video(video, detector, track.tracker_params("bytetrack"), batch=batch, stop=frames)
    return frames / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--video", type=Path, required=True)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--imgsz", type=int, default=640)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        onnx = Path(tmp) / "detector.onnx"
        t0 = time.perf_counter()
        track.export_onnx(args.weights, onnx, imgsz=args.imgsz)
        export_s = time.perf_counter() - t0
        base = baseline_fps(args.video, args.weights, args.frames, args.imgsz)
        fast = stage_fps(args.video, onnx, args.weights, args.frames, args.imgsz, args.threads, args.batch)
    print(
        f"video {args.video.name}, {args.frames} frames, imgsz {args.imgsz}, {args.threads} threads, batch {args.batch}"
    )
    print(f"baseline model.track loop : {base:6.1f} frames/s")
    print(f"reidflow track stage      : {fast:6.1f} frames/s")
    print(f"speed-up                  : {fast / base:6.2f}x  (one-time ONNX export: {export_s:.1f} s)")


if __name__ == "__main__":
    main()
