"""Wall time of the ``annotate`` stage divided by a plain decode + encode of the same video (same run).

The baseline decodes every frame with the same reader (reidflow.video.FrameReader, OpenCV) and encodes it
with the same encoder and settings (PyAV libx264, CRF 23, veryfast, yuv420p, same threads) without drawing;
the stage also finds each frame's boxes and draws boxes and labels. Boxes come from a finished run
(``--identities`` results/<video>/identities.npz with ``--people`` results/people/people.json), else
``--people-per-frame`` generated people walking across the frame on every frame. One untimed decode
warms the file cache; ``--repeat N`` alternates baseline and stage N times and reports the median ratio.
Target: <= 1.5x.

    .venv/bin/python bench/annotate.py --video ../shared/data/pets09-s2l1/vtest.avi --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from reidflow.annotate import PersonBoxes, annotate_video, encode_frames, person_boxes, person_colour
from reidflow.formats.identities import read_identities
from reidflow.formats.people import read_people
from reidflow.video import FrameReader


def generated_boxes(frames: int, width: int, height: int, per_frame: int) -> PersonBoxes:
    """``per_frame`` people on every frame, each walking across the frame (boxes 1/8 wide, 1/3 high)."""
    f = np.repeat(np.arange(frames), per_frame)
    p = np.tile(np.arange(per_frame), frames)
    x = (p * width / per_frame + f * 2.0) % (width * 7 / 8)
    y = (p * 37.0) % (height * 2 / 3)
    boxes = np.stack([x, y, x + width / 8, y + height / 3], axis=1).astype(np.float32)
    return PersonBoxes(f, boxes, [f"P{i + 1}" for i in p], [person_colour(int(i) + 1) for i in p])


def plain(video: Path, out: Path, threads: int) -> int:
    reader = FrameReader(video)
    return encode_frames(reader, out, reader.info.fps, reader.info.width, reader.info.height, threads=threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, required=True)
    parser.add_argument("--identities", type=Path, help="identities.npz of this video (with --people)")
    parser.add_argument("--people", type=Path, help="people.json of the run")
    parser.add_argument("--people-per-frame", type=int, default=8, help="generated boxes per frame otherwise")
    parser.add_argument("--threads", type=int, default=2, help="encoder threads, both sides (rule: its threads)")
    parser.add_argument("--repeat", type=int, default=1, help="alternate baseline and stage this many times")
    args = parser.parse_args()

    info = FrameReader(args.video).info
    if args.identities and args.people:
        boxes = person_boxes(read_identities(args.identities), read_people(args.people), str(args.people))
        source = f"{args.identities} ({len(boxes.frames)} boxes)"
    else:
        boxes = generated_boxes(info.frame_count, info.width, info.height, args.people_per_frame)
        source = f"generated, {args.people_per_frame} per frame"
    for _ in FrameReader(args.video):  # warm the file cache
        pass
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.repeat):
            t0 = time.perf_counter()
            frames = plain(args.video, Path(tmp) / "plain.mp4", args.threads)
            t1 = time.perf_counter()
            annotated = annotate_video(args.video, boxes, Path(tmp) / "annotated.mp4", threads=args.threads)
            t2 = time.perf_counter()
            assert annotated == frames
            ratios.append((t2 - t1) / (t1 - t0))
            print(
                f"run {run + 1}: decode + encode {t1 - t0:.2f} s, annotate {t2 - t1:.2f} s "
                f"({frames} frames {info.width}x{info.height}, boxes: {source}): {ratios[-1]:.2f}x"
            )
    print(f"annotate / (decode + encode): median {statistics.median(ratios):.2f}x over {len(ratios)} runs")


if __name__ == "__main__":
    main()
