"""Stage ``identities``: every detection of a video labelled with its identity, for the next tool.

A detector misses a person for a few frames now and then (occluded, blurred), and the tracker or the merge
of tracks bridges the gap: ``gap_boxes`` fills such short gaps of an identity (at most ``fill_gaps``
frames) with boxes interpolated linearly between its boxes on either side, as trackers' offline
post-processing does (ByteTrack's interpolation). A longer gap (at most ``fill_hidden`` frames) is filled
only where the boxes on both sides are away from the frame border: a person does not vanish in the middle
of the view, so they were hidden (behind someone or something); at the border they may have left. The
filled boxes are delivered in identities.txt and scored by evaluate; ``identities.npz`` keeps them apart
from the detections (``filled_*``).

Examples:
    >>> from reidflow import identities
    >>> from reidflow.formats.clusters import read_clusters
    >>> from reidflow.formats.identities import write_identities
    >>> from reidflow.formats.tracks import read_tracks
    >>> from reidflow.settings import IdentitiesSettings
    >>> record = identities.label_detections(
    ...     read_tracks("results/v/tracks.npz"), read_clusters("results/v/clusters.json"), min_track_frames=5,
    ...     settings=IdentitiesSettings(fill_gaps=10, fill_hidden=100),
    ... )  # doctest: +SKIP
    >>> write_identities("results/v/identities.npz", "results/v/identities.txt", record)  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from reidflow import pieces, spacetime
from reidflow.formats.clusters import Clusters
from reidflow.formats.identities import IdentityRows, Unassigned
from reidflow.formats.tracks import TrackRows, Tracks, VideoInfo
from reidflow.ids import label_rows
from reidflow.settings import IdentitiesSettings


def label_detections(
    tracks: Tracks, clusters: Clusters, min_track_frames: int, settings: IdentitiesSettings = IdentitiesSettings()
) -> IdentityRows:
    """Each row of ``tracks`` with the identity of its track (-1: none), why a track has none, and the boxes
    that fill each identity's gaps (``gap_boxes``).

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
    record = IdentityRows(tracks.meta.video, rows, identity_ids, unassigned)
    filled = gap_boxes(record.assigned(), settings, tracks.meta.info, tracks.meta.vid_stride)
    return IdentityRows(tracks.meta.video, rows, identity_ids, unassigned, filled)


def gap_boxes(rows: TrackRows, settings: IdentitiesSettings, info: VideoInfo, stride: int = 1) -> TrackRows:
    """Boxes for the frames an identity has none between two of its boxes: the corners interpolated
    linearly, score 0. A gap is filled when at most ``settings.fill_gaps`` processed frames are missing, or
    at most ``settings.fill_hidden`` and neither box touches the border of the ``info`` frame.

    ``rows``: one box per identity and frame, the identity as track id (``IdentityRows.assigned``);
    ``stride``: the track stage's vid_stride (only every stride-th frame was processed).
    """
    longest = max(settings.fill_gaps, settings.fill_hidden)
    if longest < 1 or not len(rows):
        return TrackRows.empty()
    order = np.lexsort((rows.frames, rows.track_ids))
    frames, ids = rows.frames[order], rows.track_ids[order]
    boxes = rows.boxes[order].astype(np.float64)
    steps = np.diff(frames) // stride
    gaps = np.flatnonzero((ids[1:] == ids[:-1]) & (steps > 1) & (steps <= longest + 1))
    parts = []
    for i in gaps.tolist():
        if steps[i] > settings.fill_gaps + 1 and (
            steps[i] > settings.fill_hidden + 1
            or spacetime.touches_border(boxes[i], info)
            or spacetime.touches_border(boxes[i + 1], info)
        ):
            continue
        k = np.arange(1, steps[i])
        w = (k / steps[i])[:, None]
        box = (1 - w) * boxes[i] + w * boxes[i + 1]
        parts.append(TrackRows(frames[i] + k * stride, np.full(len(k), ids[i]), box, np.zeros(len(k))))
    return TrackRows.concatenate(parts)
