"""Stage 5, ``cluster``: merge fragmented tracks into identities, never joining two people seen together.

Agglomerative clustering on distance = 1 - score with ``average``, ``complete`` or ``single`` linkage, the
score being the appearance similarity plus space-time evidence (reidflow.spacetime): repeatedly merge the
two closest clusters while their linkage distance is below ``distance_threshold`` (scikit-learn's rule).
Tracks seen in the same frame at different places (boxes overlapping less than ``duplicate_overlap``) at
least ``cooccurrence_veto`` times are different people (cannot-link). scikit-learn cannot express that, so the linkage is done here: greedy agglomeration
on a maintained cluster distance matrix with Lance-Williams updates, where a cluster pair containing any
cannot-link track pair is never merged (the veto is kept per cluster, so it holds for whole identities).
Each step finds the closest pair from a per-row nearest-neighbour cache; after a merge only the rows that
pointed at the merged clusters are rescanned (for these linkages a merged cluster is never closer to a
third one than the nearer of its parts). Without cannot-links the result equals scikit-learn's.

A person's overrides come on top: ``merge`` pairs are joined first (their whole clusters; merging two
co-occurring tracks is an error), ``split`` pairs become cannot-links. The result is verified before it
is written.

Works on any list of tracks: nothing here assumes that the tracks come from one video.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from reidflow import ReidflowError, pieces, spacetime
from reidflow.formats.base import REBUILD
from reidflow.formats.clusters import Clusters, Flagged, Identity, Merge, Recommendation
from reidflow.formats.similarity import Similarity
from reidflow.formats.tracks import TrackRows, VideoInfo
from reidflow.ids import RepeatedIdError, joined_groups, locate, pairs_at_or_above
from reidflow.overrides import Overrides, OverridesError
from reidflow.settings import ClusterSettings

LINKAGES = ("average", "complete", "single")
IGNORED = "ignored_by_person"  # the reason of a track a person's overrides ``ignore``


class ClusterError(ReidflowError):
    pass


@dataclass(frozen=True)
class Step:
    """One merge of two clusters (track indices) at linkage ``distance``; ``forced``: a person's merge."""

    left: tuple[int, ...]
    right: tuple[int, ...]
    distance: float
    forced: bool


