"""Reading videos: one sequential decode pass, with clear errors for files that are not videos."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Collection, Iterator
from pathlib import Path

import cv2
import numpy as np

from reidflow import ReidflowError
from reidflow.formats.tracks import VideoInfo

log = logging.getLogger(__name__)


class VideoError(ReidflowError):
    pass


def _open(path: Path) -> cv2.VideoCapture:
    if not path.exists():
        raise VideoError(f"{path}: video file not found; fix its path in the video sheet")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: video file is empty (0 bytes); replace it with the real video or remove its row")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise VideoError(
            f"{path}: cannot be opened as a video (corrupt or not a video); re-export it (e.g. ffmpeg -i IN -c:v libx264 OUT.mp4) or remove its row"
        )
    return cap


def probe(path: str | Path) -> VideoInfo:
    """fps and size from the container, frame count as the container states it (it may be wrong)."""
    cap = _open(Path(path))
    try:
        return _info(cap, int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), path)
    finally:
        cap.release()


# Assumed when a container states no frame rate: times, and the space-time evidence in seconds, use it.
FALLBACK_FPS = 25.0


def _info(cap: cv2.VideoCapture, frame_count: int, path: str | Path) -> VideoInfo:
    fps = float(cap.get(cv2.CAP_PROP_FPS))
    if not fps > 0:
        log.warning("%s: the container states no frame rate; assuming %g fps", path, FALLBACK_FPS)
        fps = FALLBACK_FPS
    return VideoInfo(
        fps=fps,
        width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
        height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        frame_count=frame_count,
    )


class FrameReader:
    """Decode frames ``0, stride, 2*stride, ...`` (or only those in ``wanted``) in a background thread.

    Skipped frames are only grabbed, not converted. Memory stays bounded by ``prefetch`` frames.
    After iteration, ``frames_read`` is the number of frames the file really had (up to ``stop``), and
    ``frames_missing`` how many of those its container declares could not be decoded (a truncated file).
    """

    def __init__(
        self,
        path: str | Path,
        stride: int = 1,
        stop: int | None = None,
        prefetch: int = 8,
        wanted: Collection[int] | None = None,
    ):
        self.path = Path(path)
        self.stride = max(1, int(stride))
        self.wanted = None if wanted is None else frozenset(int(i) for i in wanted)
        self.stop = stop
        self._cap = _open(self.path)
        self.info = _info(self._cap, int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)), self.path)
        self.frames_read = 0
        self._stream_ended = False  # decoding stopped at the file's end (or a broken frame), not at stop/cancel
        self._queue: queue.Queue = queue.Queue(maxsize=prefetch)
        self._error: BaseException | None = None
        self._cancel = threading.Event()

    def _put(self, item) -> bool:
        while not self._cancel.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _decode(self) -> None:
        cap, index = self._cap, 0
        try:
            while (self.stop is None or index < self.stop) and not self._cancel.is_set():
                if not cap.grab():
                    self._stream_ended = True
                    break
                if index % self.stride == 0 and (self.wanted is None or index in self.wanted):
                    ok, frame = cap.retrieve()
                    if not ok:
                        self._stream_ended = True
                        break
                    self._put((index, frame))
                index += 1
        except BaseException as err:  # surfaced in the consumer thread
            self._error = err
        finally:
            self.frames_read = index
            self._put(None)

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        thread = threading.Thread(target=self._decode, daemon=True)
        thread.start()
        try:
            while (item := self._queue.get()) is not None:
                yield item
        finally:
            self._cancel.set()  # the consumer may stop early: let the decoder finish
            thread.join()
            self._cap.release()
        if self._error is not None:
            raise self._error
        if self.frames_read == 0:
            raise VideoError(
                f"{self.path}: no frame could be decoded (corrupt or unsupported codec); re-export the video or remove its row"
            )

    @property
    def frames_missing(self) -> int:
        """Declared frames (up to ``stop``) that the decoder never reached; 0 when it was stopped on purpose."""
        declared = self.info.frame_count  # 0: the container does not say
        if self.stop is not None:
            declared = min(declared, self.stop)
        return max(0, declared - self.frames_read) if self._stream_ended else 0

    def info_after_read(self) -> VideoInfo:
        return VideoInfo(self.info.fps, self.info.width, self.info.height, self.frames_read, self.frames_missing)


def check_complete(path: str | Path, info: VideoInfo, on_truncated: str) -> None:
    """Warn about (``on_truncated: warn``) or refuse (``fail``) a video that decoded short of its declared length."""
    if info.shortfall is None:
        return
    message = f"{path}: truncated or damaged video: {info.shortfall}"
    if on_truncated == "fail":
        raise VideoError(
            f"{message}; replace the file with a complete copy, or set track.on_truncated: warn to keep the frames that decode"
        )
    log.warning("%s; results cover only those frames (track.on_truncated: fail refuses such files)", message)
