"""Every file format reidflow writes or reads, defined in one place.

Stages never open these files by hand: they call the readers and writers here.

``tracks.npz`` (stage ``track``), one row per tracked detection:
    frames       int64  (N,)   0-based frame index in the video's own numbering (also with a stride)
    track_ids    int64  (N,)   tracker id, unique within the video
    boxes        float32 (N,4) x1, y1, x2, y2 in original-frame pixels
    scores       float32 (N,)  detection confidence
    meta         0-d str       JSON object: format_version, video id, source path, fps, width, height,
                               frame_count (frames actually decoded), frames_missing (declared by the
                               container but not decodable: a truncated file), vid_stride, detector, detector_sha256,
                               tracker, tracker_params
``tracks.txt``: the same rows in MOTChallenge format, ``frame,id,x,y,w,h,conf,-1,-1,-1`` with 1-based frames.

``final_crops.h5`` (stage ``crops``), HDF5:
    attrs        format_version, video, source, fps, frame_count, crop_height, crop_width, resize, params (JSON)
    persons      table (track_id, first_frame, last_frame, detections, crops_kept), longest-seen first
    tracks/<id>/ one group per kept track, K crops in frame order:
        crops    uint8 (K,H,W,3) RGB, chunked one crop per chunk, compressed
        frames   int64 (K,), boxes float32 (K,4) original xyxy box, and one (K,) dataset per metric
                 in CROP_METRICS (``rank``: 1 = best quality within the track)

``features.h5`` (stage ``features``), HDF5: attrs as FeaturesMeta; ``track_ids`` in final_crops.h5's order;
    tracks/<id>/features float32 (K, D), unit rows, row i = crop i of that track.

``similarity.json``, ``clusters.json``, ``evaluation.json``: the records Similarity, Clusters and Evaluation
    below, field by field (similarity.json compact: it holds N x N matrices).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reidflow import ReidflowError

TRACKS_FORMAT_VERSION = 1


class FormatError(ReidflowError):
    """A file is not of the expected reidflow format or version."""


# Every stage file of every video is a target of rule ``all``, so a plain run rebuilds a deleted one.
REBUILD = "delete it and run `snakemake` again, which rebuilds it"


def stale_temporaries(path: Path) -> list[Path]:
    """Temporary files that ``atomic_output(path)`` makes: ``.<name>.<random>.tmp`` beside ``path``."""
    # mkstemp's random part is 8 characters of [a-z0-9_]: no other output's temporaries match
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.tmp")
    return [p for p in path.parent.glob(".*.tmp") if pattern.fullmatch(p.name)]


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds.

    A killed or failed job therefore never leaves a file that looks complete. Temporary files of ``path``
    left by an earlier writer that was killed (SIGKILL runs no cleanup) are removed first: Snakemake
    never runs two jobs for one output at once.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in stale_temporaries(path):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; outputs get the usual permissions
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


@dataclass(frozen=True)
class TrackRows:
    """Per-detection rows shared by tracker output and MOTChallenge files (ground truth included)."""

    frames: np.ndarray
    track_ids: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "frames", np.asarray(self.frames, dtype=np.int64).reshape(-1))
        object.__setattr__(self, "track_ids", np.asarray(self.track_ids, dtype=np.int64).reshape(-1))
        object.__setattr__(self, "boxes", np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4))
        object.__setattr__(self, "scores", np.asarray(self.scores, dtype=np.float32).reshape(-1))
        n = len(self.frames)
        if not (len(self.track_ids) == len(self.boxes) == len(self.scores) == n):
            raise ValueError("frames, track_ids, boxes and scores must have the same length")

    def __len__(self) -> int:
        return len(self.frames)

    @classmethod
    def empty(cls) -> TrackRows:
        return cls(np.zeros(0), np.zeros(0), np.zeros((0, 4)), np.zeros(0))

    @classmethod
    def concatenate(cls, parts: list[TrackRows]) -> TrackRows:
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.frames for p in parts]),
            np.concatenate([p.track_ids for p in parts]),
            np.concatenate([p.boxes for p in parts]),
            np.concatenate([p.scores for p in parts]),
        )

    def sorted(self) -> TrackRows:
        order = np.lexsort((self.track_ids, self.frames))
        return TrackRows(self.frames[order], self.track_ids[order], self.boxes[order], self.scores[order])


@dataclass(frozen=True)
class VideoInfo:
    fps: float
    width: int
    height: int
    frame_count: int
    # Frames the container declares beyond the last one that decoded: a truncated or damaged file.
    # 0 when every declared frame decoded (and in tracks.npz files written before this field existed).
    frames_missing: int = 0

    @property
    def declared_frame_count(self) -> int:
        return self.frame_count + self.frames_missing

    @property
    def shortfall(self) -> str | None:
        """What a truncated video lacks, in words for the track log and the report; None when nothing."""
        if self.frames_missing <= 0:
            return None
        return (
            f"its container declares {self.declared_frame_count} frames but decoding stopped after {self.frame_count}; "
            f"the last {self.frames_missing} were not processed"
        )


@dataclass(frozen=True)
class TracksMeta:
    video: str
    source: str
    info: VideoInfo
    vid_stride: int
    detector: str
    detector_sha256: str
    tracker: str
    tracker_params: dict[str, Any] = field(default_factory=dict)
    format_version: int = TRACKS_FORMAT_VERSION


@dataclass(frozen=True)
class Tracks:
    rows: TrackRows
    meta: TracksMeta

    @property
    def track_ids(self) -> np.ndarray:
        return np.unique(self.rows.track_ids)


def write_tracks(path: str | os.PathLike, tracks: Tracks) -> None:
    rows = tracks.rows.sorted()
    meta = json.dumps(asdict(tracks.meta), sort_keys=True)
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(
                fh,
                frames=rows.frames,
                track_ids=rows.track_ids,
                boxes=rows.boxes,
                scores=rows.scores,
                meta=np.array(meta),
            )


def read_tracks(path: str | os.PathLike) -> Tracks:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in ("frames", "track_ids", "boxes", "scores", "meta")}
        raw = json.loads(str(arrays["meta"]))
    except FileNotFoundError:
        raise FormatError(f"{path}: file not found; run the workflow's 'track' rule to create it") from None
    except (KeyError, ValueError, OSError, zipfile.BadZipFile) as err:  # JSONDecodeError is a ValueError
        raise FormatError(f"{path}: not a reidflow tracks.npz file ({err}); {REBUILD}") from None
    version = raw.get("format_version")
    if version != TRACKS_FORMAT_VERSION:
        raise FormatError(
            f"{path}: tracks format version {version}, this reidflow reads version {TRACKS_FORMAT_VERSION}; "
            + REBUILD
        )
    try:
        raw["info"] = VideoInfo(**raw["info"])
        meta = TracksMeta(**raw)
    except (KeyError, TypeError) as err:
        raise FormatError(f"{path}: damaged tracks.npz metadata ({err}); {REBUILD}") from None
    rows = TrackRows(arrays["frames"], arrays["track_ids"], arrays["boxes"], arrays["scores"])
    return Tracks(rows=rows, meta=meta)


def write_mot(path: str | os.PathLike, rows: TrackRows) -> None:
    """MOTChallenge text: 1-based frames, boxes as left, top, width, height."""
    rows = rows.sorted()
    xywh = rows.boxes.astype(np.float64).copy()
    xywh[:, 2:] -= xywh[:, :2]
    with atomic_output(path) as tmp, open(tmp, "w") as fh:
        for f, i, (x, y, w, h), s in zip(rows.frames, rows.track_ids, xywh, rows.scores):
            fh.write(f"{f + 1},{i},{x:.2f},{y:.2f},{w:.2f},{h:.2f},{s:.4f},-1,-1,-1\n")


MOT_HINT = "a MOTChallenge text file has one row per box: frame,id,x,y,w,h,conf[,...] with 1-based frames"


def read_mot(path: str | os.PathLike) -> TrackRows:
    """Read a MOTChallenge file (results or ground truth); frames come back 0-based.

    Every row is checked: a frame below 1, a value that is not a finite number or a negative width or
    height would silently skew the scores (and count frames the video never had), so it is an error
    naming the line.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FormatError(f"{path}: file not found") from None
    except OSError as err:
        raise FormatError(f"{path}: cannot be read ({err.strerror}); give a MOTChallenge text file") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise FormatError(f"{path}: line {line}: not text (a binary file?); {MOT_HINT}") from None
    numbered = [(no, line) for no, line in enumerate(text.split("\n"), start=1) if line.strip() and not line.lstrip().startswith("#")]
    if not numbered:
        return TrackRows.empty()
    try:
        table = np.loadtxt([line for _, line in numbered], delimiter=",", ndmin=2, dtype=np.float64)
    except ValueError:
        no, line, problem = _first_unparsable(numbered)
        raise FormatError(f"{path}: line {no}: {problem} ({line.strip()[:80]!r}); {MOT_HINT}") from None
    if table.shape[1] < 7:
        raise FormatError(f"{path}: MOTChallenge rows need at least 7 columns (frame,id,x,y,w,h,conf), got {table.shape[1]}")
    first_bad = _first_bad_row(table)
    if first_bad is not None:
        row, problem, count = first_bad
        no, line = numbered[row]
        more = f" ({count - 1} more bad lines)" if count > 1 else ""
        raise FormatError(f"{path}: line {no}: {problem} ({line.strip()[:80]!r}){more}; fix or remove the line")
    boxes = table[:, 2:6].copy()
    boxes[:, 2:] += boxes[:, :2]
    return TrackRows(table[:, 0].astype(np.int64) - 1, table[:, 1], boxes, table[:, 6])


