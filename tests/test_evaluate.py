"""Stage ``evaluate``: raw tracks and identities against generated and real MOTChallenge ground truth, per
trajectory and per person; HOTA checked against TrackEval itself; pair scores on hand-computed cases."""

import numpy as np
import pytest
from conftest import SHARED, missing
from helpers_identities import walker

from reidflow import evaluate
from reidflow.evaluate import EvaluateError
from reidflow.formats.base import FormatError
from reidflow.formats.clusters import Clusters, Identity
from reidflow.formats.evaluation import read_evaluation, write_evaluation
from reidflow.formats.mot import read_mot, write_mot
from reidflow.formats.persons import read_persons
from reidflow.formats.tracks import TrackRows

FRAMES = np.arange(40)  # walker's default


def clusters_of(groups):
    identities = [Identity(k, members, members[0], 0, None) for k, members in enumerate(groups, start=1)]
    return Clusters("v", {}, {"merge": [], "split": []}, identities, [], [])


@pytest.fixture
def ground_truth(tmp_path):
    """Two people over frames 0-39, written as MOTChallenge (1-based) and read back (0-based)."""
    path = tmp_path / "gt.txt"
    write_mot(path, TrackRows.concatenate([walker(1, 0.0), walker(2, 400.0)]))
    assert path.read_text().startswith("1,")  # video frame 0 is MOTChallenge frame 1
    return path


def test_merging_a_split_person_raises_idf1(ground_truth, tmp_path):
    # person 1 is tracked as 10 then 11 (a fragment); person 2 as 12; track 13 lives after the ground truth ends
    split_ids = np.where(FRAMES < 20, 10, 11)
    after = walker(13, 100.0, np.arange(50, 60))
    hyp = TrackRows.concatenate([walker(split_ids, 0.0), walker(12, 400.0), after])
    record = evaluate.evaluate_identities(
        "v",
        read_mot(ground_truth),
        hyp,
        clusters_of([[10, 11], [12], [13]]),
        evaluate.EvaluateSettings(iou_threshold=0.5),
        str(ground_truth),
    )
    write_evaluation(tmp_path / "e.json", record)
    back = read_evaluation(tmp_path / "e.json")
    assert back == record and back.frames == 40 and back.ground_truth == str(ground_truth)
    raw, merged = back.raw, back.merged
    assert raw["idf1"] == pytest.approx(0.75)  # 60 of 80 boxes keep their best id
    assert merged["idf1"] == pytest.approx(1.0) and merged["idf1"] > raw["idf1"]
    assert (raw["id_switches"], merged["id_switches"]) == (1, 0)
    assert (raw["num_ids"], merged["num_ids"]) == (3, 2)  # ids seen on the evaluated frames
    assert raw["mota"] == pytest.approx(1 - 1 / 80) and merged["mota"] == pytest.approx(1.0)
    assert raw["precision"] == pytest.approx(1.0), "track 13 lives outside the ground truth's frames"


def test_identities_are_scored_on_their_own_detections(ground_truth):
    """A false track (14, where nobody is) in no identity, e.g. flagged as not a person: a false positive
    of the raw tracks, not of the identities, which do not claim it."""
    hyp = TrackRows.concatenate([walker(10, 0.0), walker(12, 400.0), walker(14, 200.0)])
    record = evaluate.evaluate_identities("v", read_mot(ground_truth), hyp, clusters_of([[10], [12]]))
    assert record.raw["precision"] == pytest.approx(80 / 120) and record.raw["num_ids"] == 3
    assert record.merged["precision"] == pytest.approx(1.0) and record.merged["num_ids"] == 2
    assert record.merged["idf1"] == pytest.approx(1.0) and record.raw["idf1"] < 0.9


def test_wrong_merge_lowers_idf1(ground_truth):
    hyp = TrackRows.concatenate([walker(10, 0.0), walker(12, 400.0)])
    gt = read_mot(ground_truth)
    record = evaluate.evaluate_identities("v", gt, hyp, clusters_of([[10, 12]]))
    assert record.raw["idf1"] == pytest.approx(1.0) and record.merged["idf1"] < 0.9


