import cv2
import numpy as np
import pytest
from conftest import iou

from reidflow import track
from reidflow.formats.tracks import TrackRows
from reidflow.settings import ConfigError

pytestmark = pytest.mark.slow


def test_letterbox_matches_ultralytics_rect_shapes():
    # 768x576 (vtest) scales to exactly 640x480: no padding
    assert track.letterbox_geometry(576, 768, 640) == (pytest.approx(640 / 768), 640, 480, 0, 0)
    # 1920x1080 scales to 640x360, padded to 384 rows: 12 on top
    gain, w, h, left, top = track.letterbox_geometry(1080, 1920, 640)
    assert (w, h, left, top) == (640, 360, 0, 12)


def test_tracker_params_merge_ultralytics_defaults():
    params = track.tracker_params("bytetrack", {"track_buffer": 60})
    assert params["track_buffer"] == 60 and params["tracker_type"] == "bytetrack"
    assert params["match_thresh"] == 0.8  # ultralytics' default kept
    assert "gmc_method" in track.tracker_params("botsort")


@pytest.mark.parametrize(
    "name, overrides, message",
    [
        ("bytetrack", {"track_bufer": 3}, "unknown bytetrack parameter.*track_bufer"),
        ("sort", {}, "tracker 'sort' is not supported"),
        ("botsort", {"with_reid": True}, "with_reid is not supported"),
    ],
)
def test_bad_tracker_settings(name, overrides, message):
    with pytest.raises(ConfigError, match=message):
        track.tracker_params(name, overrides)


@pytest.fixture(scope="module")
def onnx_detector(tmp_path_factory, models_dir):
    path = tmp_path_factory.mktemp("onnx") / "yolov8n.onnx"
    track.export_onnx(models_dir / "yolov8n.pt", path)
    return path


def test_onnx_detector_agrees_with_ultralytics(onnx_detector, models_dir, vtest_video):
    """The fast path sees the same people as ultralytics' own predictor on the same weights."""
    cap = cv2.VideoCapture(str(vtest_video))
    frames = [cap.read()[1] for _ in range(30)][::10]
    settings = track.TrackSettings(conf=0.25)
    fast = track.OnnxPersonDetector(onnx_detector, settings, threads=2)(frames)
    reference = track.TorchPersonDetector(models_dir / "yolov8n.pt", settings, "cpu")(frames)
    for mine, theirs in zip(fast, reference):
        assert len(theirs) >= 3, "vtest frames show several people"
        assert abs(len(mine) - len(theirs)) <= 1
        overlap = iou(theirs[:, :4], mine[:, :4]).max(axis=1)
        assert np.median(overlap) > 0.95
        assert (overlap > 0.8).mean() >= 0.8


def test_stride_keeps_the_videos_frame_numbers(onnx_detector, vtest_video):
    settings = track.TrackSettings()
    detector = track.OnnxPersonDetector(onnx_detector, settings, threads=2)
    rows, info = track.track_video(vtest_video, detector, track.tracker_params("bytetrack"), vid_stride=3, stop=30)
    assert len(rows) > 0
    assert set(np.unique(rows.frames)) <= set(range(0, 30, 3))
    assert info.frame_count == 30 and info.width == 768 and info.height == 576


def test_video_without_people_gives_no_rows(tmp_path, onnx_detector):
    path = tmp_path / "empty_scene.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for i in range(12):
        writer.write(np.full((240, 320, 3), 60 + 10 * i, dtype=np.uint8))
    writer.release()
    detector = track.OnnxPersonDetector(onnx_detector, track.TrackSettings(), threads=1)
    rows, info = track.track_video(path, detector, track.tracker_params("botsort"))
    assert len(rows) == 0 and isinstance(rows, TrackRows)
    assert info.frame_count == 12


def test_auto_backend_on_cpu_is_onnx(onnx_detector, models_dir):
    detector = track.build_detector(models_dir / "yolov8n.pt", onnx_detector, track.TrackSettings(device="cpu"), 1)
    assert isinstance(detector, track.OnnxPersonDetector)
    with pytest.raises(track.TrackError, match="exported detector"):
        track.build_detector(models_dir / "yolov8n.pt", None, track.TrackSettings(backend="onnx", device="cpu"), 1)


def test_corrupt_weights_fail_clearly(tmp_path):
    bad = tmp_path / "yolov8n.pt"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(track.TrackError, match=str(bad)):
        track.TorchPersonDetector(bad, track.TrackSettings(), "cpu")


def test_a_container_without_frame_rate_is_assumed_25_fps_and_says_so(caplog):
    """Some containers state no frame rate (OpenCV reads 0): times and space-time evidence need one."""
    from reidflow import video

    class NoRate:  # what cv2.VideoCapture answers for such a file
        def get(self, prop):
            return {cv2.CAP_PROP_FPS: 0.0, cv2.CAP_PROP_FRAME_WIDTH: 64.0, cv2.CAP_PROP_FRAME_HEIGHT: 48.0}[prop]

    with caplog.at_level("WARNING", logger="reidflow.video"):
        info = video._info(NoRate(), 10, "odd.avi")
    assert (info.fps, info.width, info.height, info.frame_count) == (25.0, 64, 48, 10)
    assert "odd.avi: the container states no frame rate; assuming 25 fps" in caplog.text