def _first_unparsable(numbered: list[tuple[int, str]]) -> tuple[int, str, str]:
    """The first line np.loadtxt choked on, and why: NumPy's own message counts data rows, not file lines."""
    width = None
    for no, line in numbered:
        fields = line.split("#", 1)[0].split(",")
        try:
            for value in fields:
                float(value)
        except ValueError:
            return no, line, "a field is not a number"
        if width is not None and len(fields) != width:
            return no, line, f"{len(fields)} fields, the lines before have {width}"
        width = len(fields)
    return numbered[0][0], numbered[0][1], "not comma-separated numbers"


def _first_bad_row(table: np.ndarray) -> tuple[int, str, int] | None:
    """(row index, what is wrong, number of bad rows) for the first invalid row of a MOTChallenge table."""
    checks = [
        (~np.isfinite(table[:, :7]).all(axis=1), "frame, id, x, y, w, h and conf must be finite numbers"),
        (table[:, 0] < 1, "frame below 1 (MOTChallenge frames start at 1)"),
        (table[:, 0] != np.round(table[:, 0]), "frame is not a whole number"),
        (table[:, 1] != np.round(table[:, 1]), "id is not a whole number"),
        ((table[:, 4] < 0) | (table[:, 5] < 0), "negative width or height"),
    ]
    bad = np.logical_or.reduce([mask for mask, _ in checks])
    if not bad.any():
        return None
    row = int(np.argmax(bad))
    return row, next(problem for mask, problem in checks if mask[row]), int(bad.sum())


