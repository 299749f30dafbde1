"""Identity quality on the development frames: one table from one run.

PETS09-S2L1 (vtest.avi) frames 1-400 with ../shared/data/pets09-s2l1/gt_frames1-400.txt and
persons_frames1-400.csv (which trajectories are one person: re-entries). The workflow runs on a 400-frame
clip once per tracker setting (track ... similarity); the cluster stage then runs in this process with
each configuration below, adding one piece of evidence at a time:

    appearance only        similarity + every co-occurrence vetoes (the behaviour before space-time)
    + space-time           continuation bonus / unreachable penalty (reidflow.spacetime)
    + duplicate-aware veto only co-occurrence at different places vetoes
    + non-person rejection tracks with two signs of a false detection are kept out
    + splitting            tracks cut at identity switches (reidflow.pieces) before clustering, and the
                           crossing partners of a cut swapped with it (pieces.swap_cuts)
    + gaps filled          identities' gaps of <= identities.fill_gaps frames filled with interpolated
                           boxes, as identities.txt delivers them (reidflow.identities.gap_boxes)
    + hidden gaps filled   and gaps of <= identities.fill_hidden frames whose two boxes are away from the
                           frame border (= the defaults)
    veto after 2 frames    the defaults, but one frame seen apart does not veto (a tracker's glitch?)

The rows before "+ splitting" cluster a similarity record built in this process without cuts; the others
the workflow's own similarity.json (the defaults cut).

Scoring is **per person** (re-entries share one id): the identities' detections (tracks in an identity;
flagged and too-short tracks are not claimed as people and left out) and, where a row fills gaps, their
filled boxes, against the person-level ground truth. Columns: IDF1, HOTA, MOTA; identities (vs the people of
the ground truth); wrong identities (an identity holding tracks of two or more people, each track counted
as its majority person); flagged tracks (not a person); switched tracks (tracks whose boxes follow another
person in over 10 % of their matched frames: an identity switch inside the tracker, which only splitting
can repair; counted on pieces where tracks were cut); cuts (tracks cut at identity switches); the merge-only
ceiling (the same kept tracks or pieces, each relabelled to its majority person, gaps filled as in the row:
what perfect merging of them would give); and, for the raw tracks (every detection, one id per track, as
the tracker made them), the same scores.

    .venv/bin/python bench/identities.py [--frames 400] [--keep DIR]

The tracker rows use each tracker's defaults with the given ``track_buffer`` (frames); BoT-SORT runs
without ReID and without camera-motion compensation (the camera is static). The last rows change the
detector's input size (``track.imgsz``; the video is 768x576).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from conftest import SHARED, WORKFLOW_PARTS, copy_workflow, repo_config, write_clip  # noqa: E402

from reidflow import cluster, evaluate, identities, pieces, similarity  # noqa: E402
from reidflow.formats.features import read_features  # noqa: E402
from reidflow.formats.mot import read_mot  # noqa: E402
from reidflow.formats.persons import read_persons  # noqa: E402
from reidflow.formats.similarity import Similarity, read_similarity  # noqa: E402
from reidflow.formats.tracks import TrackRows, read_tracks  # noqa: E402
from reidflow.settings import ClusterSettings, IdentitiesSettings, SimilaritySettings  # noqa: E402

DATA = SHARED / "data" / "pets09-s2l1"
GT, PERSONS = DATA / "gt_frames1-400.txt", DATA / "persons_frames1-400.csv"
# label -> (track.tracker, track.tracker_params, other track settings)
TRACKERS = {
    "bytetrack, buffer 30 (default)": ("bytetrack", {}, {}),
    "bytetrack, buffer 60": ("bytetrack", {"track_buffer": 60}, {}),
    "bytetrack, buffer 90": ("bytetrack", {"track_buffer": 90}, {}),
    "botsort, buffer 30": ("botsort", {"gmc_method": "none"}, {}),
    "botsort, buffer 60": ("botsort", {"gmc_method": "none", "track_buffer": 60}, {}),
    "bytetrack, detector input 800 px": ("bytetrack", {}, {"imgsz": 800}),
    "bytetrack, detector input 960 px": ("bytetrack", {}, {"imgsz": 960}),
}
DEFAULTS = ClusterSettings()
FILLED, NO_FILL = IdentitiesSettings(), IdentitiesSettings(fill_gaps=0, fill_hidden=0)
# (cluster settings, whether tracks are cut at identity switches first, how gaps are filled)
CONFIGURATIONS = {
    "appearance only": (replace(DEFAULTS, spacetime=False, duplicate_overlap=1.01, nonperson=False), False, NO_FILL),
    "+ space-time": (replace(DEFAULTS, duplicate_overlap=1.01, nonperson=False), False, NO_FILL),
    "+ duplicate-aware veto": (replace(DEFAULTS, nonperson=False), False, NO_FILL),
    "+ non-person rejection": (DEFAULTS, False, NO_FILL),
    "+ splitting at identity switches": (DEFAULTS, True, NO_FILL),
    f"+ gaps of <= {FILLED.fill_gaps} frames filled": (DEFAULTS, True, replace(FILLED, fill_hidden=0)),
    f"+ hidden gaps of <= {FILLED.fill_hidden} frames filled (defaults)": (DEFAULTS, True, FILLED),
    "defaults, gaps of <= 20 frames filled": (DEFAULTS, True, replace(FILLED, fill_gaps=20)),
    "defaults, hidden gaps of <= 50 frames filled": (DEFAULTS, True, replace(FILLED, fill_hidden=50)),
    "defaults, hidden gaps of any length filled": (DEFAULTS, True, replace(FILLED, fill_hidden=1_000_000)),
    "defaults, veto after 2 frames apart": (replace(DEFAULTS, cooccurrence_veto=2), True, FILLED),
}


def run_until_similarity(root: Path, clip: Path, tracker: str, params: dict, track: dict) -> Path:
    """A project on ``clip`` with ``tracker``; returns its results/dev folder (tracks.npz, similarity.json)."""
    for part in WORKFLOW_PARTS:  # a kept project (--keep) takes today's workflow; its results stay
        if (root / part).is_dir():
            shutil.rmtree(root / part)
        else:
            (root / part).unlink(missing_ok=True)
    copy_workflow(root)
    config = repo_config(SHARED / "models")
    config["track"].update(tracker=tracker, tracker_params=params, **track)
    (root / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    (root / "config" / "videos.tsv").write_text(f"video\tpath\tgt\ndev\t{clip}\t{GT}\n")
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "results/dev/similarity.json"]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"workflow failed in {root}:\n{proc.stderr[-3000:]}")
    return root / "results" / "dev"


def uncut_similarity(results: Path) -> Similarity:
    """The similarity record of the run's tracks, none cut (the workflow's own settings otherwise)."""
    made = read_similarity(results / "similarity.json")
    features = read_features(results / "features.h5")
    settings = SimilaritySettings(aggregation=made.aggregation, threshold=made.threshold, **made.params)
    return similarity.build_similarity(
        "dev", features.track_ids, list(features.by_track.values()), read_tracks(results / "tracks.npz").rows, settings
    )


def score(
    results: Path,
    settings: ClusterSettings,
    records: Similarity,
    fill: IdentitiesSettings,
    person_gt: TrackRows,
    frames: np.ndarray,
) -> dict:
    tracks = read_tracks(results / "tracks.npz")
    record = cluster.build_clusters(records, tracks.rows, settings, info=tracks.meta.info)
    identity_of = record.identity_of()
    rows = evaluate.claimed_rows(pieces.split_rows(tracks.rows, record.cuts), record)
    delivered = evaluate.relabel(rows, identity_of)
    info, stride = tracks.meta.info, tracks.meta.vid_stride
    delivered = TrackRows.concatenate([delivered, identities.gap_boxes(delivered, fill, info, stride)])
    merged = evaluate.mot_scores(person_gt, delivered, 0.5, frames)
    hyp, truth = evaluate.matched_ids(person_gt, rows, 0.5, frames)
    person_of_track = evaluate.majority(hyp.tolist(), truth.tolist())
    people_in: dict[int, set[int]] = {}
    for track, person in person_of_track.items():
        people_in.setdefault(identity_of[track], set()).add(person)
    wrong = sum(len(p) > 1 for p in people_in.values())
    # tracks whose own boxes follow two people (a switch inside the tracker): what splitting would fix
    switched = sum(np.mean(truth[hyp == t] == person_of_track[t]) < 0.9 for t in person_of_track)
    ceiling_labels = {t: person_of_track.get(t, 10_000 + t) for t in identity_of}
    best = evaluate.relabel(rows, ceiling_labels)
    best = TrackRows.concatenate([best, identities.gap_boxes(best, fill, info, stride)])
    ceiling = evaluate.mot_scores(person_gt, best, 0.5, frames)
    raw = evaluate.mot_scores(person_gt, tracks.rows, 0.5, frames)
    return {
        "idf1": merged.idf1,
        "hota": merged.hota,
        "mota": merged.mota,
        "identities": len(record.identities),
        "wrong": wrong,
        "flagged": len(record.flagged),
        "switched": int(switched),
        "cuts": len(record.cuts),
        "ceiling": ceiling.idf1,
        "raw_idf1": raw.idf1,
        "raw_hota": raw.hota,
        "raw_ids": len(np.unique(tracks.rows.track_ids)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=400)
    parser.add_argument("--keep", type=Path, help="keep the projects in this folder (default: a temporary one)")
    args = parser.parse_args()
    person_gt = evaluate.person_ground_truth(read_mot(GT), read_persons(PERSONS), str(PERSONS))
    people = len(np.unique(person_gt.track_ids))
    frames = np.arange(args.frames)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        clip = write_clip(DATA / "vtest.avi", root / f"vtest{args.frames}.avi", args.frames)
        header = (
            f"{'configuration':<84} {'IDF1':>6} {'HOTA':>6} {'MOTA':>6} {'ids':>4} {'wrong':>5} {'flag':>4} {'switch':>6} "
            f"{'cuts':>4} "
            f"{'ceiling':>7} | {'raw IDF1':>8} {'raw HOTA':>8} {'raw ids':>7}"
        )
        print(f"person-level scores, frames 1-{args.frames}, {people} people; identities' detections (see docstring)")
        print(header)
        print("-" * len(header))
        for k, (label, (tracker, params, track)) in enumerate(TRACKERS.items()):
            results = run_until_similarity(root / f"tracker{k}", clip, tracker, params, track)
            configurations = CONFIGURATIONS if "default" in label else {"defaults": (DEFAULTS, True, FILLED)}
            cut, uncut = read_similarity(results / "similarity.json"), uncut_similarity(results)
            for name, (settings, split, fill) in configurations.items():
                r = score(results, settings, cut if split else uncut, fill, person_gt, frames)
                print(
                    f"{label + ': ' + name:<84.84} {r['idf1']:6.3f} {r['hota']:6.3f} {r['mota']:6.3f} "
                    f"{r['identities']:4d} {r['wrong']:5d} {r['flagged']:4d} {r['switched']:6d} {r['cuts']:4d} "
                    f"{r['ceiling']:7.3f} | "
                    f"{r['raw_idf1']:8.3f} {r['raw_hota']:8.3f} {r['raw_ids']:7d}"
                )
            sys.stdout.flush()


if __name__ == "__main__":
    main()
