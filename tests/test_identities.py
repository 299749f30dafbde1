"""Stage identities (reidflow.identities): identities' short gaps filled with interpolated boxes, written
apart from the detections in identities.npz, delivered in identities.txt and scored by evaluate."""

import numpy as np
import pytest
from helpers_identities import walker

from reidflow import evaluate
from reidflow.formats.base import FormatError
from reidflow.formats.clusters import Clusters, Identity
from reidflow.formats.identities import read_identities, write_identities
from reidflow.formats.mot import read_mot
from reidflow.formats.tracks import TrackRows, Tracks, TracksMeta, VideoInfo, save_rows
from reidflow.identities import gap_boxes, label_detections
from reidflow.settings import IdentitiesSettings

INFO = VideoInfo(fps=10.0, width=768, height=576, frame_count=80)
META = TracksMeta("v", "v.avi", INFO, 1, "yolov8n.pt", "0" * 64, "bytetrack")


def clusters_of(groups):
    identities = [Identity(k, members, members[0], 0, None) for k, members in enumerate(groups, start=1)]
    return Clusters("v", {}, {"merge": [], "split": []}, identities, [], [])


def filling(fill_gaps: int, fill_hidden: int = 0) -> IdentitiesSettings:
    return IdentitiesSettings(fill_gaps=fill_gaps, fill_hidden=fill_hidden)


def test_a_short_gap_is_filled_by_linear_interpolation_and_a_long_one_is_not():
    person = walker(1, 0.0, np.r_[0:10, 15:25, 40:50])  # gaps of 5 (frames 10-14) and 15 (25-39) frames
    filled = gap_boxes(person, filling(10), INFO)
    assert filled.frames.tolist() == list(range(10, 15))
    # walker moves 2 px a frame: the interpolated boxes are where the person was
    np.testing.assert_allclose(filled.boxes, walker(1, 0.0, np.arange(10, 15)).boxes, atol=1e-4)
    assert (filled.track_ids == 1).all() and (filled.scores == 0).all()
    assert len(gap_boxes(person, filling(4), INFO)) == 0 and len(gap_boxes(person, filling(0), INFO)) == 0
    assert gap_boxes(person, filling(15), INFO).frames.tolist() == [*range(10, 15), *range(25, 40)]


def test_a_long_gap_inside_the_frame_is_filled_and_one_at_its_border_is_not():
    """Hidden behind something in the middle of the view, the person is still there; gone at the border,
    they may have walked away."""
    hidden = walker(1, 300.0, np.r_[0:20, 60:80])  # x 340-380 at frame 20: far from the edges
    assert gap_boxes(hidden, filling(10, 50), INFO).frames.tolist() == list(range(20, 60))
    assert len(gap_boxes(hidden, filling(10, 30), INFO)) == 0, "longer than fill_hidden"
    at_border = walker(1, 660.0, np.r_[0:20, 60:80])  # its box reaches x = 768 (the right edge) by frame 34
    left, back = at_border.boxes[19], at_border.boxes[20]
    assert left[2] < INFO.width - 15 and back[2] >= INFO.width, "the test needs a box at the border"
    assert len(gap_boxes(at_border, filling(10, 50), INFO)) == 0
    # and the other way round: the box before the gap at the left edge, the one after inside
    from_border = walker(1, -40.0, np.r_[0:20, 60:80])  # x1 = -2 at frame 19, 80 at frame 60
    assert from_border.boxes[19][0] <= 0 < from_border.boxes[20][0] - 15
    assert len(gap_boxes(from_border, filling(10, 50), INFO)) == 0


def test_gaps_are_filled_within_an_identity_only_and_on_processed_frames():
    # 1 ends at 10 and 2 begins at 14: different identities, nothing between them
    rows = TrackRows.concatenate([walker(1, 0.0, np.arange(0, 11)), walker(2, 30.0, np.arange(14, 30))])
    assert len(gap_boxes(rows, filling(10, 50), INFO)) == 0
    # vid_stride 2: frames 0, 2, 4 ... were processed; a gap of two processed frames (6, 8) is filled there
    strided = walker(1, 0.0, np.r_[0:6:2, 10:20:2])
    assert gap_boxes(strided, filling(2), INFO, stride=2).frames.tolist() == [6, 8]
    assert len(gap_boxes(strided, filling(1), INFO, stride=2)) == 0


def test_filled_boxes_travel_apart_in_identities_npz_and_with_confidence_0_in_identities_txt(tmp_path):
    # tracks 1 and 2 are one identity with 6 frames between them; 3 is alone
    rows = TrackRows.concatenate(
        [walker(1, 0.0, np.arange(0, 20)), walker(2, 0.0, np.arange(26, 40)), walker(3, 400.0, np.arange(40))]
    )
    tracks = Tracks(rows, META)
    record = label_detections(tracks, clusters_of([[1, 2], [3]]), 5, filling(10))
    assert record.filled.frames.tolist() == list(range(20, 26)) and (record.filled.track_ids == 1).all()
    write_identities(tmp_path / "i.npz", tmp_path / "i.txt", record)
    back = read_identities(tmp_path / "i.npz")
    assert len(back.rows) == len(rows), "identities.npz rows stay the tracker's detections"
    np.testing.assert_array_equal(back.filled.frames, record.filled.frames)
    np.testing.assert_allclose(back.filled.boxes, record.filled.boxes)
    txt = read_mot(tmp_path / "i.txt")
    assert len(txt) == len(rows) + 6
    assert sorted(txt.frames[txt.scores == 0].tolist()) == list(range(20, 26))
    none = label_detections(tracks, clusters_of([[1, 2], [3]]), 5, filling(0))
    assert len(none.filled) == 0


def test_an_identities_file_of_another_format_version_names_it(tmp_path):
    old = tmp_path / "identities.npz"
    save_rows(old, walker(1, 0.0), {"format_version": 1, "video": "v", "unassigned": []}, identity_ids=np.ones(40))
    with pytest.raises(FormatError, match="format version 1, this reidflow reads 2.*delete it"):
        read_identities(old)


def test_evaluate_scores_the_filled_boxes_as_delivered():
    """The person is there in every frame; the tracker missed frames 15-22: filled, they are found."""
    gt = walker(7, 0.0, np.arange(40))
    hyp = walker(1, 0.0, np.r_[0:15, 23:40])
    clusters = clusters_of([[1]])
    filled = label_detections(Tracks(hyp, META), clusters, 5, filling(10)).filled
    assert filled.frames.tolist() == list(range(15, 23))
    plain = evaluate.evaluate_identities("v", gt, hyp, clusters).merged
    scored = evaluate.evaluate_identities("v", gt, hyp, clusters, filled=filled).merged
    assert plain["recall"] == pytest.approx(32 / 40)
    assert scored["recall"] == pytest.approx(1.0) and scored["precision"] == pytest.approx(1.0)
    assert scored["idf1"] > plain["idf1"]
