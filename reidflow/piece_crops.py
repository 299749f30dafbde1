"""final_crops.h5 read by pieces: the crops of tracks cut at identity switches (reidflow.pieces)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import numpy as np

from reidflow.formats.crops import CropsMeta, CropsReader, TrackCrops
from reidflow.formats.similarity import Cut
from reidflow.pieces import piece_rank, track_pieces


class PieceCrops:
    """A ``CropsReader`` that serves pieces: ``read(piece)`` gives the crops of that piece's frames.

    ``track_ids``: pieces in the file's order of tracks (longest-seen first), a cut track's pieces in frame
    order. Close it (or use it as a context manager) like the reader it opens.
    """

    def __init__(self, path: str | os.PathLike, cuts: Sequence[Cut]):
        self.path = path
        self._reader = CropsReader(path)
        # piece -> the tracker's id and the positions of the piece's crops among the track's (all: a track
        # not cut, whose crops are not read here)
        self._pieces: dict[int, tuple[int, np.ndarray | slice]] = {}
        cut_tracks = {cut.track for cut in cuts}
        try:
            for track in self._reader.track_ids:
                if track not in cut_tracks:
                    self._pieces[track] = (track, slice(None))
                    continue
                frames = self._reader.read(track, images=False).frames
                for piece, positions in track_pieces(track, frames, cuts).items():
                    self._pieces[piece] = (track, positions)
        except BaseException:
            self._reader.close()
            raise
        self.track_ids = list(self._pieces)

    def source(self, piece: int) -> tuple[int, np.ndarray | slice]:
        """The tracker's id of ``piece`` and the positions of its crops among that track's (e.g. the rows of
        the track's matrix in features.h5; a slice of all of them for a track not cut)."""
        return self._pieces[piece]

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
        track, positions = self._pieces[piece]
        crops = self._reader.read(track, images=images)
        if isinstance(positions, slice):  # a track not cut: its crops as stored
            return crops
        metrics = {name: values[positions] for name, values in crops.metrics.items()}
        metrics["rank"] = piece_rank(metrics["rank"])
        return TrackCrops(
            piece,
            crops.frames[positions],
            crops.boxes[positions],
            metrics,
            None if crops.crops is None else crops.crops[positions],
        )

    def __iter__(self) -> Iterator[int]:
        return iter(self.track_ids)