def test_frames_without_any_ground_truth_box_inside_its_span_count(tmp_path):
    gt = walker(1, 0.0, np.r_[0:10, 20:30])  # nobody annotated in frames 10-19
    hyp = walker(5, 0.0, np.arange(30))
    record = evaluate.evaluate_identities("v", gt, hyp, clusters_of([[5]]))
    assert record.frames == 30 and record.raw["precision"] == pytest.approx(20 / 30)


def test_only_frames_the_tracker_processed_count(ground_truth):
    """With vid_stride 2 the tracker saw frames 0, 2, 4, ...; decoding ended after frame 29 (of gt's 0-39)."""
    seen = FRAMES[(FRAMES % 2 == 0) & (FRAMES < 30)]
    hyp = TrackRows.concatenate([walker(10, 0.0, seen), walker(12, 400.0, seen)])
    gt = read_mot(ground_truth)
    record = evaluate.evaluate_identities("v", gt, hyp, clusters_of([[10], [12]]), vid_stride=2, frame_count=30)
    assert record.frames == 15
    assert record.raw["recall"] == pytest.approx(1.0) and record.raw["mota"] == pytest.approx(1.0)
    # the same tracks scored on every frame: the unprocessed ones would be misses
    assert evaluate.evaluate_identities("v", gt, hyp, clusters_of([[10], [12]])).raw["recall"] == pytest.approx(15 / 40)


def test_ignored_ground_truth_rows_do_not_widen_the_span():
    annotated = walker(1, 0.0, np.arange(20))
    ignored = TrackRows([35], [9], [[0, 0, 10, 10]], [0.0])  # confidence 0: MOTChallenge's "ignore"
    hyp = walker(5, 0.0, np.arange(40))
    record = evaluate.evaluate_identities("v", TrackRows.concatenate([annotated, ignored]), hyp, clusters_of([[5]]))
    assert record.frames == 20 and record.raw["precision"] == pytest.approx(1.0)
    with pytest.raises(EvaluateError, match="gt.txt: the ground truth has no rows"):
        evaluate.evaluate_identities("v", ignored, hyp, clusters_of([[5]]), ground_truth="gt.txt")


def test_ground_truth_outside_the_processed_frames_is_an_error():
    gt = walker(1, 0.0, np.arange(50, 60))
    with pytest.raises(
        EvaluateError, match=r"gt.txt: the ground truth spans MOTChallenge frames 51-60, but the tracker processed none"
    ):
        evaluate.evaluate_identities("v", gt, walker(5, 0.0), clusters_of([[5]]), ground_truth="gt.txt", frame_count=50)
    assert evaluate.processed_frames(3, 12, vid_stride=4, frame_count=12).tolist() == [4, 8]


def test_no_tracks_at_all(ground_truth, tmp_path):
    record = evaluate.evaluate_identities("v", read_mot(ground_truth), TrackRows.empty(), clusters_of([]))
    assert record.raw["idf1"] == 0 and record.raw["recall"] == 0 and record.raw["num_ids"] == 0
    assert record.raw["precision"] is None  # undefined without boxes; JSON has no NaN
    write_evaluation(tmp_path / "e.json", record)
    assert read_evaluation(tmp_path / "e.json") == record


def test_empty_ground_truth_is_an_error():
    with pytest.raises(EvaluateError, match="gt.txt: the ground truth has no rows"):
        evaluate.evaluate_identities("v", TrackRows.empty(), walker(1, 0.0), clusters_of([[1]]), ground_truth="gt.txt")


def test_relabel():
    rows = TrackRows(
        [0, 0, 1, 1, 2],
        [7, 8, 7, 9, 4],
        np.arange(20).reshape(5, 4),
        [0.9, 0.5, 0.4, 0.8, 0.7],
    )
    out = evaluate.relabel(rows, {7: 1, 8: 1})
    # 7 and 8 share frame 0 as identity 1: the better box stays; 9 and 4 have no identity: labels of their own
    assert list(zip(out.frames, out.track_ids, out.scores.round(1))) == [
        (0, 1, 0.9),
        (1, 1, 0.4),
        (1, 3, 0.8),
        (2, 2, 0.7),
    ]
    assert len(evaluate.relabel(TrackRows.empty(), {})) == 0


