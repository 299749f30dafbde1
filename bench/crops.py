"""Wall time of the ``crops`` stage divided by a plain sequential decode of the same frames (one run).

Tracks come from ``--tracks`` (a tracks.npz) or are made first by the track stage (not timed).

    .venv/bin/python bench/crops.py --video ../shared/data/pets09-s2l1/vtest.avi --weights ../shared/models/yolov8n.pt
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2

from reidflow import crops, formats, track


def make_tracks(video: Path, weights: Path, tmp: Path) -> formats.Tracks:
    onnx = tmp / "detector.onnx"
    track.export_onnx(weights, onnx)
    detector = track.build_detector(weights, onnx, track.DetectorSettings(device="cpu"), threads=2)
    rows, info = track.track_video(video, detector, track.tracker_params("bytetrack"))
    meta = formats.TracksMeta("bench", str(video), info, 1, weights.name, "", "bytetrack", {})
    return formats.Tracks(rows, meta)


def plain_decode(video: Path, frames: int) -> float:
    start = time.perf_counter()
    cap = cv2.VideoCapture(str(video))
    for _ in range(frames):
        if not cap.read()[0]:
            break
    cap.release()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, required=True)
    parser.add_argument("--weights", type=Path, help="YOLO weights, to make tracks when --tracks is not given")
    parser.add_argument("--tracks", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tracks = formats.read_tracks(args.tracks) if args.tracks else make_tracks(args.video, args.weights, tmp)
        settings = crops.CropSettings()
        last = int(tracks.rows.frames.max()) + 1
        decode_s = plain_decode(args.video, last)
        out = tmp / "final_crops.h5"
        start = time.perf_counter()
        n = crops.extract_crops(args.video, tracks, settings, out, "bench")
        stage_s = time.perf_counter() - start
        with formats.CropsReader(out) as reader:
            persons = len(reader.track_ids)
        size = out.stat().st_size
    print(f"video {args.video.name}: {last} frames decoded, {persons} persons, {n} crops")
    print(f"plain sequential decode : {decode_s:6.2f} s")
    print(f"crops stage             : {stage_s:6.2f} s")
    print(f"ratio                   : {stage_s / decode_s:6.2f}x  (target <= 1.3x)")
    print(f"HDF5 size               : {size / 1e6:.1f} MB, {size / max(persons, 1) / 1e6:.2f} MB per person")


if __name__ == "__main__":
    main()
