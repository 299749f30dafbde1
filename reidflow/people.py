"""Stage ``people``: one catalogue of every person across all videos, built from each video's identities.

An identity (one video's merged tracks) is described by up to ``max_crops`` of its crop features, the best
by quality rank over all its tracks. Two identities get the similarity of those crops, aggregated as within
a video (``reidflow.similarity``). People are then found by constrained average-linkage clustering of the
identities, as ``cluster`` does for tracks, but on a sparse graph so that it scales to many videos:

1. Candidates: each identity's ``neighbours`` most similar identities by the dot product of mean crop
   features (exact for ``mean``, the default aggregation), found tile by tile over the upper triangle:
   O(N^2 D / 2) time in BLAS, O(N k + block^2) memory, never an N x N matrix. The pairs are made symmetric (i lists j or j lists i).
2. Scores: for ``mean`` the candidates' dot products are the similarities; for another aggregation each
   candidate pair is scored exactly from its crops.
3. Linkage: average linkage over the candidate pairs; a pair that is not a candidate counts as similarity 0
   (a merge needs evidence, so a wrong merge is never made for want of a score). Two clusters are joined
   while their mean similarity is above ``threshold``; a cannot-link pair (two identities of one video
   seen in the same frame at different places, or a person's ``split``) keeps their whole clusters apart,
   and a person's ``merge`` pairs are joined first. With every pair a candidate (``neighbours`` >= N - 1) the result is
   that of the dense ``reidflow.cluster.agglomerate`` (tested).

Growth: step 1 is N^2 D multiply-adds, so time grows with the square of the identities and memory
linearly (``bench/people.py`` prints both from 5,000 to 40,000 identities). At 1,000,000 identities the
exact scan (10^12 D) is too slow on one machine: step 1 would become an approximate nearest-neighbour
index (e.g. faiss IVF-PQ or HNSW over the mean features, memory ~N D bytes after quantisation), and steps
2 and 3 stay as they are, being linear in the number of candidate pairs.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reidflow import ReidflowError, pieces
from reidflow.formats.base import REBUILD
from reidflow.formats.clusters import Clusters, read_clusters
from reidflow.formats.features import read_features
from reidflow.formats.people import Appearance, Link, People, PeopleRecommendation, Person
from reidflow.formats.tracks import TrackRows, read_tracks
from reidflow.ids import joined_groups
from reidflow.piece_crops import PieceCrops
from reidflow.settings import PeopleSettings
from reidflow.similarity import aggregate

# Side of the square tiles of the candidate scan: block^2 float32 similarities at once (16 MB).
BLOCK = 2048


class PeopleError(ReidflowError):
    pass


def best_crops(features: Sequence[np.ndarray], ranks: Sequence[np.ndarray], max_crops: int) -> np.ndarray:
    """An identity's crop features: the ``max_crops`` best by quality rank (1 = best) over all its tracks.

    ``features[i]`` (K_i, D) and ``ranks[i]`` (K_i,) belong to track i. Ties in rank go to the longer-seen
    order given (the caller lists tracks longest first), then to crop order.
    """
    if max_crops < 1:
        raise PeopleError(f"people.max_crops must be at least 1, got {max_crops}")
    stacked = np.concatenate([np.asarray(f, dtype=np.float32) for f in features])
    rank = np.concatenate([np.asarray(r) for r in ranks])
    if len(stacked) != len(rank):
        raise PeopleError(f"{len(stacked)} crop features but {len(rank)} quality ranks")
    order = np.argsort(rank, kind="stable")[:max_crops]
    return stacked[np.sort(order)]  # crop order within the identity is kept


@dataclass(frozen=True)
class Candidates:
    """Symmetric sparse identity pairs (i < j) with their similarity."""

    left: np.ndarray  # int64 (P,)
    right: np.ndarray  # int64 (P,)
    similarity: np.ndarray  # float32 (P,)


def mean_features(crops: Sequence[np.ndarray]) -> np.ndarray:
    """(N, D) un-normalised mean crop feature per identity: <mean a, mean b> is the mean crop-pair cosine."""
    return np.stack([np.asarray(c, dtype=np.float32).mean(axis=0, dtype=np.float64) for c in crops]).astype(np.float32)


def candidate_pairs(means: np.ndarray, neighbours: int, block: int = BLOCK) -> Candidates:
    """Each identity's ``neighbours`` highest dot products with another identity, as symmetric pairs.

    Square tiles over the upper triangle (the similarity is symmetric, so each tile serves its rows and its
    columns): N^2 D / 2 multiply-adds, memory O(N k + block^2).

    Examples:
        >>> import numpy as np
        >>> means = np.eye(3, dtype=np.float32)[[0, 0, 1, 2]]  # identities 0 and 1 look alike
        >>> c = candidate_pairs(means, neighbours=1)
        >>> (int(c.left[0]), int(c.right[0]), float(c.similarity[0]))
        (0, 1, 1.0)
    """
    n = len(means)
    k = min(neighbours, n - 1)
    if n < 2 or k < 1:
        return Candidates(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))
    best = np.full((n, k), -np.inf, dtype=np.float32)
    best_index = np.zeros((n, k), dtype=np.int64)

    def keep_best(rows: slice, sims: np.ndarray, first_column: int) -> None:
        """Fold a tile's rows into the running top-k of those rows."""
        kk = min(k, sims.shape[1])
        top = np.argpartition(sims, sims.shape[1] - kk, axis=1)[:, sims.shape[1] - kk :]
        values = np.concatenate([best[rows], np.take_along_axis(sims, top, axis=1)], axis=1)
        index = np.concatenate([best_index[rows], top + first_column], axis=1)
        keep = np.argpartition(values, values.shape[1] - k, axis=1)[:, values.shape[1] - k :]
        best[rows] = np.take_along_axis(values, keep, axis=1)
        best_index[rows] = np.take_along_axis(index, keep, axis=1)

    for r0 in range(0, n, block):
        r1 = min(n, r0 + block)
        for c0 in range(r0, n, block):
            c1 = min(n, c0 + block)
            sims = means[r0:r1] @ means[c0:c1].T
            if c0 == r0:
                np.fill_diagonal(sims, -np.inf)  # never one's own neighbour
            keep_best(slice(r0, r1), sims, c0)
            if c0 != r0:
                keep_best(slice(c0, c1), sims.T, r0)
    a = np.repeat(np.arange(n), k)
    b = best_index.reshape(-1)
    valid = np.isfinite(best.reshape(-1))
    left, right = np.minimum(a, b)[valid], np.maximum(a, b)[valid]
    pairs = np.unique(left * n + right)
    left, right = pairs // n, pairs % n
    similarity = np.einsum("ij,ij->i", means[left], means[right])
    return Candidates(left.astype(np.int64), right.astype(np.int64), similarity.astype(np.float32))


