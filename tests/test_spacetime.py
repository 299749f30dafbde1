"""Space and time as evidence in stage cluster (reidflow.spacetime): continuations, unreachable
look-alikes, duplicates that do not veto, and tracks that are not people."""

from dataclasses import replace

import numpy as np
from helpers_identities import walker

from reidflow import cluster, similarity, spacetime
from reidflow.formats.identities import IdentityRows
from reidflow.formats.similarity import Similarity
from reidflow.formats.tracks import TrackRows, Tracks, TracksMeta, VideoInfo
from reidflow.identities import label_detections
from reidflow.overrides import Overrides
from reidflow.settings import ClusterSettings

INFO = VideoInfo(fps=10.0, width=768, height=576, frame_count=200)


def record(rows: TrackRows, sims: dict[tuple[int, int], float]) -> Similarity:
    ids = sorted(np.unique(rows.track_ids).tolist())
    matrix = np.eye(len(ids))
    for (a, b), value in sims.items():
        i, j = ids.index(a), ids.index(b)
        matrix[i, j] = matrix[j, i] = value
    cooc = similarity.cooccurrence(rows, ids)
    return Similarity("v", ids, "mean", {}, 0.5, matrix, cooc, [], similarity.distribution([], 4))


def static(track: int, frames: np.ndarray, box: tuple[float, ...], score: float) -> TrackRows:
    n = len(frames)
    return TrackRows(frames, np.full(n, track), np.tile(np.asarray(box, float), (n, 1)), np.full(n, score))


def test_a_fragment_scores_above_a_far_away_look_alike():
    """1 walks right (frames 0-39, 2 px a frame); 2 appears 3 frames later where 1 was heading; 3 appears
    at once at the far side of the frame. Both look alike to 1 exactly as much (0.6, below the 0.65
    merge similarity): space and time decide."""
    one = walker(1, 0.0, np.arange(40))
    fragment = walker(2, 0.0, np.arange(43, 80))
    far = walker(3, 600.0, np.arange(43, 80))
    far.boxes[:, [0, 2]] -= 2.0 * 43  # enters at x = 600: 520 px (4 heights) from 1's exit, 0.3 s later
    rows = TrackRows.concatenate([one, fragment, far])
    sims = {(1, 2): 0.6, (1, 3): 0.6, (2, 3): 0.1}
    summaries = spacetime.summarise(rows, np.array([1, 2, 3]), INFO)
    evidence = spacetime.spacetime_evidence(summaries, INFO.fps, ClusterSettings())
    assert evidence[0, 1] > 0 > evidence[0, 2]
    assert evidence[0, 1] == evidence[1, 0]

    result = cluster.build_clusters(record(rows, sims), rows, ClusterSettings(), info=INFO)
    assert sorted(sorted(i.members) for i in result.identities) == [[1, 2], [3]]
    # appearance alone cannot tell them apart: neither merges
    alone = cluster.build_clusters(record(rows, sims), rows, replace(ClusterSettings(), spacetime=False), info=INFO)
    assert len(alone.identities) == 3
    # the look-alike stays a recommendation only if its score reaches the threshold: 0.6 - 0.3 does not
    assert [(r.a, r.b) for r in alone.recommendations] == [(1, 2), (1, 3)]
    assert all(r.b != 3 for r in result.recommendations)


def test_leaving_and_entering_at_the_border_is_reachable():
    """A re-entry: 1 leaves at the left edge, 2 enters at the right edge 1 s later. Too far to walk inside
    the frame, but both ends touch the border: no penalty, appearance decides."""
    leaves = TrackRows(
        np.arange(20),
        np.full(20, 1),
        np.c_[np.linspace(60, 0, 20), np.full(20, 100.0), np.linspace(100, 40, 20), np.full(20, 220.0)],
        np.ones(20),
    )
    enters = TrackRows(
        np.arange(30, 50),
        np.full(20, 2),
        np.c_[np.linspace(728, 700, 20), np.full(20, 100.0), np.linspace(768, 740, 20), np.full(20, 220.0)],
        np.ones(20),
    )
    rows = TrackRows.concatenate([leaves, enters])
    summaries = spacetime.summarise(rows, np.array([1, 2]), INFO)
    assert summaries.leaves_at_border[0] and summaries.enters_at_border[1]
    assert spacetime.spacetime_evidence(summaries, INFO.fps, ClusterSettings())[0, 1] == 0.0
    inside = replace(summaries, enters_at_border=np.array([False, False]))
    assert spacetime.spacetime_evidence(inside, INFO.fps, ClusterSettings())[0, 1] < 0


