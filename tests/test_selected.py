"""Names and selections in the people catalogue (reidflow.people) and the export of the selected people
(reidflow.selected), on small generated videos."""

from __future__ import annotations

import csv
import json
from dataclasses import replace

import imageio.v3 as iio
import numpy as np
import pytest
from test_people import video_of

from reidflow import people
from reidflow.formats.base import FormatError
from reidflow.formats.crops import CROP_METRICS, PERSONS_DTYPE, CropsMeta, CropsReader, open_crops_writer
from reidflow.formats.identities import IdentityRows, read_identities, write_identities
from reidflow.formats.people import Appearance, People, Person, read_people, write_people
from reidflow.formats.tracks import TrackRows
from reidflow.selected import BOXES_COLUMNS, SelectedError, export_selected


@pytest.fixture
def scene() -> list[people.VideoIdentities]:
    """Video x: Alice twice at once (identities 1 and 2), then Bob (3); video y: Alice (1)."""
    rng = np.random.default_rng(1)
    alice, bob = rng.standard_normal(16), rng.standard_normal(16)
    x = video_of("x", rng, [alice, alice, bob], [(0, 9), (5, 14), (20, 29)])
    y = video_of("y", rng, [alice], [(0, 9)])
    return [x, y]


def overrides(**decisions) -> people.CrossVideoOverrides:
    return people.CrossVideoOverrides.from_param(decisions)


def test_names_and_selection_reach_the_people(scene, tmp_path):
    record = people.build_people(
        scene,
        overrides=overrides(
            names={"x:identity:3": "<script>alert(1)</script>", "y:track:1": "Alice"},
            select=["x:track:3", "x:identity:3"],
        ),
    )
    person_of = record.person_of()
    by_id = {p.id: p for p in record.people}
    bob = by_id[person_of["x:3"]]
    assert bob.name == "<script>alert(1)</script>" and bob.selected
    assert by_id[person_of["y:1"]].name == "Alice"
    assert [p.id for p in record.people if p.selected] == [bob.id]
    assert all(p.name is None for p in record.people if p.id not in {person_of[k] for k in ("x:3", "y:1")})
    assert record.overrides["select"] == ["x:track:3", "x:identity:3"]
    assert record.overrides["names"]["y:track:1"] == "Alice"
    write_people(tmp_path / "people.json", record)
    assert read_people(tmp_path / "people.json") == record


def test_one_name_may_label_two_people_but_one_person_gets_one_name(scene):
    record = people.build_people(scene, overrides=overrides(names={"x:identity:1": "Guard", "x:identity:2": "Guard"}))
    assert [p.name for p in record.people].count("Guard") == 2, "x:1 and x:2 are seen together: two people"
    # the same name twice on one person is no conflict
    same = people.build_people(
        scene,
        overrides=overrides(merge=[["x:track:3", "y:track:1"]], names={"x:track:3": "Bob", "y:identity:1": "Bob"}),
    )
    assert [p.name for p in same.people if p.name] == ["Bob"]
    with pytest.raises(people.PeopleError) as err:
        people.build_people(
            scene,
            overrides=overrides(
                merge=[["x:track:3", "y:track:1"]], names={"x:track:3": "Bob", "y:identity:1": "<b>Alice</b>"}
            ),
            overrides_file="ovr.yaml",
        )
    assert str(err.value).startswith(
        "ovr.yaml: people.names: 'x:track:3' ('Bob') and 'y:identity:1' ('<b>Alice</b>') name the same person"
    )


@pytest.mark.parametrize(
    "decisions, message",
    [
        (
            {"select": ["x:track:99"]},
            "ovr.yaml: people.select: 'x:track:99': video 'x' has no track 99 in an identity",
        ),
        ({"names": {"y:identity:5": "Al"}}, "ovr.yaml: people.names: 'y:identity:5': video 'y' has no identity 5"),
        ({"split": [["x:track:1", "z:track:1"]]}, "ovr.yaml: people.split: 'z:track:1': video 'z' has no track 1"),
        (
            {"merge": [["x:track:1", "y:identity:1"], ["y:track:1", "x:identity:2"]]},
            "ovr.yaml: people.merge: the merge pair(s) [['x:track:1', 'y:identity:1'], ['y:track:1', 'x:identity:2']]"
            " join identities x:1 and x:2, which must stay apart (seen together in video x)",
        ),
        (
            {"merge": [["x:track:1", "y:identity:1"]], "split": [["y:track:1", "x:identity:1"]]},
            "join identities x:1 and y:1, which must stay apart (split by people.split)",
        ),
    ],
)
def test_bad_people_decisions_name_the_file_and_entry(scene, decisions, message):
    with pytest.raises(people.PeopleError) as err:
        people.build_people(scene, overrides=overrides(**decisions), overrides_file="ovr.yaml")
    assert message in str(err.value)


