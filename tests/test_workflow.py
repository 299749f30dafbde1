"""The workflow through Snakemake itself, on a real clip, real weights and real ground truth."""

import subprocess

import cv2
import numpy as np
import pytest
from conftest import CLIP_FRAMES, REPO, planned_jobs

from reidflow import assets, evaluate
from reidflow.formats.crops import CropsReader
from reidflow.formats.mot import read_mot
from reidflow.formats.tracks import TrackRows, read_tracks

pytestmark = pytest.mark.slow


def test_dry_run_plans_the_whole_chain_without_gpus(workdir, vtest_clip):
    workdir.write_videos([("clip", vtest_clip, "")])
    proc = workdir.snakemake("-n")
    jobs = {job.rule: job for job in planned_jobs(proc.stdout + proc.stderr)}
    assert set(jobs) == {
        "export_detector",
        "track",
        "crops",
        "features",
        "similarity",
        "cluster",
        "identities",
        "people",
        "report",
        "report_index",
        "all",
    }
    assert all(job.resources.get("gpu", "0") == "0" for job in jobs.values()), "no GPU asked for on a CPU-only run"
    assert not (workdir.path / "results").exists()


@pytest.mark.parametrize("profile", ["absolute", "profiles/gpu", "gpu"])
def test_gpu_profile_gives_the_gpu_rules_a_gpu_and_skips_the_onnx_export(
    workdir, vtest_clip, tmp_path, monkeypatch, profile
):
    """The README's `snakemake --cores 8 --profile gpu` (from the project folder, after setup.sh registered
    the profile by name), and the profile given as a path."""
    workdir.write_videos([("clip", vtest_clip, "")])
    monkeypatch.chdir(REPO)
    if profile == "absolute":
        profile = str(REPO / "profiles" / "gpu")
    elif profile == "gpu":  # registered into a private config folder, never the real ~/.config
        home = tmp_path / "home"
        monkeypatch.setenv("HOME", str(home))
        monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
        subprocess.run(["bash", str(REPO / "setup.sh"), "--profiles"], check=True, capture_output=True)
        assert (home / ".config" / "snakemake" / "gpu").resolve() == REPO / "profiles" / "gpu"
    proc = workdir.snakemake("-n", "--cores", "8", "--profile", profile)
    jobs = {job.rule: job for job in planned_jobs(proc.stdout + proc.stderr)}
    gpus = {rule: job.resources.get("gpu", "0") for rule, job in jobs.items()}
    assert gpus["track"] == gpus["features"] == "1"
    assert {rule for rule, n in gpus.items() if n != "0"} == {"track", "features"}
    assert "export_detector" not in jobs, "on a GPU the detector runs through PyTorch, no ONNX export"


