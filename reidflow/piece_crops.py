"""final_crops.h5 read by pieces: the crops of tracks cut at identity switches (reidflow.pieces)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import numpy as np

from reidflow.formats.crops import CropsMeta, CropsReader, TrackCrops
from reidflow.formats.similarity import Cut
from reidflow.pieces import piece_rank, relabel


class PieceCrops:
    """A ``CropsReader`` that serves pieces: ``read(piece)`` gives the crops of that piece's frames.

    ``track_ids``: pieces in the file's order of tracks (longest-seen first), a cut track's pieces in frame
    order. Close it (or use it as a context manager) like the reader it opens.
    """

    def __init__(self, path: str | os.PathLike, cuts: Sequence[Cut]):
        self.path = path
        self._cuts = list(cuts)
        self._reader = CropsReader(path)
        self._source: dict[int, int] = {}  # piece -> the tracker's id
        self.track_ids: list[int] = []
        try:
            for track in self._reader.track_ids:
                frames = self._reader.read(track, images=False).frames
                for piece in dict.fromkeys(relabel(np.full(len(frames), track), frames, self._cuts).tolist()):
                    self._source[int(piece)] = track
                    self.track_ids.append(int(piece))
        except BaseException:
            self._reader.close()
            raise

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> PieceCrops:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def meta(self) -> CropsMeta:
        return self._reader.meta

    def read(self, piece: int, images: bool = True) -> TrackCrops:
        """The piece's crops, frames, boxes and metrics (``rank`` among the piece's own crops)."""
        track = self._source[piece]
        crops = self._reader.read(track, images=images)
        keep = relabel(np.full(len(crops.frames), track), crops.frames, self._cuts) == piece
        metrics = {name: values[keep] for name, values in crops.metrics.items()}
        metrics["rank"] = piece_rank(metrics["rank"])
        return TrackCrops(
            piece,
            crops.frames[keep],
            crops.boxes[keep],
            metrics,
            None if crops.crops is None else crops.crops[keep],
        )

    def __iter__(self) -> Iterator[int]:
        return iter(self.track_ids)
