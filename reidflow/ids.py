"""Track ids and the arrays indexed by them, shared by the stages that relate tracks (similarity, cluster,
identities, people).

- ``locate``: where each of some ids (e.g. the track id of every detection row) sits in a list of
  distinct track ids;
- ``label_rows``: a label per row from a label per track id (e.g. each detection's identity);
- ``pairs_at_or_above``: the pairs of tracks whose entry of a symmetric track x track matrix is at or
  above a threshold, most similar first.

Nothing here assumes one video: ids are plain int64 keys.

Examples:
    >>> import numpy as np
    >>> from reidflow import ids
    >>> found, index = ids.locate([30, 10, 20], [20, 5, 30])
    >>> found.tolist(), index.tolist()
    ([True, False, True], [2, 0])
    >>> matrix = np.array([[1.0, 0.2, 0.9], [0.2, 1.0, 0.6], [0.9, 0.6, 1.0]])
    >>> [pair.tolist() for pair in ids.pairs_at_or_above([7, 8, 9], matrix, 0.5)]
    [[0, 1], [2, 2]]
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import TypeVar

import numpy as np

from reidflow import ReidflowError


class RepeatedIdError(ReidflowError):
    """A list of track ids that must be distinct is not."""


def locate(keys: np.ndarray | Sequence[int], values: np.ndarray | Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Where each of ``values`` sits in ``keys``: (found mask over ``values``, index into ``keys`` of the found).

    ``keys`` must be distinct; any sortable 1-D array works (one sort plus a binary search per value).
    """
    keys, values = np.asarray(keys).reshape(-1), np.asarray(values).reshape(-1)
    if len(keys) == 0:
        return np.zeros(len(values), dtype=bool), np.zeros(0, dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    if len(repeated):
        raise RepeatedIdError(
            f"track id(s) {', '.join(map(str, repeated[:10].tolist()))} listed more than once; ids must be unique"
        )
    pos = np.minimum(np.searchsorted(ordered, values), len(keys) - 1)
    found = ordered[pos] == values
    return found, order[pos[found]]


def pairs_at_or_above(
    track_ids: Sequence[int] | np.ndarray, matrix: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays (a, b), a < b, of the pairs with ``matrix[a, b] >= threshold``: the highest value first,
    ties by the smaller track id of ``track_ids`` (row i of ``matrix`` is ``track_ids[i]``)."""
    ids = np.asarray(track_ids, dtype=np.int64).reshape(-1)
    if len(ids) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    a, b = np.nonzero(np.triu(matrix >= threshold, 1))
    order = np.lexsort((ids[b], ids[a], -matrix[a, b]))
    return a[order], b[order]


def label_rows(track_ids: np.ndarray, label_of: dict[int, int], missing: int = -1) -> np.ndarray:
    """int64 label of each row's track (``missing`` for a track ``label_of`` lacks): one lookup per
    distinct track, not per row."""
    tracks, inverse = np.unique(np.asarray(track_ids, dtype=np.int64), return_inverse=True)
    labels = np.array([label_of.get(t, missing) for t in tracks.tolist()], dtype=np.int64)
    return labels[inverse.reshape(-1)]


Item = TypeVar("Item", bound=Hashable)


def joined_groups(pairs: Iterable[tuple[Item, Item]]) -> dict[Item, Item]:
    """Each item named in ``pairs`` -> one representative of the group the pairs join it into
    (union-find): two items are in one group when a chain of pairs links them."""
    parent: dict[Item, Item] = {}

    def root(item: Item) -> Item:
        parent.setdefault(item, item)
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    for a, b in pairs:
        parent[root(a)] = root(b)
    return {item: root(item) for item in list(parent)}
