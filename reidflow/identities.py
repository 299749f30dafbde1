"""Stage ``identities``: every detection of a video labelled with its identity, for the next tool.

Examples:
    >>> from reidflow import identities
    >>> from reidflow.formats.clusters import read_clusters
    >>> from reidflow.formats.identities import write_identities
    >>> from reidflow.formats.tracks import read_tracks
    >>> record = identities.label_detections(
    ...     read_tracks("results/v/tracks.npz"), read_clusters("results/v/clusters.json"), min_track_frames=5
    ... )  # doctest: +SKIP
    >>> write_identities("results/v/identities.npz", "results/v/identities.txt", record)  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from reidflow import pieces
from reidflow.formats.clusters import Clusters
from reidflow.formats.identities import IdentityRows, Unassigned
from reidflow.formats.tracks import Tracks
from reidflow.ids import label_rows


def label_detections(tracks: Tracks, clusters: Clusters, min_track_frames: int) -> IdentityRows:
    """Each row of ``tracks`` with the identity of its track (-1: none), and why a track has none.

    One box per identity and frame: where two tracks of one identity both have a box in a frame (one
    person detected twice, which the cluster stage allows when the boxes overlap), the lower-scoring box
    gets -1, as a tracker reports one box per id (MOTChallenge files may not repeat an id in a frame).
    """
    rows = pieces.split_rows(tracks.rows, clusters.cuts).sorted()  # a cut track's pieces have their own ids
    identity_of = clusters.identity_of()
    identity_ids = label_rows(rows.track_ids, identity_of)
    labelled = np.flatnonzero(identity_ids >= 0)
    best_first = labelled[np.argsort(-rows.scores[labelled], kind="stable")]
    _, first = np.unique(np.stack([rows.frames[best_first], identity_ids[best_first]]), axis=1, return_index=True)
    second = np.setdiff1d(best_first, best_first[first])
    identity_ids[second] = -1
    ids, counts = np.unique(rows.track_ids, return_counts=True)
    flagged = {f.track for f in clusters.flagged}
    unassigned = []
    for track, detections in zip(ids.tolist(), counts.tolist()):
        if track in identity_of:
            continue
        # crops keeps tracks of at least min_track_frames detections, and cluster places every kept track
        # that it does not flag as a false detection
        if track in flagged:
            reason = "not_a_person"
        else:
            reason = "too_short" if detections < min_track_frames else "not_clustered"
        unassigned.append(Unassigned(track, detections, reason))
    return IdentityRows(tracks.meta.video, rows, identity_ids, unassigned)