CROPS_FORMAT_VERSION = 1
# Blosc/LZ4: lossless and several times faster than gzip or LZF on video crops. Reading needs the
# filter, which ``import hdf5plugin`` registers (done here, so every reader of this module has it).
import hdf5plugin  # noqa: E402

CROP_BLOSC = dict(cname="lz4", clevel=5, shuffle=hdf5plugin.Blosc.NOSHUFFLE)
CROP_COMPRESSION = dict(hdf5plugin.Blosc(**CROP_BLOSC))
CROP_METRICS = ("confidence", "area_ratio", "aspect", "truncated", "sharpness", "occlusion", "quality", "rank")
PERSONS_DTYPE = np.dtype(
    [("track_id", "<i8"), ("first_frame", "<i8"), ("last_frame", "<i8"), ("detections", "<i8"), ("crops_kept", "<i8")]
)


@dataclass(frozen=True)
class CropsMeta:
    video: str
    source: str
    fps: float
    frame_count: int
    crop_height: int
    crop_width: int
    resize: str
    params: dict[str, Any] = field(default_factory=dict)
    format_version: int = CROPS_FORMAT_VERSION


@dataclass(frozen=True)
class TrackCrops:
    """One track's crops in frame order; ``crops`` is None when read without images."""

    track_id: int
    frames: np.ndarray
    boxes: np.ndarray
    metrics: dict[str, np.ndarray]
    crops: np.ndarray | None = None