def agglomerate(
    distance: np.ndarray,
    cannot_link: np.ndarray,
    linkage: str = ClusterSettings.linkage,
    threshold: float = ClusterSettings.distance_threshold,
    forced: Sequence[tuple[int, int]] = (),
    overwrite: bool = False,
) -> tuple[np.ndarray, list[Step]]:
    """Constrained agglomerative clustering of N items; returns (cluster label per item, merge steps).

    ``distance`` (N, N) symmetric, finite; ``cannot_link`` (N, N) bool, symmetric. ``forced`` index pairs are
    merged first (whole clusters); they must not be cannot-linked. Labels are 0..C-1 in order of first item.
    ``overwrite``: use a float32 ``distance`` as the working matrix instead of a copy (saves N^2 memory).
    """
    if linkage not in LINKAGES:
        raise ClusterError(f"cluster.linkage {linkage!r} unknown; use one of {', '.join(LINKAGES)}")
    n = len(distance)
    if distance.shape != (n, n) or cannot_link.shape != (n, n):
        raise ValueError(f"distance {distance.shape} and cannot_link {cannot_link.shape} must both be (N, N)")
    # float32 halves the memory and the cost of the strided column writes; Lance-Williams stays exact enough.
    dist = distance if overwrite and distance.dtype == np.float32 else np.array(distance, dtype=np.float32)
    if not np.isfinite(dist).all():
        raise ClusterError("distances must be finite (a similarity was NaN or infinite)")
    # A cannot-link is an infinite distance; every linkage keeps it infinite for the merged cluster, so the
    # veto holds for whole clusters without a matrix of its own.
    np.copyto(dist, np.inf, where=cannot_link)
    np.fill_diagonal(dist, np.inf)
    active = np.ones(n, dtype=bool)
    size = np.ones(n, dtype=np.int64)
    members = [[i] for i in range(n)]
    owner = np.arange(n)  # item -> index of the cluster holding it
    steps: list[Step] = []

    def merge(a: int, b: int, forced: bool) -> np.ndarray:
        """Join cluster b into cluster a (a < b); returns a's new distance row."""
        steps.append(Step(tuple(members[a]), tuple(members[b]), float(dist[a, b]), forced))
        row_a, row_b = dist[a], dist[b]
        if linkage == "average":
            na, nb = int(size[a]), int(size[b])
            row = (na * row_a + nb * row_b) / (na + nb)
        elif linkage == "complete":
            row = np.maximum(row_a, row_b)
        else:
            row = np.minimum(row_a, row_b)
            row[np.isinf(row_a) | np.isinf(row_b)] = np.inf  # vetoed with either part
        active[b] = False
        row[~active] = np.inf  # column b is never rewritten: inactive columns are masked on every read
        row[a] = np.inf
        dist[a], dist[:, a] = row, row
        dist[b] = np.inf
        size[a] += size[b]
        size[b] = 0
        owner[members[b]] = a
        members[a] += members[b]
        members[b] = []
        return row

    for i, j in forced:
        a, b = sorted((int(owner[i]), int(owner[j])))
        if a == b:
            continue
        if not np.isfinite(dist[a, b]):
            raise ClusterError(f"forced merge of items {i} and {j} joins clusters that must stay apart")
        merge(a, b, forced=True)

    if n > 1:
        dist[:, ~active] = np.inf  # the columns the forced merges left behind
        nearest = dist.argmin(axis=1)
        nearest_dist = dist[np.arange(n), nearest]
        while True:
            i = int(nearest_dist.argmin())
            if not nearest_dist[i] < threshold:  # also stops on inf: nothing mergeable is left
                break
            a, b = sorted((i, int(nearest[i])))
            row = merge(a, b, forced=False)
            nearest_dist[b] = np.inf
            # Rows that pointed at a or b rescan; for these linkages no other row's minimum can drop below
            # its cached value, except towards the merged cluster (checked with ``closer``).
            stale = ((nearest == a) | (nearest == b)) & active & np.isfinite(nearest_dist)
            stale[a] = True
            stale = np.flatnonzero(stale)
            sub = dist[stale]
            sub[:, ~active] = np.inf
            nearest[stale] = sub.argmin(axis=1)
            nearest_dist[stale] = sub[np.arange(len(stale)), nearest[stale]]
            closer = row < nearest_dist
            nearest[closer] = a
            nearest_dist[closer] = row[closer]
    _, labels = np.unique(owner, return_inverse=True)
    return labels.reshape(-1), steps


def violations(labels: np.ndarray, cannot_link: np.ndarray) -> list[tuple[int, int]]:
    """Index pairs that must be apart but share a label."""
    a, b = np.nonzero(np.triu(cannot_link, 1))
    same = labels[a] == labels[b]
    return list(zip(a[same].tolist(), b[same].tolist()))


