"""Wall time of the ``crops`` stage divided by a plain sequential decode of the same frames (one run).

Both read the same file with the same library (OpenCV), after one untimed read that warms the file
cache. Tracks come from ``--tracks`` (a tracks.npz) or are made first by the track stage (not timed).
``--repeat N`` alternates baseline and stage N times and also reports the median ratio.

The stage runs on two threads (decoder; cutting, scoring, compressing, writing), so the wall ratio
needs two free cores; CPU time (both threads) over the baseline's shows the work done, which is what
counts when other processes take the second core. vtest.avi, 1588 crops, 2-core machine: 0.91-1.10x
(median 1.07x; CPU 1.35-1.6x) with the second core free, ~2x when other jobs hold both cores.

    .venv/bin/python bench/crops.py --video ../shared/data/pets09-s2l1/vtest.avi --weights ../shared/models/yolov8n.pt
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import cv2

from reidflow import crops, track
from reidflow.formats.crops import CropsReader
from reidflow.formats.tracks import Tracks, TracksMeta, read_tracks


def make_tracks(video: Path, weights: Path, tmp: Path) -> Tracks:
    onnx = tmp / "detector.onnx"
    track.export_onnx(weights, onnx)
    detector = track.build_detector(weights, onnx, track.TrackSettings(device="cpu"), threads=2)
    rows, info = track.track_video(video, detector, track.tracker_params("bytetrack"))
    meta = TracksMeta("bench", str(video), info, 1, weights.name, "", "bytetrack", {})
    return Tracks(rows, meta)


def timed(work) -> tuple[float, float]:
    """Wall and CPU seconds (all threads of this process) of ``work()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def plain_decode(video: Path, frames: int) -> None:
    cap = cv2.VideoCapture(str(video))
    for _ in range(frames):
        if not cap.read()[0]:
            break
    cap.release()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, required=True)
    parser.add_argument("--weights", type=Path, help="YOLO weights, to make tracks when --tracks is not given")
    parser.add_argument("--tracks", type=Path)
    parser.add_argument("--repeat", type=int, default=1, help="alternate baseline and stage this many times")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tracks = read_tracks(args.tracks) if args.tracks else make_tracks(args.video, args.weights, tmp)
        settings = crops.CropSettings()
        last = int(tracks.rows.frames.max()) + 1
        args.video.read_bytes()  # warm the file cache for both sides
        out = tmp / "final_crops.h5"
        ratios = []
        for run in range(max(1, args.repeat)):
            decode_s, decode_cpu = timed(lambda: plain_decode(args.video, last))
            stage_s, stage_cpu = timed(lambda: crops.extract_crops(args.video, tracks, settings, out, "bench"))
            ratios.append(stage_s / decode_s)
            if args.repeat > 1:
                print(f"run {run + 1}: decode {decode_s:.2f} s, stage {stage_s:.2f} s, ratio {ratios[-1]:.2f}x")
        with CropsReader(out) as reader:
            persons = len(reader.track_ids)
            n = int(reader.persons["crops_kept"].sum())
        size = out.stat().st_size
    print(f"video {args.video.name}: {last} frames decoded, {persons} persons, {n} crops")
    print(f"plain sequential decode : {decode_s:6.2f} s  (CPU {decode_cpu:.2f} s)")
    print(f"crops stage             : {stage_s:6.2f} s  (CPU {stage_cpu:.2f} s, both threads)")
    print(f"ratio                   : {ratios[-1]:6.2f}x  (target <= 1.3x); CPU {stage_cpu / decode_cpu:.2f}x")
    if len(ratios) > 1:
        print(
            f"ratios over {len(ratios)} runs  : {min(ratios):.2f}-{max(ratios):.2f}x, median {statistics.median(ratios):.2f}x"
        )
    print(f"HDF5 size               : {size / 1e6:.1f} MB, {size / max(persons, 1) / 1e6:.2f} MB per person")


if __name__ == "__main__":
    main()