def test_a_people_json_of_the_earlier_format_is_refused(scene, tmp_path):
    path = tmp_path / "people.json"
    write_people(path, people.build_people(scene))
    raw = json.loads(path.read_text())
    raw["format_version"] = 1
    for p in raw["people"]:
        del p["name"], p["selected"]
    path.write_text(json.dumps(raw))
    with pytest.raises(FormatError, match="format version 1, this reidflow reads version 2; delete it and run"):
        read_people(path)


# --- the export --------------------------------------------------------------------------------------------


def write_video(tmp_path, video: str, tracks: dict[int, tuple[int, int]], identity_of: dict[int, int]):
    """identities.npz/.txt and final_crops.h5 of one video: track t has a box per frame of its span (moving,
    fractional), and one crop per other frame, quality rising then falling, each crop filled with its frame."""
    rows = []
    for t, (a, b) in tracks.items():
        f = np.arange(a, b + 1)
        boxes = np.c_[10.25 * t + f, 20.5 + f / 3, 40.75 * t + f + 30, 120.125 + f / 3]
        rows.append(TrackRows(f, np.full(len(f), t), boxes, np.linspace(0.5, 0.9, len(f))))
    all_rows = TrackRows.concatenate(rows).sorted()
    ids = np.array([identity_of.get(int(t), -1) for t in all_rows.track_ids])
    record = IdentityRows(video, all_rows, ids, [])
    write_identities(tmp_path / f"{video}_identities.npz", tmp_path / f"{video}_identities.txt", record)
    meta = CropsMeta(
        video=video, source=f"{video}.avi", fps=10.0, frame_count=100, crop_height=8, crop_width=4, resize="stretch"
    )
    kept = {t: np.arange(a, b + 1, 2) for t, (a, b) in tracks.items()}
    persons = np.array([(t, f[0], f[-1], len(f), len(f)) for t, f in kept.items()], dtype=PERSONS_DTYPE)
    with open_crops_writer(tmp_path / f"{video}_crops.h5", meta, persons) as writer:
        for t, frames in kept.items():
            for slot, frame in enumerate(frames):
                writer.put_crop(t, slot, np.full((8, 4, 3), frame, np.uint8))
            quality = 1.0 - np.abs(frames - frames.mean()) / 100
            metrics = {m: np.zeros(len(frames), np.float32) for m in CROP_METRICS} | {"quality": quality}
            writer.put_track(t, frames, np.zeros((len(frames), 4)), metrics)
    return record


def appearance(video: str, identity: int, tracks: list[int], first: int, last: int) -> Appearance:
    return Appearance(video, identity, tracks, first, last, first / 10, last / 10, tracks[0], first, 0.9)


def mot_rows(path) -> list[list[str]]:
    """identities.txt read as text, without reidflow: frame (1-based), id, x, y, w, h, score."""
    with open(path) as fh:
        return [row[:7] for row in csv.reader(fh)]