@dataclass(frozen=True)
class Step:
    """One merge of two clusters (identity indices) at mean similarity ``similarity``; ``forced``: a person's."""

    left: tuple[int, ...]
    right: tuple[int, ...]
    similarity: float
    forced: bool


def link_people(
    n: int,
    candidates: Candidates,
    threshold: float,
    cannot_link: Iterable[tuple[int, int]] = (),
    forced: Iterable[tuple[int, int]] = (),
) -> tuple[np.ndarray, list[Step]]:
    """Constrained average linkage of ``n`` identities over sparse candidate pairs.

    Returns (person label per identity, 0..P-1 in order of first identity; the merges made). The mean
    similarity of two clusters is the sum of their candidate pairs' similarities over |A| |B| (missing pairs
    count 0); the most similar mergeable pair is joined while that mean is above ``threshold``.

    Examples:
        >>> import numpy as np
        >>> pairs = Candidates(np.array([0, 1]), np.array([1, 2]), np.array([0.9, 0.8], dtype=np.float32))
        >>> labels, steps = link_people(3, pairs, threshold=0.5, cannot_link=[(0, 2)])
        >>> labels.tolist()  # 1 joins 0 (0.9); 2 would join 1 but was seen beside 0
        [0, 0, 1]
    """
    sums: list[dict[int, float]] = [{} for _ in range(n)]
    for a, b, s in zip(candidates.left.tolist(), candidates.right.tolist(), candidates.similarity.tolist()):
        if a != b:
            sums[a][b] = sums[b][a] = s
    apart: list[set[int]] = [set() for _ in range(n)]
    for a, b in cannot_link:
        if a != b:
            apart[a].add(b)
            apart[b].add(a)
    size = [1] * n
    members = [[i] for i in range(n)]
    owner = list(range(n))
    version = [0] * n
    steps: list[Step] = []

    def mean(a: int, b: int) -> float:
        return sums[a].get(b, 0.0) / (size[a] * size[b])

    def merge(a: int, b: int, forced: bool) -> None:
        """Join cluster b into a: a keeps b's pair sums, cannot-links and members."""
        steps.append(Step(tuple(sorted(members[a])), tuple(sorted(members[b])), mean(a, b), forced))
        for c, s in sums[b].items():
            if c != a:
                sums[a][c] = sums[a].get(c, 0.0) + s
                sums[c][a] = sums[a][c]
            del sums[c][b]
        sums[a].pop(b, None)
        sums[b] = {}
        for c in apart[b]:
            apart[c].discard(b)
            apart[c].add(a)
        apart[a] |= apart[b]
        apart[a].discard(a)
        apart[b] = set()
        for i in members[b]:
            owner[i] = a
        members[a] += members[b]
        members[b] = []
        size[a] += size[b]
        size[b] = 0
        version[a] += 1
        version[b] += 1

    for i, j in forced:
        a, b = sorted((owner[i], owner[j]))
        if a == b:
            continue
        if b in apart[a]:
            raise PeopleError(
                f"merge of identities {i} and {j} joins people that must stay apart (seen together or split)"
            )
        merge(a, b, forced=True)

    # Lazy max-heap of cluster pairs: an entry is stale once either cluster changed since it was pushed.
    heap = [(-mean(a, b), a, b, version[a], version[b]) for a in range(n) for b in sums[a] if a < b]
    heapq.heapify(heap)
    while heap:
        negative, a, b, va, vb = heapq.heappop(heap)
        if va != version[a] or vb != version[b] or size[a] == 0 or size[b] == 0:
            continue
        if not -negative > threshold:  # as ``cluster``: merge while strictly closer than the threshold
            break
        if b in apart[a]:
            continue
        merge(a, b, forced=False)
        for c in sums[a]:
            x, y = min(a, c), max(a, c)
            heapq.heappush(heap, (-mean(x, y), x, y, version[x], version[y]))
    _, labels = np.unique(np.asarray(owner), return_inverse=True)
    return labels.reshape(-1).astype(np.int64), steps