def test_iou_distances_equal_motmetrics_iou_matrix(monkeypatch):
    """The IoU matching is motmetrics' own, on xyxy boxes and without NumPy's removed np.asfarray."""
    import motmetrics

    monkeypatch.setattr(np, "asfarray", lambda a, dtype=np.float64: np.asarray(a, dtype=dtype), raising=False)
    rng = np.random.default_rng(3)
    corner = rng.uniform(0, 100, (2, 30, 2)).astype(np.float32)
    size = rng.uniform(0, 40, (2, 30, 2)).astype(np.float32)
    size[0, :3] = 0  # boxes without area
    gt, hyp = np.concatenate([corner, corner + size], axis=-1)
    hyp[5:10] = gt[5:10]  # identical boxes: distance 0
    for threshold in (0.1, 0.5, 0.9):

        def xywh(boxes):  # as evaluate converted them before: in float64
            boxes = boxes.astype(np.float64)
            return np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)

        expected = motmetrics.distances.iou_matrix(xywh(gt), xywh(hyp), max_iou=1 - threshold)
        got = evaluate.iou_distances(gt, hyp, threshold)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
        assert np.isfinite(got).sum() > 0
    assert evaluate.iou_distances(gt[:0], hyp, 0.5).shape == (0, 0)
    assert evaluate.iou_distances(gt, hyp[:0], 0.5).shape == (0, 0)


# --- HOTA: hand-computed cases and TrackEval itself --------------------------------------------------------


def box_rows(frames, ids, boxes):
    frames = np.asarray(frames)
    return TrackRows(
        frames, np.broadcast_to(ids, frames.shape), np.broadcast_to(boxes, (len(frames), 4)), np.ones(len(frames))
    )


def test_hota_hand_computed():
    gt = box_rows(range(4), 1, [0, 0, 100, 100])
    assert evaluate.hota_scores(gt, gt) == evaluate.HotaScores(1.0, 1.0, 1.0)
    assert evaluate.hota_scores(gt, TrackRows.empty()) == evaluate.HotaScores(0.0, 0.0, 0.0)
    # one person tracked as 1 (frames 0-1) then 2 (frames 2-3): every box detected (DetA 1), each true
    # positive's id pair shares 2 of 4 + 2 - 2 boxes (AssA 1/2), HOTA sqrt(1/2) at every alpha
    hyp = TrackRows.concatenate([box_rows([0, 1], 1, [0, 0, 100, 100]), box_rows([2, 3], 2, [0, 0, 100, 100])])
    got = evaluate.hota_scores(gt, hyp)
    assert (got.deta, got.assa, got.hota) == pytest.approx((1.0, 0.5, np.sqrt(0.5)), abs=1e-12)
    # IoU 0.62 in every frame: a match for the 12 alphas 0.05..0.60, none for 0.65..0.95
    low = box_rows(range(4), 7, [0, 0, 100, 62])
    got = evaluate.hota_scores(gt, low)
    assert (got.deta, got.assa, got.hota) == pytest.approx((12 / 19, 12 / 19, 12 / 19), abs=1e-12)
    # a false positive in a frame without ground truth (frame 9 is not scored unless asked for)
    extra = TrackRows.concatenate([gt, box_rows([9], 5, [0, 0, 10, 10])])
    assert evaluate.hota_scores(gt, extra).hota == pytest.approx(1.0)
    got = evaluate.hota_scores(gt, extra, np.arange(10))
    assert got.deta == pytest.approx(4 / 5) and got.assa == pytest.approx(1.0)


def quarter_pixels(rows: TrackRows) -> TrackRows:
    """Boxes on a 1/4-pixel grid: exact in float32 and in the 2-decimal MOTChallenge text TrackEval reads,
    so both sides score the very same boxes."""
    return TrackRows(rows.frames, rows.track_ids, np.round(rows.boxes * 4) / 4, rows.scores)