def test_lint_reports_nothing(workdir, vtest_clip):
    workdir.write_videos([("clip", vtest_clip, "")])
    proc = workdir.snakemake("--lint", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Congratulations, your workflow is in a good condition" in proc.stdout + proc.stderr


def test_track_and_crops_on_vtest(vtest_run, vtest_gt, models_dir):
    workdir = vtest_run
    tracks = read_tracks(workdir.path / "results" / "clip" / "tracks.npz")
    meta = tracks.meta
    assert (meta.video, meta.info.frame_count, meta.info.width, meta.info.height) == ("clip", CLIP_FRAMES, 768, 576)
    assert meta.info.fps == pytest.approx(10.0)
    assert meta.detector == "yolov8n.pt" and meta.detector_sha256 == assets.sha256_file(models_dir / "yolov8n.pt")
    assert meta.tracker == "bytetrack" and meta.tracker_params["track_buffer"] == 30
    # the MOTChallenge copy holds the same rows
    mot = read_mot(workdir.path / "results" / "clip" / "tracks.txt")
    np.testing.assert_array_equal(mot.frames, tracks.rows.frames)
    np.testing.assert_array_equal(mot.track_ids, tracks.rows.track_ids)
    np.testing.assert_allclose(mot.boxes, tracks.rows.boxes, atol=0.01)

    # gt frame f is video frame f-1: read_mot returns 0-based frames, so both line up
    scores = evaluate.mot_scores(read_mot(vtest_gt), tracks.rows)
    assert scores.mota >= 0.5, scores
    log = (workdir.path / "logs" / "track" / "clip.log").read_text()
    assert "frames/s" in log and (workdir.path / "benchmarks" / "track" / "clip.tsv").is_file()

    # stage 2 on the same run: every track seen long enough has its crops, longest seen first
    with CropsReader(workdir.path / "results" / "clip" / "final_crops.h5") as reader:
        ids, counts = np.unique(tracks.rows.track_ids, return_counts=True)
        long_enough = {int(i): int(n) for i, n in zip(ids, counts) if n >= workdir.config["crops"]["min_track_frames"]}
        assert set(reader.track_ids) == set(long_enough) and len(long_enough) >= 5
        assert list(reader.persons["detections"]) == sorted(long_enough.values(), reverse=True)
        for tid in reader.track_ids:
            person = reader.read(tid, images=False)
            assert len(person.frames) == min(long_enough[tid], 50)
            assert set(person.frames) <= set(tracks.rows.frames[tracks.rows.track_ids == tid])


def test_mota_drops_when_frames_are_misaligned(vtest_gt):
    """Guards the 1-frame offset: a shifted ground truth must not score as well."""
    gt = read_mot(vtest_gt)
    same = evaluate.mot_scores(gt, gt)
    shifted = TrackRows(gt.frames + 3, gt.track_ids, gt.boxes, gt.scores)
    assert same.mota == pytest.approx(1.0)
    assert evaluate.mot_scores(gt, shifted).mota < 0.9


def blank_video(path, frames=10):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for i in range(frames):
        writer.write(np.full((240, 320, 3), 90 + i, dtype=np.uint8))
    writer.release()
    return path


def test_bad_videos_fail_alone_with_clear_errors(workdir, vtest_clip, tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_text("this is a text file, not a video\n" * 50)
    nobody = blank_video(tmp_path / "nobody.avi")
    workdir.write_videos(
        [("good", vtest_clip, ""), ("empty", empty, ""), ("corrupt", corrupt, ""), ("nobody", nobody, "")]
    )
    proc = workdir.snakemake("--keep-going", check=False)
    assert proc.returncode != 0
    results = workdir.path / "results"
    assert len(read_tracks(results / "good" / "tracks.npz").rows) > 0
    nobody_tracks = read_tracks(results / "nobody" / "tracks.npz")
    assert len(nobody_tracks.rows) == 0 and nobody_tracks.meta.info.frame_count == 10
    for name, message in (("empty", "is empty (0 bytes)"), ("corrupt", "cannot be opened as a video")):
        assert not (results / name / "tracks.npz").exists()
        log = (workdir.path / "logs" / "track" / f"{name}.log").read_text()
        assert message in log and str(tmp_path / f"{name}.mp4") in log


@pytest.mark.parametrize(
    "sheet, message",
    [
        ("video\tpath\na\t{clip}\na\t{clip}\n", "duplicate video id 'a'"),
        ("video\tpath\na\tmissing.mp4\n", "'missing.mp4' of 'a' does not exist"),
        ("video\tpth\na\t{clip}\n", "missing column"),
        ("video\tpath\na\tclips/<script>.avi\n", "Snakemake reads as a path variable"),
    ],
)
def test_sheet_errors_stop_before_any_job(workdir, vtest_clip, sheet, message):
    (workdir.path / "config" / "videos.tsv").write_text(sheet.format(clip=vtest_clip))
    proc = workdir.snakemake("-n", check=False)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    assert not (workdir.path / "results").exists() and not (workdir.path / "logs").exists()


def test_config_schema_rejects_unknown_keys(workdir, vtest_clip):
    workdir.write_videos([("clip", vtest_clip, "")])
    workdir.config["track"]["confidence"] = 0.3
    workdir.write_config()
    proc = workdir.snakemake("-n", check=False)
    assert proc.returncode != 0 and "confidence" in proc.stdout + proc.stderr