class CropsWriter:
    """Writes final_crops.h5 crop by crop, so memory holds a few frames, not every crop.

    Made by ``open_crops_writer``, which owns the file. Each crop is compressed here with python-blosc
    (the codec and settings of CROP_COMPRESSION) and stored as a finished chunk: HDF5's own filter
    pipeline compresses under the GIL, stalling other threads (the frame decoder); python-blosc releases
    it. Readers see an ordinary Blosc-filtered dataset, one crop per chunk.
    """

    def __init__(self, file: Any, meta: CropsMeta, persons: np.ndarray):
        import blosc

        blosc.set_releasegil(True)
        self._compress = functools.partial(blosc.compress, typesize=1, **CROP_BLOSC)
        self._file = file
        file.attrs.update({k: v for k, v in asdict(meta).items() if k != "params"})
        file.attrs["params"] = json.dumps(meta.params, sort_keys=True)
        file.create_dataset("persons", data=persons.astype(PERSONS_DTYPE))
        tracks = file.create_group("tracks")
        h, w = meta.crop_height, meta.crop_width
        self._crop_shape = (h, w, 3)
        self._crops: dict[int, Any] = {}
        for person in persons:
            k = int(person["crops_kept"])
            group = tracks.create_group(str(int(person["track_id"])))
            self._crops[int(person["track_id"])] = group.create_dataset(
                "crops", shape=(k, h, w, 3), dtype=np.uint8, chunks=(1, h, w, 3) if k else None,
                **(CROP_COMPRESSION if k else {}),
            )

    def put_crop(self, track_id: int, slot: int, image: np.ndarray) -> None:
        if image.shape != self._crop_shape or image.dtype != np.uint8:
            raise FormatError(f"a crop of {image.shape} {image.dtype}, but final_crops.h5 holds {self._crop_shape} uint8")
        self._crops[track_id].id.write_direct_chunk((slot, 0, 0, 0), self._compress(np.ascontiguousarray(image)))

    def put_track(self, track_id: int, frames: np.ndarray, boxes: np.ndarray, metrics: dict[str, np.ndarray]) -> None:
        group = self._file["tracks"][str(track_id)]
        group.create_dataset("frames", data=np.asarray(frames, dtype=np.int64))
        group.create_dataset("boxes", data=np.asarray(boxes, dtype=np.float32))
        for name in CROP_METRICS:
            group.create_dataset(name, data=metrics[name])


@contextlib.contextmanager
def open_crops_writer(path: str | os.PathLike, meta: CropsMeta, persons: np.ndarray) -> Iterator[CropsWriter]:
    """The file appears under its name only when the block succeeds and the HDF5 file closed cleanly."""
    import h5py

    with atomic_output(path) as tmp:
        # Created afresh, not truncated ("w"): on ext4, truncating the empty temporary file makes close()
        # write the whole file back synchronously (auto_da_alloc), ~0.07 s per 130 MB of crops.
        tmp.unlink()
        with h5py.File(tmp, "x") as file:
            yield CropsWriter(file, meta, persons)