def noisy_tracker(gt: TrackRows, seed: int = 0, split_at: int = 150) -> TrackRows:
    """A plausible tracker output from ground truth: jittered boxes, 10 % misses, fragments and swaps of
    ids after frame ``split_at``, and 60 false positives."""
    rng = np.random.default_rng(seed)
    keep = rng.random(len(gt)) > 0.1
    boxes = gt.boxes + rng.normal(0, 6, gt.boxes.shape)
    boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
    ids = gt.track_ids * 10 + (gt.frames > split_at) * (gt.track_ids % 3)
    last = int(gt.frames.max())
    corner = rng.uniform(0, 500, (60, 2))
    fp = TrackRows(rng.integers(0, last + 1, 60), 900 + np.arange(60), np.c_[corner, corner + 40], np.ones(60))
    hyp = TrackRows(gt.frames[keep], ids[keep], boxes[keep], np.ones(int(keep.sum())))
    return quarter_pixels(TrackRows.concatenate([hyp, fp]))


def trackeval_scores(folder, gt: TrackRows, hyp: TrackRows, frames: int) -> dict:
    """TrackEval's own evaluation (its MOTChallenge reader, MOT15 rules) of ``hyp`` against ``gt`` written
    as MOTChallenge files: {"HOTA": ..., "CLEAR": ..., "Identity": ...} of the one sequence."""
    import trackeval  # a pinned test dependency: missing, the test fails (never a silent skip)

    seq = "SEQ-01"
    sequence = folder / "gt" / "MOT15-train" / seq
    (sequence / "gt").mkdir(parents=True)
    write_mot(sequence / "gt" / "gt.txt", gt)
    (sequence / "seqinfo.ini").write_text(f"[Sequence]\nname={seq}\nseqLength={frames}\n")
    (folder / "seqmap.txt").write_text(f"name\n{seq}\n")
    (folder / "trackers" / "MOT15-train" / "mine" / "data").mkdir(parents=True)
    write_mot(folder / "trackers" / "MOT15-train" / "mine" / "data" / f"{seq}.txt", hyp)
    dataset = trackeval.datasets.MotChallenge2DBox(
        {
            "GT_FOLDER": str(folder / "gt"),
            "TRACKERS_FOLDER": str(folder / "trackers"),
            "OUTPUT_FOLDER": str(folder / "out"),
            "BENCHMARK": "MOT15",  # MOT15 rules: drop confidence-0 ground truth, nothing else (as reidflow)
            "SPLIT_TO_EVAL": "train",
            "SEQMAP_FILE": str(folder / "seqmap.txt"),
            "TRACKERS_TO_EVAL": ["mine"],
            "PRINT_CONFIG": False,
        }
    )
    quiet = {"PRINT_RESULTS": False, "PRINT_CONFIG": False, "OUTPUT_SUMMARY": False, "OUTPUT_DETAILED": False}
    evaluator = trackeval.Evaluator(
        {**quiet, "USE_PARALLEL": False, "PLOT_CURVES": False, "TIME_PROGRESS": False, "BREAK_ON_ERROR": True}
    )
    metrics = [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR(), trackeval.metrics.Identity()]
    results, messages = evaluator.evaluate([dataset], metrics)
    assert messages == {"MotChallenge2DBox": {"mine": "Success"}}, messages
    return results["MotChallenge2DBox"]["mine"][seq]["pedestrian"]


@pytest.fixture(scope="module")
def pets_gt():
    """The real PETS09-S2L1 ground truth, frames 1-400, and its persons file (B and G re-enter)."""
    folder = SHARED / "data" / "pets09-s2l1"
    if not (folder / "persons_frames1-400.csv").is_file():
        missing(f"{folder}/gt_frames1-400.txt and persons_frames1-400.csv are only in ../shared")
    return quarter_pixels(read_mot(folder / "gt_frames1-400.txt")), read_persons(folder / "persons_frames1-400.csv")


