"""The whole chain on the real vtest clip (frames 1-124, 7 annotated people): identities against ground truth."""

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


def test_identities_never_mix_people_and_do_not_hurt_idf1(vtest_run, vtest_gt):
    results = vtest_run.path / "results" / "clip"
    tracks = read_tracks(results / "tracks.npz")
    sim = read_similarity(results / "similarity.json")
    clusters = read_clusters(results / "clusters.json")
    evaluation = read_evaluation(results / "evaluation.json")

    # the stages agree on which tracks exist
    assert (
        sorted(clusters.identity_of())
        == sorted(sim.track_ids)
        == sorted(read_features(results / "features.h5").track_ids)
    )
    # a real model spreads similarities (a collapsed one would put everything near 1)
    assert sim.distribution.count == len(sim.track_ids) * (len(sim.track_ids) - 1) // 2 > 0
    assert sim.distribution.std > 0.05 and sim.distribution.min < 0.5

    # ground-truth frame f is video frame f-1: read_mot returns 0-based frames like tracks.npz
    truth = true_person_of_tracks(tracks.rows, read_mot(vtest_gt))
    assert len(set(truth.values())) >= 5, truth
    index = {t: i for i, t in enumerate(sim.track_ids)}
    for identity in clusters.identities:
        people = {truth[t] for t in identity.members if t in truth}
        assert len(people) <= 1, f"identity {identity.id} mixes people {people}: tracks {identity.members}"
        members = [index[t] for t in identity.members]
        assert not np.triu(sim.cooccurrence[np.ix_(members, members)], 1).any(), "tracks seen together were merged"

    assert len(clusters.identities) < len(sim.track_ids), "the clip fragments people; nothing was merged"
    assert evaluation.frames == 124
    assert evaluation.raw["mota"] > 0.5
    assert evaluation.merged["idf1"] >= evaluation.raw["idf1"], (evaluation.raw, evaluation.merged)
    assert evaluation.merged["num_ids"] <= evaluation.raw["num_ids"]
