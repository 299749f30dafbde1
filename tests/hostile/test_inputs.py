"""Hostile inputs from users: truncated videos, malformed ground truth, odd sheet paths and encodings."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from reidflow import track
from reidflow.formats.base import FormatError
from reidflow.formats.mot import read_mot
from reidflow.formats.tracks import TrackRows, Tracks, TracksMeta, VideoInfo, read_tracks, write_tracks
from reidflow.report.video import TrackCard, render_video, video_context
from reidflow.sheet import SheetError, load_videos
from reidflow.video import FrameReader, VideoError, check_complete

DECLARED = 60


def write_avi(path: Path, frames: int = DECLARED) -> Path:
    """An MJPG .avi of distinct noisy frames (noise keeps the JPEGs, and so the bytes per frame, large)."""
    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for _ in range(frames):
        writer.write(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8))
    writer.release()
    return path


@pytest.fixture
def truncated_avi(tmp_path) -> Path:
    """A 60-frame AVI cut to 30 % of its bytes, as an interrupted copy or download leaves it."""
    path = write_avi(tmp_path / "cut.avi")
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.3)])
    return path


def decode(path: Path, **kwargs) -> FrameReader:
    reader = FrameReader(path, **kwargs)
    for _ in reader:
        pass
    return reader


# --- 5: a truncated video is processed, but never silently as a shorter one --------------------------


def test_truncated_video_records_the_shortfall(truncated_avi):
    info = decode(truncated_avi).info_after_read()
    assert 0 < info.frame_count < DECLARED
    assert info.frames_missing == DECLARED - info.frame_count
    assert info.declared_frame_count == DECLARED


def test_complete_or_deliberately_stopped_video_has_no_shortfall(tmp_path):
    path = write_avi(tmp_path / "full.avi")
    assert decode(path).info_after_read() == VideoInfo(10.0, 160, 120, DECLARED, 0)
    assert decode(path, stride=7).info_after_read().frames_missing == 0
    assert decode(path, stop=20).info_after_read() == VideoInfo(10.0, 160, 120, 20, 0), "stop is not a truncation"
    reader = FrameReader(path)
    for _ in zip(range(3), reader):  # the consumer stops early
        pass
    assert reader.info_after_read().frames_missing == 0


def no_people(frames: list[np.ndarray]) -> list[np.ndarray]:
    return [np.zeros((0, 5), dtype=np.float32) for _ in frames]


def test_track_warns_and_tracks_npz_keeps_the_shortfall(truncated_avi, tmp_path, caplog):
    rows, info = track.track_video(truncated_avi, no_people, track.tracker_params("bytetrack"))
    assert info.frames_missing > 0
    with caplog.at_level(logging.WARNING, logger="reidflow"):
        check_complete(truncated_avi, info, "warn")
    warning = caplog.records[-1]
    assert warning.levelno == logging.WARNING and str(truncated_avi) in warning.getMessage()
    assert f"declares {DECLARED} frames but decoding stopped after {info.frame_count}" in warning.getMessage()
    meta = TracksMeta("cut", str(truncated_avi), info, 1, "yolov8n.pt", "", "bytetrack", {})
    write_tracks(tmp_path / "tracks.npz", Tracks(rows, meta))
    assert read_tracks(tmp_path / "tracks.npz").meta.info == info


def test_on_truncated_fail_refuses_the_video(truncated_avi):
    info = decode(truncated_avi).info_after_read()
    with pytest.raises(
        VideoError, match=r"cut\.avi: truncated or damaged video.*replace the file with a complete copy"
    ):
        check_complete(truncated_avi, info, "fail")
    check_complete(truncated_avi, replace(info, frames_missing=0), "fail")  # a complete video passes


def test_tracks_npz_from_before_the_field_still_reads(tmp_path):
    meta = asdict(TracksMeta("v", "v.avi", VideoInfo(25.0, 64, 48, 10), 1, "yolov8n.pt", "", "bytetrack", {}))
    del meta["info"]["frames_missing"]
    empty = TrackRows.empty()
    np.savez(
        tmp_path / "old.npz",
        frames=empty.frames,
        track_ids=empty.track_ids,
        boxes=empty.boxes,
        scores=empty.scores,
        meta=np.array(json.dumps(meta)),
    )
    assert read_tracks(tmp_path / "old.npz").meta.info.frames_missing == 0


def test_report_header_warns_about_a_truncated_video():
    from test_report import TRACKS, make_records  # tests/ is on sys.path through its conftest

    records = make_records()
    cards = {t: TrackCard(t, 0, 1, 2, k, 0.5, 48, 96) for t, (_, k) in TRACKS.items()}
    assert video_context(records, cards, {})["truncation"] is None
    assert 'id="truncated"' not in render_video(video_context(records, cards, {}))
    short = replace(records.tracks.meta, info=VideoInfo(25.0, 320, 240, 18, 42))
    records = replace(records, tracks=Tracks(records.tracks.rows, short))
    html = render_video(video_context(records, cards, {}))
    header = html[html.index("<header") : html.index("</header>")]
    assert 'class="warning" id="truncated"' in header
    assert (
        "Truncated or damaged video: its container declares 60 frames but decoding stopped after 18; the last 42 were not processed."
        in header
    )


@pytest.mark.slow
def test_track_rule_warns_in_its_log_or_fails_as_configured(workdir, truncated_avi):
    workdir.write_videos([("cut", truncated_avi)], header=("video", "path"))
    workdir.config["track"].update(backend="torch", device="cpu")  # no ONNX export needed for 18 frames
    workdir.write_config()
    workdir.snakemake("results/cut/tracks.npz")
    log = (workdir.path / "logs" / "track" / "cut.log").read_text()
    assert "WARNING" in log and f"declares {DECLARED} frames" in log
    info = read_tracks(workdir.path / "results" / "cut" / "tracks.npz").meta.info
    assert info.frames_missing == DECLARED - info.frame_count > 0

    workdir.config["track"]["on_truncated"] = "fail"  # a rule param: the changed setting reruns track
    workdir.write_config()
    proc = workdir.snakemake("results/cut/tracks.npz", check=False)
    assert proc.returncode != 0
    assert "replace the file with a complete copy" in (workdir.path / "logs" / "track" / "cut.log").read_text()


# --- 6: malformed ground truth is refused, naming the line ------------------------------------------

GOOD = "1,1,10,20,30,60,1,-1,-1,-1\n2,1,12,20,30,60,1,-1,-1,-1\n"


@pytest.mark.parametrize(
    "bad_row, problem",
    [
        ("0,1,10,20,30,60,1,-1,-1,-1", "frame below 1"),
        ("-3,1,10,20,30,60,1,-1,-1,-1", "frame below 1"),
        ("2.5,1,10,20,30,60,1,-1,-1,-1", "frame is not a whole number"),
        ("3,1,nan,20,30,60,1,-1,-1,-1", "must be finite numbers"),
        ("3,1,10,20,inf,60,1,-1,-1,-1", "must be finite numbers"),
        ("3,1,10,20,-30,60,1,-1,-1,-1", "negative width or height"),
        ("3,1,10,20,30,-60,1,-1,-1,-1", "negative width or height"),
        ("3,1,10,x,30,60,1,-1,-1,-1", "a field is not a number"),
        ("3,1,10,20,30,60", "6 fields, the lines before have 10"),
    ],
)
def test_malformed_ground_truth_row_names_file_and_line(tmp_path, bad_row, problem):
    gt = tmp_path / "gt.txt"
    gt.write_text("\n" + GOOD + "# a comment\n" + bad_row + "\n")  # blank and comment lines still count
    with pytest.raises(FormatError, match=problem) as err:
        read_mot(gt)
    assert str(err.value).startswith(f"{gt}: line 5: ")
    assert bad_row[:20] in str(err.value)


def test_every_bad_row_is_counted(tmp_path):
    gt = tmp_path / "gt.txt"
    gt.write_text(GOOD + "0,1,1,1,1,1,1,-1,-1,-1\n" * 3)
    with pytest.raises(FormatError, match=r"line 3: .*\(2 more bad lines\)"):
        read_mot(gt)


def test_binary_ground_truth_is_a_format_error(tmp_path):
    gt = tmp_path / "gt.txt"
    gt.write_bytes(GOOD.encode() + b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    with pytest.raises(FormatError, match=rf"{gt}: line 3: not text \(a binary file\?\)"):
        read_mot(gt)


def test_valid_ground_truth_still_reads(tmp_path):
    gt = tmp_path / "gt.txt"
    gt.write_bytes(b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode())  # BOM and CRLF: a Windows editor
    rows = read_mot(gt)
    assert rows.frames.tolist() == [0, 1]
    np.testing.assert_allclose(rows.boxes[0], [10, 20, 40, 80])


# --- 7 and 12: sheet paths are taken literally or refused; a byte-order mark is fine -----------------


@pytest.mark.parametrize("name", ["{video}.avi", "{x}.avi", "{.avi", "}.avi", "{{video}}.avi"])
@pytest.mark.parametrize("column", ["path", "gt"])
def test_braces_in_sheet_paths_are_refused(tmp_path, name, column):
    braced = tmp_path / name
    braced.write_bytes(b"x")
    plain = tmp_path / "plain.avi"
    plain.write_bytes(b"x")
    row = f"a\t{braced}\t\n" if column == "path" else f"a\t{plain}\t{braced}\n"
    sheet = tmp_path / "videos.tsv"
    sheet.write_text("video\tpath\tgt\n# comment\n" + row)
    with pytest.raises(
        SheetError, match=r"line 3: .* contains '\{' or '\}', which Snakemake reads as a wildcard; rename the file"
    ):
        load_videos(sheet)


def test_braced_path_stops_the_dry_run_before_any_job(workdir, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for name in ("{video}.avi", "a.avi"):  # Snakemake would fill {video} with "a" and take a.avi
        write_avi(data / name, frames=2)
    workdir.write_videos([("a", data / "{video}.avi")], header=("video", "path"))
    proc = workdir.snakemake("-n", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"{data}/{{video}}.avi' contains '{{' or '}}'" in out and "rename the file" in out
    assert "rule track" not in out and f"{data}/a.avi" not in out
    assert not (workdir.path / "results").exists() and not (workdir.path / "logs").exists()


def test_sheet_with_a_byte_order_mark(tmp_path):
    video = tmp_path / "a.avi"
    video.write_bytes(b"x")
    sheet = tmp_path / "videos.tsv"
    sheet.write_bytes(f"\ufeffvideo\tpath\na\t{video}\n".encode())
    assert load_videos(sheet)["a"].path == str(video)


def test_sheet_that_is_not_utf8(tmp_path):
    sheet = tmp_path / "videos.tsv"
    sheet.write_bytes("video\tpath\nb\u00e9\tx.avi\n".encode("latin-1"))
    with pytest.raises(SheetError, match=r"videos.tsv: not UTF-8 text; save the sheet as UTF-8"):
        load_videos(sheet)
