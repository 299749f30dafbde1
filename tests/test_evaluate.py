"""Stage ``evaluate``: raw tracks and identities against generated MOTChallenge ground truth."""

import numpy as np
import pytest
from helpers_identities import walker

from reidflow import evaluate
from reidflow.evaluate import EvaluateError
from reidflow.formats.clusters import Clusters, Identity
from reidflow.formats.evaluation import read_evaluation, write_evaluation
from reidflow.formats.mot import read_mot, write_mot
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
