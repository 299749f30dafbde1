"""Rules similarity, cluster and evaluate through Snakemake, on generated tracks.npz, final_crops.h5 (the
crops' frames) and features.h5."""

import numpy as np
import pytest
from helpers_identities import views_of, walker, write_crops_of

from reidflow.formats.clusters import read_clusters
from reidflow.formats.evaluation import read_evaluation
from reidflow.formats.features import Features, FeaturesMeta, write_features
from reidflow.formats.mot import write_mot
from reidflow.formats.similarity import read_similarity
from reidflow.formats.tracks import TrackRows, Tracks, TracksMeta, VideoInfo, write_tracks

pytestmark = pytest.mark.slow

FRAMES = np.arange(40)


def write_video(workdir, video, with_gt=True, features=None):
    """Person A tracked as 1 (frames 0-19) then 2 (20-39); person B as 3 throughout; A's tracks look alike."""
    results = workdir.path / "results" / video
    (workdir.path / f"{video}.avi").write_bytes(b"never decoded: tracks.npz is newer")  # first: older than tracks.npz
    rows = TrackRows.concatenate([walker(np.where(FRAMES < 20, 1, 2), 0.0, FRAMES, 0.9), walker(3, 400.0, FRAMES, 0.9)])
    meta = TracksMeta(video, f"{video}.avi", VideoInfo(10.0, 768, 576, 40), 1, "yolov8n.pt", "", "bytetrack", {})
    write_tracks(results / "tracks.npz", Tracks(rows, meta))
    rng = np.random.default_rng(0)
    person_a, person_b = rng.standard_normal((2, 64))
    if features is None:  # a track with one crop
        features = {3: views_of(rng, person_b, 12), 1: views_of(rng, person_a, 8), 2: views_of(rng, person_a, 1)}
    write_crops_of(results / "final_crops.h5", video, rows, {t: len(f) for t, f in features.items()})
    fmeta = FeaturesMeta(video, "osnet_x0_25", "osnet_x0_25_msmt17.pth", "", 256, 128, 64)
    write_features(results / "features.h5", Features(fmeta, features))
    gt = ""
    if with_gt:
        gt = workdir.path / f"{video}_gt.txt"
        write_mot(gt, TrackRows.concatenate([walker(1, 0.0, FRAMES), walker(2, 400.0, FRAMES)]))
    return (video, workdir.path / f"{video}.avi", gt)


def test_similarity_cluster_evaluate(workdir):
    clip = write_video(workdir, "clip")
    workdir.write_videos([clip])
    workdir.snakemake("results/clip/evaluation.json")
    results = workdir.path / "results" / "clip"
    sim = read_similarity(results / "similarity.json")
    assert sim.track_ids == [3, 1, 2] and sim.aggregation == "mean"
    assert sim.cooccurrence[0, 1] == 20 and sim.cooccurrence[1, 2] == 0
    assert [(p.a, p.b) for p in sim.pairs] == [(1, 2)]
    clusters = read_clusters(results / "clusters.json")
    # both cover 40 frames; ties go to the identity with the longest-seen track
    assert [(i.members, i.frames_covered) for i in clusters.identities] == [([3], 40), ([1, 2], 40)]
    evaluation = read_evaluation(results / "evaluation.json")
    assert evaluation.frames == 40
    assert evaluation.merged["idf1"] == pytest.approx(1.0) and evaluation.raw["idf1"] < 0.8
    for rule in ("similarity", "cluster", "evaluate"):
        assert (workdir.path / "logs" / rule / "clip.log").is_file()
    assert (workdir.path / "benchmarks" / "cluster" / "clip.tsv").is_file()
    # a video without ground truth has no evaluation.json, and asking for one says why
    workdir.write_videos([clip, write_video(workdir, "nogt", with_gt=False)])
    proc = workdir.snakemake("-n", "results/nogt/evaluation.json", check=False)
    assert proc.returncode != 0 and "'nogt' has no ground truth" in proc.stdout + proc.stderr