def test_two_boxes_of_one_person_do_not_veto_two_people_do():
    """1 is a full box; 2 a partial box inside it in the same frames (one person seen twice); 3 is
    another person beside them. All look alike (0.9): 1 and 2 merge, 3 stays apart."""
    frames = np.arange(30)
    full = walker(1, 100.0, frames)
    partial = walker(2, 100.0, frames)
    partial.boxes[:, 3] = partial.boxes[:, 1] + 60  # the upper half: IoU 0.5, but all of it inside 1
    beside = walker(3, 300.0, frames)
    rows = TrackRows.concatenate([full, partial, beside])
    apart = spacetime.apart_cooccurrence(rows, np.array([1, 2, 3]), ClusterSettings().duplicate_overlap)
    assert apart[0, 1] == 0 and apart[0, 2] == apart[1, 2] == 30
    sims = {(1, 2): 0.9, (1, 3): 0.9, (2, 3): 0.9}
    result = cluster.build_clusters(record(rows, sims), rows, ClusterSettings(), info=INFO)
    assert sorted(sorted(i.members) for i in result.identities) == [[1, 2], [3]]
    # recorded for the people stage: the two identities are different people
    identity = result.identity_of()
    assert result.apart == [sorted([identity[1], identity[3]])]
    # identities.txt keeps one box of the identity per frame: the full box (the partial one scores lower)
    rows.scores[rows.track_ids == 2] = 0.5
    meta = TracksMeta("v", "v.avi", INFO, 1, "yolov8n.pt", "0" * 64, "bytetrack")
    labelled = label_detections(Tracks(rows, meta), result, min_track_frames=5)
    merged = labelled.identity_ids[labelled.rows.track_ids != 3]
    assert (labelled.identity_ids[labelled.rows.track_ids == 1] == merged.max()).all()
    assert (labelled.identity_ids[labelled.rows.track_ids == 2] == -1).all()
    # every co-occurrence vetoes when no overlap counts as a duplicate
    strict = cluster.build_clusters(
        record(rows, sims), rows, replace(ClusterSettings(), duplicate_overlap=1.01), info=INFO
    )
    assert len(strict.identities) == 3


def test_a_static_dim_small_box_is_flagged_and_kept_out():
    """2 is a sign: it never moves, the detector is unsure of it and it is small. 3 waits without moving
    but is a confident, person-sized box: one sign only, so it stays a person."""
    frames = np.arange(40)
    person = walker(1, 0.0, frames, score=0.8)
    sign = static(2, frames, (500, 300, 515, 330), 0.3)
    waiting = static(3, frames, (600, 100, 640, 220), 0.8)
    rows = TrackRows.concatenate([person, sign, waiting])
    sims = {(1, 2): 0.2, (1, 3): 0.2, (2, 3): 0.2}
    result = cluster.build_clusters(record(rows, sims), rows, ClusterSettings(), info=INFO)
    assert [(f.track, f.reasons, f.detections) for f in result.flagged] == [
        (2, ["static", "low_confidence", "small"], 40)
    ]
    assert sorted(result.identity_of()) == [1, 3]
    # kept in the files: identities.npz lists it with why
    meta = TracksMeta("v", "v.avi", INFO, 1, "yolov8n.pt", "0" * 64, "bytetrack")
    labelled: IdentityRows = label_detections(Tracks(rows, meta), result, min_track_frames=5)
    assert [(u.track, u.reason) for u in labelled.unassigned] == [(2, "not_a_person")]
    assert (labelled.identity_ids[labelled.rows.track_ids == 2] == -1).all()
    # switched off, or named in a person's merge, it is a person again
    off = cluster.build_clusters(record(rows, sims), rows, replace(ClusterSettings(), nonperson=False), info=INFO)
    assert off.flagged == [] and 2 in off.identity_of()
    later = TrackRows.concatenate([rows, walker(4, 0.0, np.arange(45, 80), score=0.8)])  # never beside the sign
    merged = cluster.build_clusters(
        record(later, sims), later, ClusterSettings(), Overrides(merge=((2, 4),)), info=INFO
    )
    assert merged.flagged == [] and merged.identity_of()[2] == merged.identity_of()[4]


def test_a_track_a_person_ignores_is_flagged_and_joins_nobody():
    frames = np.arange(40)
    rows = TrackRows.concatenate([walker(1, 0.0, frames), walker(2, 0.0, np.arange(45, 80)), walker(3, 300.0, frames)])
    sims = {(1, 2): 0.9, (1, 3): 0.2, (2, 3): 0.2}
    result = cluster.build_clusters(
        record(rows, sims), rows, ClusterSettings(), Overrides(ignore=frozenset({2})), info=INFO
    )
    assert [(f.track, f.reasons) for f in result.flagged] == [(2, ["ignored_by_person"])]
    assert sorted(result.identity_of()) == [1, 3] and result.recommendations == []
    assert result.overrides["ignore"] == [2]


def test_a_short_pause_is_not_static():
    """A person half hidden for a second (low confidence, not moving, 10 frames at 10 fps): one sign only,
    since a track shorter than nonperson_duration is never called static; the same box for 3 s is."""
    short = static(1, np.arange(10), (600, 100, 640, 220), 0.3)
    long = static(2, np.arange(20, 50), (600, 100, 640, 220), 0.3)
    rows = TrackRows.concatenate([short, long])
    summaries = spacetime.summarise(rows, np.array([1, 2]), INFO)
    reasons = spacetime.nonperson_reasons(summaries, INFO.fps, ClusterSettings())
    assert reasons == [[], ["static", "low_confidence"]]


def test_a_small_faint_walker_is_a_person():
    """Far away, a person is small and the detector unsure (two signs), but a track that walks is kept."""
    frames = np.arange(40)
    near = walker(1, 0.0, frames, score=0.8)
    far = walker(2, 300.0, frames, score=0.3)
    far.boxes[:, 3] = far.boxes[:, 1] + 40  # 40 px tall beside 120 px, walking 80 px: 2 of its heights
    rows = TrackRows.concatenate([near, far, walker(3, 500.0, frames, score=0.8)])
    summaries = spacetime.summarise(rows, np.array([1, 2, 3]), INFO)
    assert spacetime.nonperson_reasons(summaries, INFO.fps, ClusterSettings()) == [[], [], []]