class CropsReader:
    """The only way later stages read final_crops.h5."""

    def __init__(self, path: str | os.PathLike):
        import h5py

        self.path = Path(path)
        try:
            self._file = h5py.File(self.path, "r")
        except FileNotFoundError:
            raise FormatError(f"{self.path}: file not found; run the workflow's 'crops' rule to create it") from None
        except OSError as err:
            raise FormatError(f"{self.path}: not an HDF5 file ({err}); {REBUILD}") from None
        attrs = dict(self._file.attrs)
        version = attrs.get("format_version")
        if version != CROPS_FORMAT_VERSION:
            self._file.close()
            raise FormatError(
                f"{self.path}: crops format version {version}, this reidflow reads version {CROPS_FORMAT_VERSION}; "
                + REBUILD
            )
        attrs["params"] = json.loads(attrs["params"])
        fields = CropsMeta.__dataclass_fields__
        self.meta = CropsMeta(**{k: _plain(v) for k, v in attrs.items() if k in fields})
        self.persons = self._file["persons"][()]

    @property
    def track_ids(self) -> list[int]:
        return [int(t) for t in self.persons["track_id"]]

    def read(self, track_id: int, images: bool = True) -> TrackCrops:
        group = self._file["tracks"][str(int(track_id))]
        return TrackCrops(
            track_id=int(track_id),
            frames=group["frames"][()],
            boxes=group["boxes"][()],
            metrics={name: group[name][()] for name in CROP_METRICS},
            crops=group["crops"][()] if images else None,
        )

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> CropsReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _plain(value: Any) -> Any:
    """HDF5 attributes come back as NumPy scalars; the dataclasses hold plain Python values."""
    return value.item() if isinstance(value, np.generic) else value


FEATURES_FORMAT_VERSION = 1


@dataclass(frozen=True)
class FeaturesMeta:
    video: str
    model: str
    weights: str
    weights_sha256: str
    input_height: int
    input_width: int
    feature_dim: int
    format_version: int = FEATURES_FORMAT_VERSION


@dataclass(frozen=True)
class Features:
    """Per track a float32 (K, D) matrix of unit-length features, row i = crop i of that track in final_crops.h5.

    ``by_track`` keeps the order of final_crops.h5's persons table (longest-seen first).
    """

    meta: FeaturesMeta
    by_track: dict[int, np.ndarray]

    @property
    def track_ids(self) -> list[int]:
        return list(self.by_track)


def write_features(path: str | os.PathLike, features: Features) -> None:
    import h5py

    with atomic_output(path) as tmp, h5py.File(tmp, "w") as file:
        file.attrs.update(asdict(features.meta))
        file.create_dataset("track_ids", data=np.asarray(features.track_ids, dtype=np.int64))
        group = file.create_group("tracks")
        dim = features.meta.feature_dim
        for track_id, matrix in features.by_track.items():
            matrix = np.asarray(matrix, dtype=np.float32)
            if matrix.ndim != 2 or matrix.shape[1] != dim:
                raise ValueError(f"track {track_id}: features of shape {matrix.shape}, expected (K, {dim})")
            group.create_dataset(f"{int(track_id)}/features", data=matrix)


def read_features(path: str | os.PathLike) -> Features:
    return _read_features(path, with_tracks=True)


def read_features_meta(path: str | os.PathLike) -> FeaturesMeta:
    """The attributes alone (model, weights, sizes), without loading every track's matrix."""
    return _read_features(path, with_tracks=False).meta