@pytest.mark.parametrize("per_person", [False, True], ids=["per trajectory", "per person"])
def test_scores_equal_trackeval(tmp_path, pets_gt, per_person):
    """HOTA, DetA and AssA equal TrackEval's to the last bit (same boxes, same Hungarian matching); MOTA,
    IDF1 and ID switches (motmetrics) agree with TrackEval's CLEAR and Identity metrics too."""
    gt, persons = pets_gt
    hyp = noisy_tracker(gt)
    truth = evaluate.person_ground_truth(gt, persons) if per_person else gt
    frames = np.arange(400)  # the sequence TrackEval scores: MOTChallenge frames 1-400
    ours = evaluate.mot_scores(truth, hyp, 0.5, frames)
    theirs = trackeval_scores(tmp_path, truth, hyp, 400)
    hota = theirs["HOTA"]
    assert (ours.hota, ours.deta, ours.assa) == (
        float(hota["HOTA"].mean()),
        float(hota["DetA"].mean()),
        float(hota["AssA"].mean()),
    )
    assert 0.3 < ours.hota < 0.8, "a noisy tracker: neither perfect nor useless"
    assert ours.mota == pytest.approx(theirs["CLEAR"]["MOTA"], abs=1e-12)
    assert ours.idf1 == pytest.approx(theirs["Identity"]["IDF1"], abs=1e-12)
    assert ours.id_switches == theirs["CLEAR"]["IDSW"]


def test_person_scoring_forgives_re_entries(pets_gt):
    """A tracker that gives each person one id across re-entries: perfect per person, penalised per
    trajectory (MOTChallenge gives the re-entries of B and G new ids)."""
    gt, persons = pets_gt
    people = evaluate.person_ground_truth(gt, persons)
    assert len(np.unique(gt.track_ids)) == 10 and len(np.unique(people.track_ids)) == 8
    hyp = TrackRows(people.frames, people.track_ids + 100, people.boxes, people.scores)
    frames = np.unique(gt.frames)
    per_person = evaluate.mot_scores(people, hyp, 0.5, frames)
    per_trajectory = evaluate.mot_scores(gt, hyp, 0.5, frames)
    assert (per_person.hota, per_person.idf1, per_person.mota) == pytest.approx((1.0, 1.0, 1.0))
    assert per_trajectory.idf1 < 1 and per_trajectory.hota < 1 and per_trajectory.mota == pytest.approx(1.0)


# --- persons: relabelling, pair scores ----------------------------------------------------------------------


def test_person_ground_truth_hand_computed():
    gt = TrackRows(
        [0, 0, 1, 5, 6, 7],
        [19, 9, 19, 1, 1, 4],
        np.arange(24).reshape(6, 4),
        [1, 1, 1, 1, 1, 0],  # id 4 only as confidence 0: ignored, needs no person
    )
    out = evaluate.person_ground_truth(gt, {19: "B", 1: "B", 9: "A"})
    # persons numbered in name order: A 1, B 2; the confidence-0 row is gone
    assert out.track_ids.tolist() == [2, 1, 2, 2, 2] and out.frames.tolist() == [0, 0, 1, 5, 6]
    with pytest.raises(EvaluateError, match=r"p.csv: the persons file has no row for ground-truth id\(s\) 1, 9"):
        evaluate.person_ground_truth(gt, {19: "B"}, "p.csv")
    with pytest.raises(
        EvaluateError, match=r"ids 9, 19 are both person 'B' but appear together in MOTChallenge frame 1"
    ):
        evaluate.person_ground_truth(gt, {19: "B", 1: "B", 9: "B"})