# --- the stage: identities of every video in, the catalogue of people out ---------------------------------


@dataclass(frozen=True)
class TrackCropFeatures:
    """One kept track's crops as the people stage needs them (all in crop order)."""

    features: np.ndarray  # (K, D) unit rows
    rank: np.ndarray  # (K,) quality rank within the track, 1 = best
    quality: np.ndarray  # (K,)
    frames: np.ndarray  # (K,)


@dataclass(frozen=True)
class VideoIdentities:
    """What the people stage reads of one video: its identities, its kept tracks' crops, its detections."""

    video: str
    fps: float
    clusters: Clusters
    tracks: dict[int, TrackCropFeatures]
    rows: TrackRows


@dataclass(frozen=True)
class CrossVideoOverrides:
    """A person's decisions across videos, keys ``<video>:track:<id>`` or ``<video>:identity:<id>``."""

    merge: tuple[tuple[str, str], ...] = ()
    split: tuple[tuple[str, str], ...] = ()
    names: tuple[tuple[str, str], ...] = ()  # (key, display name): the person holding that key is so named
    select: tuple[str, ...] = ()  # keys of people of interest (results/people/selected/)

    @classmethod
    def from_param(cls, param: dict | None) -> CrossVideoOverrides:
        """From reidflow.overrides.load_people_overrides's param (names and select optional)."""
        param = param or {}
        pairs = {kind: tuple((str(a), str(b)) for a, b in param.get(kind) or ()) for kind in ("merge", "split")}
        names = tuple((str(k), str(v)) for k, v in (param.get("names") or {}).items())
        return cls(**pairs, names=names, select=tuple(str(k) for k in param.get("select") or ()))

    def as_record(self) -> dict[str, Any]:
        """As ``People.overrides``: the keys as written."""
        return {
            "merge": [list(p) for p in self.merge],
            "split": [list(p) for p in self.split],
            "names": dict(self.names),
            "select": list(self.select),
        }