def build_clusters(
    similarity: Similarity,
    rows: TrackRows,
    settings: ClusterSettings = ClusterSettings(),
    overrides: Overrides = Overrides(),
    overrides_file: str | None = None,
    similarity_file: str = "similarity.json",
    info: VideoInfo | None = None,
) -> Clusters:
    """The ``clusters.json`` record: identities of the tracks in ``similarity``, with ``rows`` their detections.

    The same-person score of two tracks is their appearance similarity plus the space-time evidence
    (``reidflow.spacetime``; needs the video's ``info``: fps and frame size; without it, or with
    ``settings.spacetime`` off, appearance alone scores). Tracks seen together at different places in at
    least ``cooccurrence_veto`` frames are never merged; tracks showing two signs of a false detection
    (``settings.nonperson``) are flagged and kept out of identities, unless a person's merge names them;
    tracks a person's overrides ``ignore`` are flagged with the reason "ignored_by_person".
    ``overrides_file`` and ``similarity_file`` name the sources in error messages.

    Examples:
        >>> from reidflow import cluster
        >>> from reidflow.formats.clusters import write_clusters
        >>> from reidflow.formats.similarity import read_similarity
        >>> from reidflow.formats.tracks import read_tracks
        >>> record = cluster.build_clusters(
        ...     read_similarity("results/vtest/similarity.json"), read_tracks("results/vtest/tracks.npz").rows,
        ...     cluster.ClusterSettings(distance_threshold=0.3))
        >>> [identity.members for identity in record.identities][:2]
        [[3, 17], [2]]
        >>> write_clusters("clusters.json", record)
    """
    ids = np.asarray(similarity.track_ids, dtype=np.int64)
    n = len(ids)
    rows = pieces.split_rows(rows, similarity.cuts)  # the tracks here are pieces
    try:
        rows_found, rows_index = locate(ids, rows.track_ids)
    except RepeatedIdError as err:
        raise ClusterError(f"{similarity_file}: {err}; {REBUILD}") from None
    without = ids[np.bincount(rows_index, minlength=n) == 0]
    if len(without):
        raise ClusterError(
            f"{similarity_file}: track(s) {', '.join(map(str, without[:10].tolist()))} have no detections in the "
            f"tracks file; {REBUILD}"
        )
    index = {int(t): i for i, t in enumerate(ids)}
    overrides_file = overrides_file or "cluster overrides"
    _check_override_ids(similarity.video, overrides, index, overrides_file)
    cooc = similarity.cooccurrence
    # only co-occurrence at different places vetoes: overlapping boxes are one person seen twice
    apart = spacetime.apart_cooccurrence(rows, ids, settings.duplicate_overlap)
    seen_together = apart >= settings.cooccurrence_veto
    np.fill_diagonal(seen_together, False)
    split = np.array([(index[a], index[b]) for a, b in overrides.split], dtype=np.int64).reshape(-1, 2)
    cannot_link = seen_together.copy()
    cannot_link[split[:, 0], split[:, 1]] = cannot_link[split[:, 1], split[:, 0]] = True
    forced = [(index[a], index[b]) for a, b in overrides.merge]
    # the two sides of a cut are two people, unless a person merges exactly them
    merged = {frozenset(pair) for pair in forced}
    cut = np.array(
        [
            (index[a], index[b])
            for a, b in pieces.adjacent_pieces(similarity.cuts)
            if frozenset((index[a], index[b])) not in merged
        ],
        dtype=np.int64,
    ).reshape(-1, 2)
    cannot_link[cut[:, 0], cut[:, 1]] = cannot_link[cut[:, 1], cut[:, 0]] = True
    _check_forced_merges(similarity.video, ids, forced, cannot_link, seen_together, apart, cut, overrides_file)

    score = similarity.matrix
    flagged: list[Flagged] = []
    if n and (settings.spacetime and info is not None or settings.nonperson):
        summaries = spacetime.summarise(rows, ids, info or VideoInfo(0.0, 0, 0, 0))
        if settings.spacetime and info is not None:
            score = score + spacetime.spacetime_evidence(summaries, info.fps, settings)
        if settings.nonperson:
            named = {k for pair in forced for k in pair}  # a person's merge says it is a person
            flagged = [
                Flagged(int(ids[k]), reasons, int(np.sum(rows_index == k)))
                for k, reasons in enumerate(spacetime.nonperson_reasons(summaries, info.fps if info else 0.0, settings))
                if reasons and k not in named
            ]
    if overrides.ignore:  # a person's word: not a person, whatever the signs say
        flagged = [f for f in flagged if f.track not in overrides.ignore] + [
            Flagged(int(t), [IGNORED], int(np.sum(rows_index == index[t]))) for t in overrides.ignore
        ]
        flagged.sort(key=lambda f: f.track)
    out = np.isin(ids, [f.track for f in flagged])
    if out.any():  # a flagged track joins nobody: cannot-linked with every other track
        cannot_link[out, :] = cannot_link[:, out] = True
        np.fill_diagonal(cannot_link, False)
    distance = np.subtract(1.0, score, dtype=np.float32)
    labels, steps = agglomerate(
        distance, cannot_link, settings.linkage, settings.distance_threshold, forced, overwrite=True
    )
    del distance
    broken = violations(labels, cannot_link)
    if broken:  # a bug, never a user's error: refuse to write identities that join people seen together
        a, b = broken[0]
        raise ClusterError(f"internal error: tracks {ids[a]} and {ids[b]} must be apart but were clustered together")

    detections = np.bincount(rows_index, minlength=n)  # rows (detections) of each track
    rank = np.lexsort((ids, -detections))  # longest seen first
    position = np.empty(n, dtype=np.int64)
    position[rank] = np.arange(n)

    def ordered(indices: Sequence[int]) -> list[int]:
        return [int(ids[i]) for i in sorted(indices, key=lambda i: position[i])]

    identities = _identities(
        ids, labels, steps, similarity.matrix, rows.frames[rows_found], rows_index, ordered, detections, out
    )
    identity_of = {track: identity.id for identity in identities for track in identity.members}
    # different people, for the people stage too: seen together, or the two sides of a cut
    left, right = np.nonzero(np.triu(seen_together & ~out[:, None] & ~out[None, :], 1))
    different = [*zip(left.tolist(), right.tolist()), *((i, j) for i, j in cut.tolist() if not out[i] and not out[j])]
    apart_identities = sorted(
        {
            tuple(sorted((identity_of[int(ids[i])], identity_of[int(ids[j])])))
            for i, j in different
            if identity_of[int(ids[i])] != identity_of[int(ids[j])]
        }
    )
    merges = [
        Merge(ordered(s.left), ordered(s.right), round(1.0 - s.distance, 6), "person" if s.forced else "clustering")
        for s in steps
    ]
    return Clusters(
        video=similarity.video,
        params=asdict(settings),
        overrides=overrides.as_param(),
        identities=identities,
        merges=merges,
        recommendations=_recommendations(
            ids, labels, score, similarity.matrix, cooc, seen_together, split, cut, settings.recommend_threshold, out
        ),
        flagged=flagged,
        apart=[list(pair) for pair in apart_identities],
        cuts=similarity.cuts,
    )


