import cv2
import numpy as np
import pytest

from reidflow import crops
from reidflow.formats.base import FormatError
from reidflow.formats.crops import CropsReader
from reidflow.formats.tracks import TrackRows, Tracks, TracksMeta, VideoInfo

W, H, N_FRAMES = 320, 240, 60


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """A textured synthetic video: random noise that changes every frame."""
    path = tmp_path_factory.mktemp("video") / "synthetic.avi"
    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (W, H))
    for _ in range(N_FRAMES):
        writer.write(rng.integers(0, 256, (H, W, 3), dtype=np.uint8))
    writer.release()
    return path


@pytest.fixture(scope="module")
def first_frame(video):
    cap = cv2.VideoCapture(str(video))
    ok, frame = cap.read()
    cap.release()
    assert ok
    frame.flags.writeable = False  # shared by several tests
    return frame


def make_tracks(rows: TrackRows) -> Tracks:
    meta = TracksMeta(
        video="syn",
        source="synthetic.avi",
        info=VideoInfo(10.0, W, H, N_FRAMES),
        vid_stride=1,
        detector="yolov8n.pt",
        detector_sha256="0" * 64,
        tracker="bytetrack",
        tracker_params={},
    )
    return Tracks(rows, meta)


def walking_tracks() -> TrackRows:
    """Track 1: 60 frames in the middle; track 2: 20 frames at the left border, overlapping nothing;
    track 3: 3 frames (too short); track 4: 10 frames covering half of track 1."""
    parts = []
    f = np.arange(60)
    parts.append(TrackRows(f, np.full(60, 1), np.c_[100 + f, 50 + 0 * f, 140 + f, 150 + 0 * f], np.full(60, 0.9)))
    f2 = np.arange(20, 40)
    parts.append(TrackRows(f2, np.full(20, 2), np.tile([0, 60, 30, 140], (20, 1)), np.full(20, 0.6)))
    parts.append(TrackRows([5, 6, 7], [3, 3, 3], np.tile([200, 20, 230, 90], (3, 1)), [0.8] * 3))
    f4 = np.arange(10, 20)
    parts.append(TrackRows(f4, np.full(10, 4), np.c_[120 + f4, 50 + 0 * f4, 160 + f4, 150 + 0 * f4], np.full(10, 0.7)))
    return TrackRows.concatenate(parts)


def settings(**kw):
    return crops.CropSettings(**{"crops_per_person": 8, "min_track_frames": 5, **kw})


def test_crops_file_round_trip_and_pixels(video, tmp_path):
    rows = walking_tracks()
    out = tmp_path / "final_crops.h5"
    crops.extract_crops(video, make_tracks(rows), settings(), out, "syn")
    cap = cv2.VideoCapture(str(video))
    frames = [cap.read()[1] for _ in range(N_FRAMES)]
    cap.release()
    with CropsReader(out) as reader:
        assert reader.meta.video == "syn" and (reader.meta.crop_height, reader.meta.crop_width) == (256, 128)
        assert reader.meta.params["crops_per_person"] == 8
        assert reader.track_ids == [1, 2, 4], "tracks under min_track_frames are dropped; longest seen first"
        assert list(reader.persons["detections"]) == [60, 20, 10]
        assert list(reader.persons["crops_kept"]) == [8, 8, 8]
        for tid in reader.track_ids:
            person = reader.read(tid)
            assert person.crops.shape == (8, 256, 128, 3) and person.crops.dtype == np.uint8
            for crop, frame, box in zip(person.crops, person.frames, person.boxes):
                expected = cv2.cvtColor(
                    cv2.resize(frames[frame][int(box[1]) : int(box[3]), int(box[0]) : int(box[2])], (128, 256)),
                    cv2.COLOR_BGR2RGB,
                )
                np.testing.assert_array_equal(crop, expected)
            assert sorted(person.metrics["rank"]) == list(range(1, 9))
            order = np.argsort(person.metrics["rank"])
            assert np.all(np.diff(person.metrics["quality"][order]) <= 0), "rank 1 has the best quality"
            assert np.all((person.metrics["quality"] >= 0) & (person.metrics["quality"] <= 1))
        assert reader.read(2).metrics["truncated"].all(), "track 2 touches the left border"
        assert not reader.read(1).metrics["truncated"].any()
        occluded = reader.read(1).metrics["occlusion"]
        frames1 = reader.read(1).frames
        assert np.all(occluded[(frames1 >= 10) & (frames1 < 20)] > 0.3) and np.all(occluded[frames1 >= 20] == 0)