def test_pair_scores_hand_computed():
    """Five tracks, all matched: 1, 2 show trajectory 10; 3 shows 11; 4, 5 show 12 (12 is person P, like 10).

    Identities {1, 2, 3}, {4}, {5}: predicted pairs 1-2, 1-3, 2-3. Per trajectory the actual pairs are 1-2
    and 4-5: precision 1/3, recall 1/2. Per person (10 and 12 are P) 1-2, 1-4, 1-5, 2-4, 2-5, 4-5: precision
    1/3, recall 1/6.
    """
    gt = TrackRows.concatenate(
        [walker(10, 0.0, np.arange(10)), walker(11, 400.0, np.arange(10)), walker(12, 0.0, np.arange(20, 30))]
    )
    rows = TrackRows.concatenate(
        [
            walker(1, 0.0, np.arange(5)),
            walker(2, 0.0, np.arange(5, 10)),
            walker(3, 400.0, np.arange(10)),
            walker(4, 0.0, np.arange(20, 25)),
            walker(5, 0.0, np.arange(25, 30)),
            walker(6, 900.0, np.arange(10)),  # matches nobody: left out
        ]
    )
    identity_of = {1: 1, 2: 1, 3: 1, 4: 2, 5: 3}
    frames = np.arange(30)
    got = evaluate.pair_scores(gt, rows, identity_of, None, 0.5, frames)
    assert got == evaluate.PairScores(1 / 3, 1 / 2, 1, 3, 2, 5, 1)
    got = evaluate.pair_scores(gt, rows, identity_of, {10: "P", 11: "Q", 12: "P"}, 0.5, frames)
    assert got == evaluate.PairScores(1 / 3, 1 / 6, 1, 3, 6, 5, 1)
    # no identity joins anything: precision undefined, recall 0
    alone = evaluate.pair_scores(gt, rows, {}, None, 0.5, frames)
    assert (alone.precision, alone.recall, alone.predicted) == (None, 0.0, 0)


def test_a_track_takes_the_ground_truth_it_matches_most():
    # track 1 covers trajectory 10 for 6 frames, then sits on 11 for 4: it is 10's
    gt = TrackRows.concatenate([walker(10, 0.0, np.arange(10)), walker(11, 400.0, np.arange(10))])
    rows = TrackRows.concatenate([walker(1, 0.0, np.arange(6)), walker(1, 400.0, np.arange(6, 10))])
    hyp, truth = evaluate.matched_ids(gt, rows, 0.5)
    assert evaluate.majority(hyp.tolist(), truth.tolist()) == {1: 10}
    assert evaluate.majority([1, 1, 2, 2], ["b", "a", "x", "x"]) == {1: "a", 2: "x"}, "a tie: the smaller label"


def test_cross_video_links_hand_computed():
    """Identities a:1 (B), a:2 (A), b:1 (B), b:2 (B), b:3 (A); people: {a:1, b:1}, {a:2, b:2}, {b:3}.
    Cross-video pairs that are one person: a:1-b:1, a:1-b:2, a:2-b:3; predicted: a:1-b:1, a:2-b:2
    (b:1-b:2 are one person but of one video: not a cross-video link). precision 1/2, recall 1/3."""
    labels = {"a:1": "B", "a:2": "A", "b:1": "B", "b:2": "B", "b:3": "A"}
    person_of = {"a:1": 1, "b:1": 1, "a:2": 2, "b:2": 2, "b:3": 3, "b:4": 4}  # b:4 has no label
    assert evaluate.cross_video_links(person_of, labels) == evaluate.PairScores(1 / 2, 1 / 3, 1, 2, 3, 5, 1)
    with pytest.raises(EvaluateError, match="identities c:1 are not in people.json"):
        evaluate.cross_video_links(person_of, {**labels, "c:1": "A"})


def test_evaluation_with_persons_round_trips(tmp_path):
    """Person 1 leaves after frame 19 and re-enters as gt id 3 (MOTChallenge's new id); the tracker follows
    them as 10 then 11, and the identities join 10 and 11: wrong per trajectory, right per person."""
    gt = TrackRows.concatenate([walker(1, 0.0, np.arange(20)), walker(3, 0.0, np.arange(25, 40)), walker(2, 400.0)])
    hyp = TrackRows.concatenate([walker(10, 0.0, np.arange(20)), walker(11, 0.0, np.arange(25, 40)), walker(12, 400.0)])
    record = evaluate.evaluate_identities(
        "v",
        gt,
        hyp,
        clusters_of([[10, 11], [12]]),
        persons={1: "A", 3: "A", 2: "B"},
        persons_file="p.csv",
    )
    assert record.persons == "p.csv"
    assert record.merged_persons["idf1"] == pytest.approx(1.0) and record.merged_persons["hota"] == pytest.approx(1.0)
    assert record.merged["idf1"] < 1 and record.raw["idf1"] == pytest.approx(1.0)
    assert record.raw_persons["idf1"] < 1
    assert (record.pairs["precision"], record.pairs["recall"]) == (0.0, None)
    assert (record.pairs_persons["precision"], record.pairs_persons["recall"]) == (1.0, 1.0)
    assert set(record.raw) == {"mota", "idf1", "hota", "deta", "assa", "id_switches", "num_ids", "precision", "recall"}
    write_evaluation(tmp_path / "e.json", record)
    assert read_evaluation(tmp_path / "e.json") == record
    without = evaluate.evaluate_identities("v", gt, hyp, clusters_of([[10, 11], [12]]))
    assert without.persons is None and without.raw_persons is None and without.pairs_persons is None