def _check_override_ids(video: str, overrides: Overrides, index: dict[int, int], overrides_file: str | None) -> None:
    unknown = sorted(overrides.track_ids() - set(index))
    if unknown:
        known = ", ".join(map(str, sorted(index)[:50])) or "none"
        raise OverridesError(
            f"{overrides_file}: video {video!r}: unknown track id(s) {', '.join(map(str, unknown))}; the video's "
            f"tracks with features are: {known}. Fix or remove those pairs"
        )


def _check_forced_merges(video, ids, forced, cannot_link, seen_together, apart, cut, overrides_file) -> None:
    """A person's merges may join whole groups; none of them may hold two tracks that must stay apart.

    ``cut``: (C, 2) index pairs of pieces on the two sides of a cut that no merge names directly."""
    cut_pairs = {frozenset(pair) for pair in cut.tolist()}
    group_of = joined_groups(forced)
    groups: dict[int, list[int]] = {}
    for i in sorted(group_of):
        groups.setdefault(group_of[i], []).append(i)
    for group in groups.values():
        a, b = np.nonzero(np.triu(cannot_link[np.ix_(group, group)], 1))
        if len(a):
            x, y = group[a[0]], group[b[0]]
            if seen_together[x, y]:
                reason = f"seen together at different places in {apart[x, y]} frame(s)"
            elif frozenset((x, y)) in cut_pairs:
                reason = "the two sides of a track cut at an identity switch (a merge of exactly these two joins them)"
            else:
                reason = "to be split by the same file"
            first, second = sorted((int(ids[x]), int(ids[y])))
            raise OverridesError(
                f"{overrides_file}: video {video!r}: the merge pairs put tracks {first} and {second} into one "
                f"identity, but they are {reason}, so they are different people; remove the merge"
            )


