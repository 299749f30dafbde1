"""Stage ``annotate`` (optional, config ``annotate: true``): ``results/<video>/annotated.mp4``, the video with
every person's box and label in a colour of their own.

One decode pass (``reidflow.video.FrameReader``, in a background thread); each frame gets the boxes of
``identities.npz`` (its detections and the boxes filling gaps, as identities.txt) drawn by OpenCV and goes
straight to an H.264 encoder (PyAV's libx264, yuv420p, CRF 23): nothing but the frames in flight is held in memory. The label is the person's name where people.json has one,
else the person id across videos ("P3"); the colour is a function of the person id alone, so a person keeps
it in every video (person ids may change when ``people`` runs again, and colours with them). Detections of tracks in no identity (too short to be kept) are not drawn.
With ``track.vid_stride`` > 1 a box stays on screen until the next detected frame.

Examples:
    >>> from reidflow.annotate import annotate_video, person_boxes
    >>> from reidflow.formats.identities import read_identities
    >>> from reidflow.formats.people import read_people
    >>> boxes = person_boxes(read_identities("results/v/identities.npz"), read_people("results/people/people.json"))
    >>> annotate_video("v.mp4", boxes, "results/v/annotated.mp4", vid_stride=1)  # doctest: +SKIP
"""

from __future__ import annotations

import colorsys
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from reidflow import ReidflowError
from reidflow.files import atomic_output
from reidflow.formats.base import REBUILD
from reidflow.formats.identities import IdentityRows
from reidflow.formats.people import People, Person
from reidflow.video import FrameReader

log = logging.getLogger(__name__)

ENCODER = "libx264"
CRF = 23  # x264's default quality
PRESET = "veryfast"  # ~2x faster than "medium" at a slightly larger file
PROGRESS_EVERY_S = 10.0


class AnnotateError(ReidflowError):
    pass


def person_colour(person: int) -> tuple[int, int, int]:
    """A stable, saturated BGR colour per person id: hues a golden angle apart, so neighbouring ids differ.

    Examples:
        >>> person_colour(1) == person_colour(1) != person_colour(2)
        True
    """
    hue = (person * 137.508) % 360 / 360
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 0.95)
    return round(b * 255), round(g * 255), round(r * 255)


def person_label(person: Person) -> str:
    """What a person's box says: the name when people.json has one, else the id across videos ("P3")."""
    # The one place a person's name is used (the overrides' people.names). OpenCV's font is ASCII only:
    # other characters are drawn as "?".
    return person.name if person.name else f"P{person.id}"


@dataclass(frozen=True)
class PersonBoxes:
    """Every box to draw in one video, sorted by frame: its label and colour by row."""

    frames: np.ndarray  # int64 (N,), 0-based
    boxes: np.ndarray  # float32 (N, 4) x1, y1, x2, y2
    labels: list[str]  # (N,)
    colours: list[tuple[int, int, int]]  # (N,) BGR

    def at(self, frame: int, hold: int = 1) -> Iterator[tuple[np.ndarray, str, tuple[int, int, int]]]:
        """The boxes shown in ``frame``: those of the last detected frame at most ``hold - 1`` frames before."""
        end = int(np.searchsorted(self.frames, frame, side="right"))
        if end == 0 or self.frames[end - 1] <= frame - hold:
            return
        start = int(np.searchsorted(self.frames, self.frames[end - 1], side="left"))
        for i in range(start, end):
            yield self.boxes[i], self.labels[i], self.colours[i]


def person_boxes(identities: IdentityRows, people: People, path: str = "people.json") -> PersonBoxes:
    """The boxes of ``identities`` that belong to an identity, as identities.txt holds them (the detections
    and the boxes filling gaps), each with its person's label and colour."""
    person_of = {a.identity: p for p in people.people for a in p.appearances if a.video == identities.video}
    rows = identities.delivered()  # by frame; the identity as track id
    unknown = sorted(set(rows.track_ids.tolist()) - set(person_of))
    if unknown:
        raise AnnotateError(
            f"{path}: identities {unknown[:5]} of video {identities.video!r} are in no person; {REBUILD}"
        )
    ids = rows.track_ids.tolist()
    return PersonBoxes(
        frames=np.asarray(rows.frames, dtype=np.int64),
        boxes=np.asarray(rows.boxes, dtype=np.float32),
        labels=[person_label(person_of[i]) for i in ids],
        colours=[person_colour(person_of[i].id) for i in ids],
    )