def test_export_holds_exactly_the_selected_persons_boxes_crops_and_summary(tmp_path):
    x = write_video(tmp_path, "x", {1: (0, 19), 2: (5, 14), 3: (10, 39), 4: (30, 35)}, {1: 1, 2: 2, 3: 1, 4: 3})
    y = write_video(tmp_path, "y", {7: (3, 12), 8: (0, 30)}, {7: 1, 8: 2})
    alice = Person(
        1,
        [appearance("x", 1, [1, 3], 0, 39), appearance("y", 2, [8], 0, 30)],
        "x:1",
        name='Zoë "<script>"',
        selected=True,
    )
    bob = Person(2, [appearance("x", 2, [2], 5, 14)], "x:2")
    carol = Person(3, [appearance("x", 3, [4], 30, 35), appearance("y", 1, [7], 3, 12)], "x:3", selected=True)
    catalogue = People(
        videos=["y", "x"],  # sheet order: y first
        params={},
        overrides={"merge": [], "split": [], "names": {}, "select": ["x:track:3", "y:identity:2", "x:identity:3"]},
        people=[alice, bob, carol],
        links=[],
        recommendations=[],
    )
    out = tmp_path / "selected"
    with CropsReader(tmp_path / "x_crops.h5") as cx, CropsReader(tmp_path / "y_crops.h5") as cy:
        exported = export_selected(out, catalogue, {"x": x, "y": y}, {"x": cx, "y": cy}, max_crops=3)
    assert exported == [1, 3]
    assert sorted(p.name for p in out.iterdir()) == ["1", "3"]

    # boxes.csv: exactly the rows of identities.txt of the person's identities, y first (sheet order)
    with open(out / "1" / "boxes.csv", newline="") as fh:
        table = list(csv.reader(fh))
    assert tuple(table[0]) == BOXES_COLUMNS
    mine = {"x": "1", "y": "2"}
    expected = [
        [video, str(int(r[0]) - 1), *r]
        for video in ("y", "x")
        for r in mot_rows(tmp_path / f"{video}_identities.txt")
        if r[1] == mine[video]
    ]
    got = [[v, f, mot, ident, x_, y_, w, h, s] for v, f, mot, ident, _, x_, y_, w, h, s in table[1:]]
    assert sorted(got) == sorted(expected)  # identities.txt orders one frame's rows of one identity its own way
    assert len(table) - 1 == (20 + 30) + 31, "tracks 1 and 3 of x (frames 0-19, 10-39) and 8 of y"
    tracks = {(row[0], row[4]) for row in table[1:]}
    assert tracks == {("x", "1"), ("x", "3"), ("y", "8")}
    frames = [(row[0], int(row[1])) for row in table[1:]]
    assert frames == sorted(frames, key=lambda vf: (["y", "x"].index(vf[0]), vf[1]))
    assert [r[4] for r in table[1:] if r[0] == "x" and r[1] == "10"] == ["1", "3"], "then by track"

    # crops: per appearance the 3 best by quality (the middle of each track's crops), pixels as stored
    crops = sorted(p.name for p in (out / "1" / "crops").iterdir())
    # x:1: track 1's crops (frames 0, 2, ..., 18: quality 0.99 at 8 and 10) and track 3's (10, ..., 38: 1.0 at
    # 24, 0.98 at 22 and 26); y:2: track 8's (0, ..., 30: 0.99 at 14 and 16, 0.97 at 12 and 18, earlier first)
    assert crops == sorted(["x_8_1.png", "x_10_1.png", "x_24_3.png", "y_12_8.png", "y_14_8.png", "y_16_8.png"])
    image = iio.imread(out / "1" / "crops" / "x_24_3.png")
    assert image.shape == (8, 4, 3) and (image == 24).all()

    summary = json.loads((out / "1" / "summary.json").read_text())
    assert summary["person"] == 1 and summary["name"] == 'Zoë "<script>"'
    assert summary["selected_by"] == ["x:track:3", "y:identity:2"]
    assert summary["videos"] == ["y", "x"] and summary["boxes"] == len(table) - 1
    assert summary["per_video"]["x"] == {
        "boxes": 50,
        "first_frame": 0,
        "last_frame": 39,
        "first_time": 0.0,
        "last_time": 3.9,
    }
    assert summary["per_video"]["y"]["boxes"] == 31
    assert summary["crops"] == ["y_12_8.png", "y_14_8.png", "y_16_8.png", "x_8_1.png", "x_10_1.png", "x_24_3.png"]
    assert len(summary["appearances"]) == 2

    carol_rows = list(csv.reader(open(out / "3" / "boxes.csv", newline="")))[1:]
    assert {(r[0], r[4]) for r in carol_rows} == {("x", "4"), ("y", "7")} and len(carol_rows) == 6 + 10
    assert json.loads((out / "3" / "summary.json").read_text())["name"] is None


def test_nobody_selected_gives_an_empty_folder_and_stale_files_are_errors(tmp_path):
    x = write_video(tmp_path, "x", {1: (0, 9)}, {1: 1})
    person = Person(1, [appearance("x", 1, [1], 0, 9)], "x:1")
    catalogue = People(["x"], {}, {}, [person], [], [])
    with CropsReader(tmp_path / "x_crops.h5") as cx:
        assert export_selected(tmp_path / "none", catalogue, {"x": x}, {"x": cx}, 4) == []
        assert list((tmp_path / "none").iterdir()) == []
        stale = replace(
            catalogue, people=[replace(person, selected=True, appearances=[appearance("x", 1, [1, 5], 0, 9)])]
        )
        with pytest.raises(SelectedError, match=r"x_crops.h5: track\(s\) \[5\] of person 1 \(x:1\) have no crops"):
            export_selected(tmp_path / "stale", stale, {"x": x}, {"x": cx}, 4)
    assert read_identities(tmp_path / "x_identities.npz").video == "x"