def _identities(ids, labels, steps, matrix, row_frames, row_index, ordered, detections, flagged) -> list[Identity]:
    """``row_frames``/``row_index``: frame and track index of every detection of a track in ``ids``;
    ``flagged``: tracks that are no identity (each is alone in its cluster)."""
    if len(ids) == 0:
        return []
    count = int(labels.max()) + 1
    # frames in which any member is present, one unique over (label, frame) for all rows
    pairs = np.unique(np.stack([labels[row_index], row_frames]), axis=1)
    covered = np.bincount(pairs[0], minlength=count)
    by_person = {i for s in steps if s.forced for i in s.left + s.right}
    by_label = np.argsort(labels, kind="stable")
    groups = np.split(by_label, np.flatnonzero(np.diff(labels[by_label])) + 1)
    found = []
    for label, members in enumerate(groups):
        if flagged[members].all():
            continue
        sub = matrix[np.ix_(members, members)]
        upper = sub[np.triu_indices(len(members), 1)]
        found.append(
            dict(
                members=ordered(members),
                frames_covered=int(covered[label]),
                mean_similarity=round(float(upper.mean()), 6) if len(upper) else None,
                decided_by="person" if by_person.intersection(members.tolist()) else "clustering",
                longest=int(detections[members].max()),
            )
        )
    found.sort(key=lambda f: (-f["frames_covered"], -f["longest"], min(f["members"])))
    return [
        Identity(
            id=k,
            members=f["members"],
            representative=f["members"][0],
            frames_covered=f["frames_covered"],
            mean_similarity=f["mean_similarity"],
            decided_by=f["decided_by"],
        )
        for k, f in enumerate(found, start=1)
    ]


def _recommendations(
    ids, labels, score, matrix, cooc, seen_together, split, cut, threshold, flagged
) -> list[Recommendation]:
    """Pairs whose same-person ``score`` is at or above ``threshold`` left in different identities, highest
    score first, with the reason; ``matrix``: their appearance similarity.

    ``split``: (S, 2) index pairs a person kept apart; ``cut``: (C, 2) the pieces on either side of a cut;
    ``flagged``: tracks that are no identity (not
    recommended: the report lists them for a person to confirm).
    """
    n = len(ids)
    if n < 2:
        return []
    a, b = pairs_at_or_above(ids, score, threshold)  # highest score first
    apart = (labels[a] != labels[b]) & ~flagged[a] & ~flagged[b]
    a, b = a[apart], b[apart]
    count = int(labels.max()) + 1

    def identity_pairs(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        lo, hi = np.minimum(labels[x], labels[y]), np.maximum(labels[x], labels[y])
        return lo * count + hi

    # The pair's own constraint first (a person split exactly these two, or they were seen together), then
    # one between their identities (some cross pair of members co-occurs / was split), else the linkage.
    split_keys = np.concatenate([split[:, 0] * n + split[:, 1], split[:, 1] * n + split[:, 0]])
    pair_split = np.isin(a * n + b, split_keys)
    wanted = identity_pairs(a, b)
    vetoed = np.isin(wanted, identity_pairs(*np.nonzero(seen_together)))
    split_apart = np.isin(wanted, identity_pairs(split[:, 0], split[:, 1]))
    cut_apart = np.isin(wanted, identity_pairs(cut[:, 0], cut[:, 1]))
    reasons = np.select(
        [pair_split, seen_together[a, b], vetoed, split_apart, cut_apart],
        ["split_by_person", "cooccurrence_veto", "cooccurrence_veto", "split_by_person", "cut_at_switch"],
        "below_threshold",
    )
    return [
        Recommendation(
            int(ids[i]), int(ids[j]), float(matrix[i, j]), int(cooc[i, j]), str(reason), round(float(score[i, j]), 6)
        )
        for i, j, reason in zip(a, b, reasons)
    ]