def _read_features(path: str | os.PathLike, with_tracks: bool) -> Features:
    import h5py

    path = Path(path)
    hint = REBUILD
    try:
        with h5py.File(path, "r") as file:
            attrs = {k: _plain(v) for k, v in file.attrs.items()}
            if attrs.get("format_version") != FEATURES_FORMAT_VERSION:
                raise FormatError(
                    f"{path}: features format version {attrs.get('format_version')}, this reidflow reads version "
                    f"{FEATURES_FORMAT_VERSION}; {hint}"
                )
            meta = FeaturesMeta(**{k: v for k, v in attrs.items() if k in FeaturesMeta.__dataclass_fields__})
            track_ids = file["track_ids"][()] if with_tracks else []
            by_track = {int(t): file["tracks"][str(int(t))]["features"][()] for t in track_ids}
    except FileNotFoundError:
        raise FormatError(f"{path}: file not found; run the workflow's 'features' rule to create it") from None
    except (OSError, KeyError, TypeError) as err:
        raise FormatError(f"{path}: not a reidflow features.h5 file ({err}); {hint}") from None
    return Features(meta=meta, by_track=by_track)


# JSON stages: similarity.json, clusters.json, evaluation.json. Track ids are the tracker's ids within one
# video; matrices are lists of rows in ``track_ids`` order.
SIMILARITY_FORMAT_VERSION = 1
CLUSTERS_FORMAT_VERSION = 1
EVALUATION_FORMAT_VERSION = 1


@dataclass(frozen=True)
class SimilarPair:
    a: int
    b: int
    similarity: float
    cooccurrence: int


@dataclass(frozen=True)
class Distribution:
    """Off-diagonal similarities: a healthy model spreads them; a collapsed one puts them all near 1."""

    count: int
    min: float | None
    max: float | None
    mean: float | None
    std: float | None
    histogram_edges: list[float]
    histogram_counts: list[int]


@dataclass(frozen=True)
class Similarity:
    """``similarity.json``: track × track similarity aggregated over all crop pairs.

    matrix        (N, N) float, symmetric; cooccurrence (N, N) int frames where both tracks are present
    pairs         pairs with similarity >= threshold, most similar first
    params        the aggregation's own knobs (e.g. ``topk``)
    """

    video: str
    track_ids: list[int]
    aggregation: str
    params: dict[str, Any]
    threshold: float
    matrix: np.ndarray
    cooccurrence: np.ndarray
    pairs: list[SimilarPair]
    distribution: Distribution
    format_version: int = SIMILARITY_FORMAT_VERSION


@dataclass(frozen=True)
class Identity:
    id: int
    members: list[int]  # track ids, longest-seen first
    representative: int  # the member track shown first: the longest-seen one (most detections)
    frames_covered: int  # distinct frames in which any member is present
    mean_similarity: float | None  # mean pairwise similarity of the members; None for a single track
    decided_by: str = "clustering"  # "person" when an override merged any of its members


@dataclass(frozen=True)
class Merge:
    """One merge step: two groups of tracks joined at ``similarity``; ``decided_by`` is "clustering" or "person"."""

    left: list[int]
    right: list[int]
    similarity: float
    decided_by: str


@dataclass(frozen=True)
class Recommendation:
    """A pair above the recommend threshold left in different identities, and why.

    ``reason``: "cooccurrence_veto" (seen in the same frame), "below_threshold" (linkage kept them apart)
    or "split_by_person" (an override split them).
    """

    a: int
    b: int
    similarity: float
    cooccurrence: int
    reason: str


@dataclass(frozen=True)
class Clusters:
    """``clusters.json``: identities, the merges that made them, and merge recommendations for a person.

    params     linkage, distance_threshold, cooccurrence_veto, recommend_threshold
    overrides  the person's decisions applied for this video: {"merge": [[a, b], ...], "split": [[a, b], ...]}
    """

    video: str
    params: dict[str, Any]
    overrides: dict[str, list[list[int]]]
    identities: list[Identity]
    merges: list[Merge]
    recommendations: list[Recommendation]
    format_version: int = CLUSTERS_FORMAT_VERSION

    def identity_of(self) -> dict[int, int]:
        return {track: identity.id for identity in self.identities for track in identity.members}