def test_crops_spread_over_the_whole_track():
    picked = crops.spread(200, 10)
    assert len(picked) == 10 and picked[0] == 0 and picked[-1] == 199
    assert np.diff(picked).max() <= 23
    assert list(crops.spread(4, 10)) == [0, 1, 2, 3]


def test_blurred_crop_is_less_sharp(first_frame):
    crop, sharp = crops.cut(first_frame, np.array([50, 40, 150, 200]), 256, 128, "stretch")
    assert sharp == pytest.approx(crops.sharpness(crop))
    assert crops.sharpness(cv2.GaussianBlur(crop, (9, 9), 3)) < 0.5 * crops.sharpness(crop)


def test_truncation_and_occlusion_flags():
    boxes = np.array([[0, 10, 50, 100], [100, 10, 150, 100], [200, 150, 320, 240]], dtype=np.float32)
    assert list(crops.truncated(boxes, W, H, margin=2)) == [True, False, True]
    rows = TrackRows(
        [0, 0, 0, 1],
        [1, 2, 3, 1],
        [[0, 0, 100, 100], [50, 0, 150, 100], [300, 200, 310, 220], [0, 0, 100, 100]],
        [1] * 4,
    )
    np.testing.assert_allclose(crops.occlusion(rows), [0.5, 0.5, 0.0, 0.0])
    np.testing.assert_allclose(
        crops.occlusion(rows, of=np.array([3, 1])), [0.0, 0.5], err_msg="only the rows asked for"
    )


def test_ranks_are_a_permutation_by_quality():
    q = np.array([0.2, 0.9, 0.5, 0.9])
    assert list(crops.ranks(q, np.array([0, 1, 2, 3]))) == [4, 1, 3, 2]


def test_pad_mode_keeps_aspect(first_frame):
    crop, _ = crops.cut(first_frame, np.array([0, 0, 100, 100]), 256, 128, "pad")
    assert crop.shape == (256, 128, 3)
    assert crop[:60].max() == 0 and crop[-60:].max() == 0 and crop[128].max() > 0


def test_empty_tracks_give_a_valid_empty_file(video, tmp_path):
    out = tmp_path / "final_crops.h5"
    crops.extract_crops(video, make_tracks(TrackRows.empty()), settings(), out, "syn")
    with CropsReader(out) as reader:
        assert reader.track_ids == [] and len(reader.persons) == 0


def test_no_crops_per_person_is_refused(video, tmp_path):
    with pytest.raises(crops.CropsError, match="crops_per_person"):
        crops.extract_crops(
            video, make_tracks(walking_tracks()), settings(crops_per_person=0), tmp_path / "c.h5", "syn"
        )


def test_tracks_of_another_video_fail_clearly(video, tmp_path):
    rows = TrackRows(np.arange(55, 75), np.full(20, 1), np.tile([10, 10, 50, 100], (20, 1)), np.full(20, 0.9))
    out = tmp_path / "final_crops.h5"
    with pytest.raises(crops.CropsError, match="up to frame 74"):
        crops.extract_crops(video, make_tracks(rows), settings(), out, "syn")
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_reader_rejects_other_files(tmp_path):
    bad = tmp_path / "final_crops.h5"
    bad.write_text("nope")
    with pytest.raises(FormatError, match=str(bad)):
        CropsReader(bad)


def test_cut_clips_fractional_boxes_to_the_frame(first_frame):
    frame = first_frame
    crop, _ = crops.cut(frame, np.array([-5.5, 10.2, 40.3, H + 9.0], dtype=np.float32), 256, 128, "stretch")
    expected = cv2.cvtColor(cv2.resize(frame[10:H, 0:41], (128, 256)), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(crop, expected)


def test_sharpness_is_the_variance_of_the_laplacian(first_frame):
    crop, _ = crops.cut(first_frame, np.array([50, 40, 150, 200]), 256, 128, "stretch")
    laplacian = cv2.Laplacian(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), cv2.CV_64F)
    assert crops.sharpness(crop) == pytest.approx(laplacian.var(), rel=1e-12)