@dataclass(frozen=True)
class _Identity:
    key: str
    video: str
    identity: int
    tracks: list[int]
    crops: np.ndarray
    best: tuple[int, int, float]  # track, frame, quality of the best crop
    first_frame: int
    last_frame: int


def read_video(
    video: str, tracks: str | Path, crops: str | Path, features: str | Path, clusters: str | Path
) -> VideoIdentities:
    """One video's stage files, reduced to what the people stage needs (no crop images are read); tracks
    are pieces, as in clusters.json (cut at identity switches: reidflow.pieces)."""
    track_file = read_tracks(tracks)
    clusters_record = read_clusters(clusters)
    cuts = clusters_record.cuts
    by_track = read_features(features).by_track
    kept: dict[int, TrackCropFeatures] = {}
    with PieceCrops(crops, cuts) as reader:
        for piece in reader.track_ids:
            track_id, positions = reader.source(piece)
            if track_id not in by_track:
                raise PeopleError(f"{features}: track {track_id} of {crops} has no features; {REBUILD}")
            c = reader.read(piece, images=False)
            kept[piece] = TrackCropFeatures(
                by_track[track_id][positions], c.metrics["rank"], c.metrics["quality"], c.frames
            )
    for name, record_video in (("tracks", track_file.meta.video), ("clusters", clusters_record.video)):
        if record_video != video:
            raise PeopleError(
                f"{tracks if name == 'tracks' else clusters}: made for video {record_video!r}, not {video!r}; {REBUILD}"
            )
    return VideoIdentities(
        video, track_file.meta.info.fps, clusters_record, kept, pieces.split_rows(track_file.rows, cuts)
    )


def _identities(videos: Sequence[VideoIdentities], max_crops: int) -> list[_Identity]:
    out = []
    for v in videos:
        frames_of = {}
        if len(v.rows):
            order = np.argsort(v.rows.track_ids, kind="stable")
            tracks, starts = np.unique(v.rows.track_ids[order], return_index=True)
            for t, part in zip(tracks.tolist(), np.split(v.rows.frames[order], starts[1:])):
                frames_of[t] = part
        for identity in sorted(v.clusters.identities, key=lambda i: i.id):
            missing = [t for t in identity.members if t not in v.tracks]
            if missing:
                raise PeopleError(
                    f"{v.video}: identity {identity.id} has track(s) {missing[:5]} without crop features; {REBUILD}"
                )
            members = [v.tracks[t] for t in identity.members]
            crops = best_crops([m.features for m in members], [m.rank for m in members], max_crops)
            best = max(
                (
                    (t, int(m.frames[i]), float(m.quality[i]))
                    for t, m in zip(identity.members, members)
                    for i in range(len(m.frames))
                ),
                key=lambda c: c[2],
            )
            frames = np.concatenate([frames_of.get(t, np.zeros(0, np.int64)) for t in identity.members])
            first, last = (int(frames.min()), int(frames.max())) if len(frames) else (best[1], best[1])
            out.append(
                _Identity(
                    f"{v.video}:{identity.id}", v.video, identity.id, list(identity.members), crops, best, first, last
                )
            )
    return out