@dataclass(frozen=True)
class Evaluation:
    """``evaluation.json``: MOT scores of the raw tracks and of the tracks relabelled by identity.

    ``raw`` and ``merged`` hold mota, idf1, id_switches, num_ids, precision, recall.
    """

    video: str
    ground_truth: str
    frames: int
    iou_threshold: float
    raw: dict[str, float]
    merged: dict[str, float]
    format_version: int = EVALUATION_FORMAT_VERSION


def write_similarity(path: str | os.PathLike, similarity: Similarity) -> None:
    _write_json(path, similarity, indent=None)  # N×N matrices: compact, or thousands of tracks make GBs


def read_similarity(path: str | os.PathLike) -> Similarity:
    raw = _read_json(path, "similarity", SIMILARITY_FORMAT_VERSION)

    def build() -> Similarity:
        n = len(raw["track_ids"])
        return Similarity(**{
            **raw,
            "matrix": np.asarray(raw["matrix"], dtype=np.float64).reshape(n, n),
            "cooccurrence": np.asarray(raw["cooccurrence"], dtype=np.int64).reshape(n, n),
            "pairs": [SimilarPair(**p) for p in raw["pairs"]],
            "distribution": Distribution(**raw["distribution"]),
        })

    return _build(path, "similarity", build)


def write_clusters(path: str | os.PathLike, clusters: Clusters) -> None:
    _write_json(path, clusters)


def read_clusters(path: str | os.PathLike) -> Clusters:
    raw = _read_json(path, "cluster", CLUSTERS_FORMAT_VERSION)
    return _build(path, "cluster", lambda: Clusters(**{
        **raw,
        "identities": [Identity(**i) for i in raw["identities"]],
        "merges": [Merge(**m) for m in raw["merges"]],
        "recommendations": [Recommendation(**r) for r in raw["recommendations"]],
    }))


def write_evaluation(path: str | os.PathLike, evaluation: Evaluation) -> None:
    _write_json(path, evaluation)


def read_evaluation(path: str | os.PathLike) -> Evaluation:
    raw = _read_json(path, "evaluate", EVALUATION_FORMAT_VERSION)
    return _build(path, "evaluate", lambda: Evaluation(**raw))


def _plain_json(value: Any) -> Any:
    """Records (dataclasses), NumPy arrays and scalars as JSON values; a field walk, not asdict's deep copy."""
    if hasattr(value, "__dataclass_fields__"):
        return {name: _plain_json(getattr(value, name)) for name in value.__dataclass_fields__}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _plain_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_json(v) for v in value]
    return value


def _write_json(path: str | os.PathLike, record: Any, indent: int | None = 1) -> None:
    separators = (",", ":") if indent is None else None
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(_plain_json(record), indent=indent, separators=separators, allow_nan=False) + "\n")


def _read_json(path: str | os.PathLike, rule: str, version: int) -> dict[str, Any]:
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise FormatError(f"{path}: file not found; run the workflow's '{rule}' rule to create it") from None
    except (ValueError, OSError) as err:
        raise FormatError(f"{path}: not a JSON file ({err}); {REBUILD}") from None
    if not isinstance(raw, dict) or raw.get("format_version") != version:
        found = raw.get("format_version") if isinstance(raw, dict) else None
        raise FormatError(f"{path}: format version {found}, this reidflow reads version {version}; {REBUILD}")
    return raw


def _build(path: str | os.PathLike, rule: str, build: Any) -> Any:
    """``build()`` turns the checked JSON into its record; a missing or odd field is a damaged file."""
    try:
        return build()
    except (KeyError, TypeError, ValueError) as err:
        raise FormatError(f"{path}: damaged file ({type(err).__name__}: {err}); {REBUILD}") from None