def test_editing_one_videos_overrides_reruns_only_that_video(workdir):
    workdir.write_videos([write_video(workdir, "a"), write_video(workdir, "b")])
    overrides = workdir.path / "config" / "overrides.yaml"
    overrides.write_text("a:\n  merge: []\nb:\n  split: []\n")
    workdir.config["cluster"]["overrides"] = "config/overrides.yaml"
    workdir.write_config()
    targets = [f"results/{v}/{f}.json" for v in "ab" for f in ("clusters", "evaluation")]
    workdir.snakemake(*targets)
    before = {t: (workdir.path / t).stat().st_mtime_ns for t in targets}

    overrides.write_text("a:\n  split: [[1, 2]]\nb:\n  split: []\n")
    workdir.snakemake(*targets)
    after = {t: (workdir.path / t).stat().st_mtime_ns for t in targets}
    assert after["results/b/clusters.json"] == before["results/b/clusters.json"]
    assert after["results/b/evaluation.json"] == before["results/b/evaluation.json"]
    assert after["results/a/clusters.json"] != before["results/a/clusters.json"]
    assert after["results/a/evaluation.json"] != before["results/a/evaluation.json"]
    a = read_clusters(workdir.path / "results" / "a" / "clusters.json")
    assert sorted(i.members for i in a.identities) == [[1], [2], [3]] and a.overrides["split"] == [[1, 2]]
    assert [(r.a, r.b, r.reason) for r in a.recommendations] == [(1, 2, "split_by_person")]

    # a person's merge: the same identities as the clustering's, now decided by a person
    overrides.write_text("a:\n  merge: [[2, 1]]\nb:\n  split: []\n")
    workdir.snakemake(*targets)
    a = read_clusters(workdir.path / "results" / "a" / "clusters.json")
    assert sorted(i.members for i in a.identities) == [[1, 2], [3]]
    assert [(m.left, m.right, m.decided_by) for m in a.merges] == [([1], [2], "person")]
    assert (workdir.path / "results" / "b" / "clusters.json").stat().st_mtime_ns == before["results/b/clusters.json"]

    # the file renamed, its content unchanged: nothing to redo
    merged = {t: (workdir.path / t).stat().st_mtime_ns for t in targets}
    overrides.rename(workdir.path / "config" / "decisions.yaml")
    workdir.config["cluster"]["overrides"] = "config/decisions.yaml"
    workdir.write_config()
    workdir.snakemake(*targets)
    assert {t: (workdir.path / t).stat().st_mtime_ns for t in targets} == merged


@pytest.mark.parametrize(
    "entry, message",
    [
        (
            "merge: [[1, 3]]",
            "the merge pairs put tracks 1 and 3 into one identity, but they are seen together at different places "
            "in 20 frame(s)",
        ),
        ("split: [[1, 77]]", "unknown track id(s) 77"),
    ],
)
def test_bad_overrides_fail_the_videos_cluster_job(workdir, entry, message):
    workdir.write_videos([write_video(workdir, "a"), write_video(workdir, "b")])
    (workdir.path / "config" / "overrides.yaml").write_text(f"a:\n  {entry}\n")
    workdir.config["cluster"]["overrides"] = "config/overrides.yaml"
    workdir.write_config()
    proc = workdir.snakemake("--keep-going", "results/a/clusters.json", "results/b/clusters.json", check=False)
    assert proc.returncode != 0
    log = (workdir.path / "logs" / "cluster" / "a.log").read_text()
    assert f"config/overrides.yaml: video 'a': {message}" in log
    assert not (workdir.path / "results" / "a" / "clusters.json").exists()
    assert (workdir.path / "results" / "b" / "clusters.json").is_file()


def test_overrides_for_an_unknown_video_stop_before_any_job(workdir):
    workdir.write_videos([write_video(workdir, "a")])
    (workdir.path / "config" / "overrides.yaml").write_text("typo:\n  merge: [[1, 2]]\n")
    workdir.config["cluster"]["overrides"] = "config/overrides.yaml"
    workdir.write_config()
    proc = workdir.snakemake("-n", "results/a/clusters.json", check=False)
    assert proc.returncode != 0
    assert "config/overrides.yaml: video 'typo' is not in the video sheet" in proc.stdout + proc.stderr


def test_a_track_without_features_fails_naming_the_file_and_track(workdir):
    empty = {3: np.ones((1, 64), np.float32) / 8, 1: np.ones((2, 64), np.float32) / 8, 2: np.zeros((0, 64), np.float32)}
    workdir.write_videos([write_video(workdir, "a", features=empty)])
    proc = workdir.snakemake("results/a/similarity.json", check=False)
    assert proc.returncode != 0
    log = (workdir.path / "logs" / "similarity" / "a.log").read_text()
    assert (
        "results/a/features.h5: track(s) 2 have no crop features; delete it and run `snakemake` again, which rebuilds it"
        in log
    )
