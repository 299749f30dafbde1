"""Tracks cut at identity switches, through the whole workflow on the real vtest clip: every stage after
similarity agrees on the pieces (a high ``similarity.split_below`` makes sure some tracks are cut)."""

import copy
import csv
import shutil

import numpy as np
import pytest
from conftest import Workdir

from reidflow import pieces
from reidflow.formats.clusters import read_clusters
from reidflow.formats.crops import read_crop_frames
from reidflow.formats.identities import read_identities
from reidflow.formats.people import read_people
from reidflow.formats.similarity import read_similarity
from reidflow.formats.tracks import read_tracks

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cut_run(tmp_path_factory, vtest_run) -> Workdir:
    """A copy of the vtest run (times kept: tracking, crops and features stay done), then run again with a
    ``similarity.split_below`` far above the default, which cuts tracks of one person too."""
    root = tmp_path_factory.mktemp("pieces") / "run"
    shutil.copytree(vtest_run.path, root, symlinks=True)
    config = copy.deepcopy(vtest_run.config)
    config["similarity"]["split_below"] = 0.9
    wd = Workdir(root, config)
    wd.write_config()
    proc = wd.snakemake()
    assert "rule track:" not in proc.stdout + proc.stderr  # only the stages the setting changes ran again
    return wd


def test_similarity_cuts_tracks_into_pieces_with_new_ids(cut_run):
    results = cut_run.path / "results" / "clip"
    record = read_similarity(results / "similarity.json")
    tracks = read_tracks(results / "tracks.npz")
    assert record.cuts, "split_below 0.9 cuts some track of the vtest clip"
    tracker_ids = set(tracks.rows.track_ids.tolist())
    crop_tracks = read_crop_frames(results / "final_crops.h5")
    assert len(crop_tracks) + len(record.cuts) == len(record.track_ids)
    for cut in record.cuts:
        assert cut.track in record.track_ids and cut.piece in record.track_ids
        assert cut.piece > max(tracker_ids) and cut.cosine < 0.9
        frames = tracks.rows.frames[tracks.rows.track_ids == cut.track]
        assert frames.min() < cut.frame <= frames.max()
    log = (cut_run.path / "logs" / "similarity" / "clip.log").read_text()
    assert f"track {record.cuts[0].track} cut at frame {record.cuts[0].frame}" in log


def test_every_later_stage_uses_the_same_pieces(cut_run):
    results = cut_run.path / "results" / "clip"
    cuts = read_similarity(results / "similarity.json").cuts
    clusters = read_clusters(results / "clusters.json")
    assert clusters.cuts == cuts
    identity_of = clusters.identity_of()
    # the two sides of a cut are never one identity
    for before, after in pieces.adjacent_pieces(cuts):
        assert before not in identity_of or identity_of.get(before) != identity_of.get(after)
    # identities.npz: every detection labelled by its piece, and by that piece's identity
    tracks = read_tracks(results / "tracks.npz")
    labelled = read_identities(results / "identities.npz")
    expected = pieces.relabel(tracks.rows.track_ids, tracks.rows.frames, cuts)
    by_box = {
        (int(f), tuple(np.round(b, 2))): int(t) for f, b, t in zip(tracks.rows.frames, tracks.rows.boxes, expected)
    }
    rows = labelled.rows
    assert [by_box[(int(f), tuple(np.round(b, 2)))] for f, b in zip(rows.frames, rows.boxes)] == rows.track_ids.tolist()
    for track, identity in zip(rows.track_ids.tolist(), labelled.identity_ids.tolist()):
        assert identity == -1 or identity == identity_of[track]
    # the report: a card per piece, saying where it was cut
    html = (results / "report" / "index.html").read_text()
    for cut in cuts:
        assert (results / "report" / "webp" / f"{cut.piece}.webp").is_file()
        assert f"cut from track {cut.track} at frame {cut.frame}" in html
    assert 'id="tracks-cut"' in html
    # people: its appearances are made of the same pieces
    people = read_people(cut_run.path / "results" / "people" / "people.json")
    members = {t for i in clusters.identities for t in i.members}
    assert {t for p in people.people for a in p.appearances for t in a.tracks} == members
    assert (results / "evaluation.json").is_file()


def test_a_selected_person_gets_the_crops_of_their_pieces(cut_run):
    results = cut_run.path / "results" / "clip"
    clusters = read_clusters(results / "clusters.json")
    identity_of = clusters.identity_of()
    piece = next(c.piece for c in clusters.cuts if c.piece in identity_of)
    overrides = cut_run.path / "overrides.yaml"
    overrides.write_text(f'people:\n  select: ["clip:track:{piece}"]\n')
    cut_run.config["cluster"]["overrides"] = str(overrides)
    cut_run.write_config()
    cut_run.snakemake()
    (folder,) = [p for p in (cut_run.path / "results" / "people" / "selected").iterdir() if p.is_dir()]
    tracks = read_tracks(results / "tracks.npz")
    piece_of = pieces.relabel(tracks.rows.track_ids, tracks.rows.frames, clusters.cuts)
    frames_of = {int(t): set(tracks.rows.frames[piece_of == t].tolist()) for t in np.unique(piece_of)}
    crops = sorted((folder / "crops").iterdir())
    assert crops
    for png in crops:
        _, frame, track = png.stem.rsplit("_", 2)
        assert int(frame) in frames_of[int(track)], png.name
    with open(folder / "boxes.csv") as f:
        boxes = list(csv.DictReader(f))
    assert any(int(b["track"]) == piece for b in boxes)
    (person,) = [p for p in read_people(cut_run.path / "results" / "people" / "people.json").people if p.selected]
    assert {int(b["track"]) for b in boxes} <= {t for a in person.appearances for t in a.tracks}
