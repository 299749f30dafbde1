"""The whole chain on the real vtest clip (frames 1-124, 7 annotated people): identities against ground truth."""

import itertools
from collections import Counter, defaultdict

import numpy as np
import pytest
from conftest import iou

from reidflow.formats.clusters import read_clusters
from reidflow.formats.evaluation import read_evaluation
from reidflow.formats.features import read_features
from reidflow.formats.mot import read_mot
from reidflow.formats.similarity import read_similarity
from reidflow.formats.tracks import TrackRows, read_tracks
from reidflow.settings import ClusterSettings

pytestmark = pytest.mark.slow


def true_person_of_tracks(tracks: TrackRows, gt: TrackRows, min_iou: float = 0.5) -> dict[int, int]:
    """Each track's ground-truth person: the majority over its boxes, each matched to the best-overlapping
    ground-truth box of its frame (IoU >= min_iou). Tracks that never match are left out."""
    votes: dict[int, Counter] = defaultdict(Counter)
    for frame in np.unique(tracks.frames):
        here, truth = tracks.frames == frame, gt.frames == frame
        if not truth.any():
            continue
        overlap = iou(tracks.boxes[here], gt.boxes[truth])
        best, good = overlap.argmax(axis=1), overlap.max(axis=1) >= min_iou
        for track, person in zip(tracks.track_ids[here][good], gt.track_ids[truth][best[good]]):
            votes[int(track)][int(person)] += 1
    return {track: counter.most_common(1)[0][0] for track, counter in votes.items()}


def frames_apart(rows, a, b, duplicate_overlap):
    """Frames in which tracks a and b both have a box and the boxes overlap less than ``duplicate_overlap``
    of the smaller one (what cluster calls seen together), counted box by box."""
    boxes_a = {int(f): box for f, t, box in zip(rows.frames, rows.track_ids, rows.boxes) if t == a}
    count = 0
    for f, t, box in zip(rows.frames, rows.track_ids, rows.boxes):
        if t == b and int(f) in boxes_a:
            other = boxes_a[int(f)]
            w = min(box[2], other[2]) - max(box[0], other[0])
            h = min(box[3], other[3]) - max(box[1], other[1])
            smaller = min((box[2] - box[0]) * (box[3] - box[1]), (other[2] - other[0]) * (other[3] - other[1]))
            count += max(w, 0) * max(h, 0) < duplicate_overlap * smaller
    return count


def test_identities_never_mix_people_and_do_not_hurt_idf1(vtest_run, vtest_gt):
    results = vtest_run.path / "results" / "clip"
    tracks = read_tracks(results / "tracks.npz")
    sim = read_similarity(results / "similarity.json")
    clusters = read_clusters(results / "clusters.json")
    evaluation = read_evaluation(results / "evaluation.json")

    # the stages agree on which tracks exist: each in one identity, or flagged as not a person
    flagged = [f.track for f in clusters.flagged]
    assert not set(flagged) & set(clusters.identity_of())
    assert (
        sorted([*clusters.identity_of(), *flagged])
        == sorted(sim.track_ids)
        == sorted(read_features(results / "features.h5").track_ids)
    )
    # a real model spreads similarities (a collapsed one would put everything near 1)
    assert sim.distribution.count == len(sim.track_ids) * (len(sim.track_ids) - 1) // 2 > 0
    assert sim.distribution.std > 0.05 and sim.distribution.min < 0.5

    # ground-truth frame f is video frame f-1: read_mot returns 0-based frames like tracks.npz
    truth = true_person_of_tracks(tracks.rows, read_mot(vtest_gt))
    assert len(set(truth.values())) >= 5, truth
    for identity in clusters.identities:
        people = {truth[t] for t in identity.members if t in truth}
        assert len(people) <= 1, f"identity {identity.id} mixes people {people}: tracks {identity.members}"
        for a, b in itertools.combinations(identity.members, 2):
            apart = frames_apart(tracks.rows, a, b, ClusterSettings().duplicate_overlap)
            assert apart == 0, f"tracks {a} and {b}, seen together at different places in {apart} frames, were merged"

    assert len(clusters.identities) < len(sim.track_ids), "the clip fragments people; nothing was merged"
    assert evaluation.frames == 124
    assert evaluation.raw["mota"] > 0.5
    assert evaluation.merged["idf1"] >= evaluation.raw["idf1"], (evaluation.raw, evaluation.merged)
    assert evaluation.merged["num_ids"] <= evaluation.raw["num_ids"]