def draw(frame: np.ndarray, shown: Iterable[tuple[np.ndarray, str, tuple[int, int, int]]]) -> None:
    """Draw each box with its label (a filled tag above the box, inside the frame) on ``frame`` in place."""
    h, w = frame.shape[:2]
    thickness = max(2, round(h / 300))
    scale = max(0.45, h / 900)
    for box, label, colour in shown:
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        cv2.rectangle(frame, (x1, y1), (x2, y2), colour, thickness)
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        top = y1 - th - base - 2 if y1 - th - base - 2 >= 0 else max(0, y1)  # above the box, else inside
        left = min(max(0, x1), max(0, w - tw - 4))
        cv2.rectangle(frame, (left, top), (left + tw + 4, top + th + base + 2), colour, cv2.FILLED)
        ink = (0, 0, 0) if sum(colour) > 3 * 140 else (255, 255, 255)  # readable on light and dark tags
        cv2.putText(frame, label, (left + 2, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, ink, 1, cv2.LINE_AA)


def encode_frames(
    frames: Iterable[tuple[int, np.ndarray]],
    out_path: str | Path,
    fps: float,
    width: int,
    height: int,
    on_frame: Callable[[int, np.ndarray], None] | None = None,
    threads: int = 0,
) -> int:
    """Encode BGR ``frames`` to an H.264 MP4 at ``out_path`` (written atomically); returns the frame count.

    ``on_frame(index, frame)`` may draw on each frame first. Odd sizes lose their last row/column (yuv420p
    needs even ones). ``threads``: the encoder's (0: its own choice).
    """
    import av

    even_w, even_h = width - width % 2, height - height % 2
    count = 0
    with atomic_output(out_path) as tmp:
        with av.open(str(tmp), "w", format="mp4") as container:
            stream = container.add_stream(ENCODER, rate=Fraction(fps).limit_denominator(1001 * 1000))
            assert isinstance(stream, av.VideoStream)  # for mypy: the codec is a video one
            stream.width, stream.height, stream.pix_fmt = even_w, even_h, "yuv420p"
            stream.options = {"crf": str(CRF), "preset": PRESET}
            stream.codec_context.thread_count = threads
            for index, frame in frames:
                if on_frame is not None:
                    on_frame(index, frame)
                picture = av.VideoFrame.from_ndarray(
                    np.ascontiguousarray(frame[:even_h, :even_w]) if (even_w, even_h) != (width, height) else frame,
                    format="bgr24",
                )
                picture.pts = count
                container.mux(stream.encode(picture))
                count += 1
            container.mux(stream.encode(None))
    return count


def annotate_video(
    video_path: str | Path,
    boxes: PersonBoxes,
    out_path: str | Path,
    vid_stride: int = 1,
    threads: int = 0,
) -> int:
    """Write ``out_path``: every frame of ``video_path`` with the ``boxes`` shown in it; returns the frame count.

    Progress (frames done, of how many, frames/s) goes to the log every ~10 s.
    """
    reader = FrameReader(video_path)
    total = reader.info.frame_count
    started = last = time.monotonic()

    def on_frame(index: int, frame: np.ndarray) -> None:
        nonlocal last
        draw(frame, boxes.at(index, hold=max(1, vid_stride)))
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY_S:
            last = now
            log.info("frame %d of %d (%.1f frames/s)", index + 1, total, (index + 1) / (now - started))

    count = encode_frames(reader, out_path, reader.info.fps, reader.info.width, reader.info.height, on_frame, threads)
    elapsed = time.monotonic() - started
    log.info(
        "%s: %d frames, %d boxes -> %s in %.1f s (%.1f frames/s)",
        video_path,
        count,
        len(boxes.frames),
        out_path,
        elapsed,
        count / max(elapsed, 1e-9),
    )
    return count