def test_old_evaluation_files_are_refused(tmp_path):
    old = tmp_path / "evaluation.json"
    old.write_text('{"format_version": 1, "video": "v"}')
    with pytest.raises(FormatError, match="format version 1, this reidflow reads version 2; delete it and run"):
        read_evaluation(old)


def test_evaluation_of_the_124_frame_clip(vtest_gt):
    """The real 124-frame ground truth against a tracker built from it: every score defined and sane."""
    gt = quarter_pixels(read_mot(vtest_gt))
    hyp = noisy_tracker(gt, seed=1, split_at=60)
    ids = np.unique(hyp.track_ids)
    # identities that join each trajectory's fragments again (10 t, 10 t + k): IDF1 rises
    record = evaluate.evaluate_identities("clip", gt, hyp, clusters_of([[t] for t in ids if t < 900]))
    joined = clusters_of([[t for t in ids if t // 10 == g] for g in np.unique(ids[ids < 900] // 10)])
    merged = evaluate.evaluate_identities("clip", gt, hyp, joined)
    assert record.frames == 124
    assert merged.merged["idf1"] > record.merged["idf1"] and merged.merged["hota"] > record.merged["hota"]
    assert merged.pairs["precision"] == 1.0 and merged.pairs["recall"] == 1.0


def test_the_video_page_says_which_scoring_each_figure_uses():
    """evaluation.json with persons: two tables on the video page, each named by its scoring, with HOTA and
    the pair decisions; without persons only the per-trajectory one."""
    from dataclasses import replace

    from test_report import TRACKS, make_records

    from reidflow.report.metrics import PER_PERSON, PER_TRAJECTORY, evaluation_tables
    from reidflow.report.video import TrackCard, render_video, video_context

    gt = TrackRows.concatenate([walker(1, 0.0, np.arange(20)), walker(3, 0.0, np.arange(25, 40)), walker(2, 400.0)])
    hyp = TrackRows.concatenate([walker(10, 0.0, np.arange(20)), walker(11, 0.0, np.arange(25, 40)), walker(12, 400.0)])
    record = evaluate.evaluate_identities(
        "syn",
        gt,
        hyp,
        clusters_of([[10, 11], [12]]),
        persons={1: "A", 3: "A", 2: "B"},
        persons_file="p.csv",
    )
    tables = evaluation_tables(record)
    assert [t.scoring for t in tables] == [PER_TRAJECTORY, PER_PERSON]
    assert {r.label: r.merged for r in tables[1].rows}["HOTA"] == "100.0 %"
    assert tables[1].pairs.startswith("Track pairs joined in one identity: precision 100.0 % (1 of 1 joined pairs")
    assert "precision 0.0 %" in tables[0].pairs and "recall –" in tables[0].pairs

    records = replace(make_records(), evaluation=record)
    cards = {t: TrackCard(t, 0, 1, 2, k, 0.5, 48, 96) for t, (_, k) in TRACKS.items()}
    html = render_video(video_context(records, cards, {}))
    section = html[html.index('<section id="evaluation"') : html.index('<section id="settings"')]
    assert section.count("<table") == 2 and 'data-scoring="person"' in section
    assert f"Scored {PER_TRAJECTORY}" in section and f"Scored {PER_PERSON}" in section
    assert "joined by p.csv" in section and "HOTA" in section
    alone = evaluate.evaluate_identities("syn", gt, hyp, clusters_of([[10, 11], [12]]))
    assert [t.scoring for t in evaluation_tables(alone)] == [PER_TRAJECTORY]