def _resolve(
    key: str,
    index: dict[tuple[str, int], int],
    track_owner: dict[tuple[str, int], int],
    where: str = "people override",
) -> int:
    """The identity (its index) a key names; ``where``: the file and entry, for messages."""
    parts = key.split(":")
    if len(parts) != 3 or parts[1] not in ("track", "identity") or not parts[2].lstrip("-").isdigit():
        raise PeopleError(f"{where}: {key!r}: write <video>:track:<id> or <video>:identity:<id>")
    video, kind, number = parts[0], parts[1], int(parts[2])
    table = track_owner if kind == "track" else index
    if (video, number) not in table:
        raise PeopleError(
            f"{where}: {key!r}: video {video!r} has no {kind} {number} in an identity (see its report); "
            "fix or remove the entry"
        )
    return table[(video, number)]


def _check_merges(
    merges: Sequence[tuple[str, str]],
    resolved: Sequence[tuple[int, int]],
    apart: dict[tuple[int, int], str],
    identities: Sequence[_Identity],
    where: str,
) -> None:
    """A person's merges (with everything they join) may not hold two identities that must stay apart;
    the error names the identities, why, and the merge entries that join them."""
    group_of = joined_groups(resolved)
    for (a, b), why in sorted(apart.items()):
        if a in group_of and b in group_of and group_of[a] == group_of[b]:
            entries = [list(m) for m, (x, _) in zip(merges, resolved) if group_of[x] == group_of[a]]
            raise PeopleError(
                f"{where}: the merge pair(s) {entries} join identities {identities[a].key} and {identities[b].key}, "
                f"which must stay apart ({why}); remove one of these merges"
            )


def _names(named_identities: Sequence[tuple[str, str, int]], labels: np.ndarray, where: str) -> dict[int, str]:
    """Person label -> display name, from (key, name, identity index). One person may not get two different
    names (two keys that turn out to be one person); two people may share a name (it is a label: to make them
    one person, merge them)."""
    named: dict[int, tuple[str, str]] = {}
    for key, name, identity in named_identities:
        label = int(labels[identity])
        if label in named and named[label][1] != name:
            other, other_name = named[label]
            raise PeopleError(
                f"{where}.names: {other!r} ({other_name!r}) and {key!r} ({name!r}) name the same person; "
                "keep one of the two names (or split the two)"
            )
        named.setdefault(label, (key, name))
    return {label: name for label, (_, name) in named.items()}


def build_people(
    videos: Sequence[VideoIdentities],
    settings: PeopleSettings = PeopleSettings(),
    overrides: CrossVideoOverrides = CrossVideoOverrides(),
    overrides_file: str | None = None,
) -> People:
    """The ``people.json`` record: every identity of every video assigned to one person.

    ``overrides_file`` names the overrides in error messages (a key no identity holds, a merge of identities
    that must stay apart, two names for one person).

    Examples:
        >>> from reidflow import people
        >>> from reidflow.formats.people import write_people
        >>> videos = [
        ...     people.read_video(v, f"results/{v}/tracks.npz", f"results/{v}/final_crops.h5",
        ...                       f"results/{v}/features.h5", f"results/{v}/clusters.json")
        ...     for v in ("lobby", "street")
        ... ]  # doctest: +SKIP
        >>> write_people("results/people/people.json", people.build_people(videos))  # doctest: +SKIP
    """
    identities = _identities(videos, settings.max_crops)
    n = len(identities)
    index = {(i.video, i.identity): k for k, i in enumerate(identities)}
    track_owner = {(i.video, t): k for k, i in enumerate(identities) for t in i.tracks}
    means = mean_features([i.crops for i in identities]) if n else np.zeros((0, 1), np.float32)
    candidates = candidate_pairs(means, settings.neighbours)
    if settings.aggregation != "mean" and len(candidates.left):
        scored = [
            aggregate([identities[a].crops, identities[b].crops], settings.aggregation, settings.topk)[0, 1]
            for a, b in zip(candidates.left.tolist(), candidates.right.tolist())
        ]
        candidates = Candidates(candidates.left, candidates.right, np.asarray(scored, dtype=np.float32))
    # the cluster stage's veto, as it recorded it: identities of one video seen together at different places
    together = {(index[(v.video, a)], index[(v.video, b)]) for v in videos for a, b in v.clusters.apart}
    where = f"{overrides_file or 'cluster overrides'}: people"
    resolve = lambda key, entry: _resolve(key, index, track_owner, entry)
    split: set[tuple[int, int]] = set()
    for a, b in overrides.split:
        x, y = resolve(a, f"{where}.split"), resolve(b, f"{where}.split")
        split.add((min(x, y), max(x, y)))
    merge = [(resolve(a, f"{where}.merge"), resolve(b, f"{where}.merge")) for a, b in overrides.merge]
    selected = {resolve(key, f"{where}.select") for key in overrides.select}
    named_identities = [(key, name, resolve(key, f"{where}.names")) for key, name in overrides.names]
    apart = {
        **{(min(a, b), max(a, b)): f"seen together in video {identities[a].video}" for a, b in together},
        **{pair: "split by people.split" for pair in split},
    }
    _check_merges(overrides.merge, merge, apart, identities, f"{where}.merge")
    labels, _ = link_people(n, candidates, settings.threshold, cannot_link=together | split, forced=merge)
    forced_people = {int(labels[a]) for a, _ in merge}
    names = _names(named_identities, labels, where)
    selected_people = {int(labels[k]) for k in selected}
    persons = []
    for label in range(int(labels.max()) + 1 if n else 0):
        members = [identities[k] for k in np.flatnonzero(labels == label)]
        best = max(members, key=lambda i: i.best[2])
        persons.append(
            Person(
                id=label + 1,
                appearances=[_appearance(i, _fps(videos, i.video)) for i in members],
                representative=best.key,
                decided_by="person" if label in forced_people else "clustering",
                name=names.get(label),
                selected=label in selected_people,
            )
        )
    return People(
        videos=[v.video for v in videos],
        params=asdict(settings),
        overrides=overrides.as_record(),
        people=persons,
        links=_links(identities, candidates, labels),
        recommendations=_recommendations(identities, candidates, labels, together, split, settings),
    )


def _fps(videos: Sequence[VideoIdentities], video: str) -> float:
    return next(v.fps for v in videos if v.video == video) or 1.0


def _appearance(i: _Identity, fps: float) -> Appearance:
    return Appearance(
        video=i.video,
        identity=i.identity,
        tracks=i.tracks,
        first_frame=i.first_frame,
        last_frame=i.last_frame,
        first_time=round(i.first_frame / fps, 3),
        last_time=round(i.last_frame / fps, 3),
        best_track=i.best[0],
        best_frame=i.best[1],
        best_quality=round(i.best[2], 4),
    )


def _links(identities: list[_Identity], candidates: Candidates, labels: np.ndarray) -> list[Link]:
    return [
        Link(identities[a].key, identities[b].key, round(float(s), 4), bool(labels[a] == labels[b]))
        for a, b, s in zip(candidates.left.tolist(), candidates.right.tolist(), candidates.similarity.tolist())
    ]


def _recommendations(
    identities: list[_Identity],
    candidates: Candidates,
    labels: np.ndarray,
    together: set[tuple[int, int]],
    split: set[tuple[int, int]],
    settings: PeopleSettings,
) -> list[PeopleRecommendation]:
    out = []
    for a, b, s in zip(candidates.left.tolist(), candidates.right.tolist(), candidates.similarity.tolist()):
        if labels[a] == labels[b] or s < settings.recommend_threshold:
            continue
        pair = (min(a, b), max(a, b))
        reason = "seen_together" if pair in together else "split_by_person" if pair in split else "below_threshold"
        out.append(PeopleRecommendation(identities[a].key, identities[b].key, round(float(s), 4), reason))
    return sorted(out, key=lambda r: -r.similarity)
