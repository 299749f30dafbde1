"""People across videos on real data: the vtest clip cut in two videos (frames 0-61 and 62-123), each with
its ground truth shifted, scored against people (../shared/.../persons_frames1-400.csv)."""

from __future__ import annotations

import csv
import json
from itertools import combinations
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from browser import Tags, assert_quiet_and_offline, browser, load_every_image, open_page, people_cards  # noqa: F401  browser is a fixture
from conftest import SHARED, Workdir, missing, repo_config, write_clip
from test_workflow_identities import true_person_of_tracks

from reidflow.formats.clusters import read_clusters
from reidflow.formats.identities import read_identities
from reidflow.formats.mot import read_mot
from reidflow.formats.people import read_people
from reidflow.formats.tracks import read_tracks

pytestmark = pytest.mark.slow

HALF = 62  # frames per video


@pytest.fixture(scope="module")
def persons() -> dict[int, str]:
    """Ground-truth trajectory id -> physical person (MOTChallenge gives a re-entry a new id)."""
    path = SHARED / "data" / "pets09-s2l1" / "persons_frames1-400.csv"
    if not path.is_file():
        missing(f"{path} is only in ../shared")
    with open(path) as fh:
        return {int(row["gt_id"]): row["person"] for row in csv.DictReader(fh)}


@pytest.fixture(scope="session")  # session: tests/test_evaluate_people.py scores the same run
def two_halves(tmp_path_factory, vtest_video, vtest_gt, models_dir) -> Workdir:
    """Each half with its ground truth and the persons file (rule evaluate_people scores the links)."""
    persons = SHARED / "data" / "pets09-s2l1" / "persons_frames1-400.csv"
    if not persons.is_file():
        missing(f"{persons} is only in ../shared")
    root = tmp_path_factory.mktemp("people")
    write_clip(vtest_video, root / "a.avi", HALF)
    write_clip(vtest_video, root / "b.avi", HALF, start=HALF)
    gt = np.loadtxt(vtest_gt, delimiter=",", ndmin=2)
    second = gt[gt[:, 0] > HALF].copy()
    second[:, 0] -= HALF  # ground-truth frame f of the clip is frame f - 62 of video b
    np.savetxt(root / "a_gt.txt", gt[gt[:, 0] <= HALF], delimiter=",", fmt="%g")
    np.savetxt(root / "b_gt.txt", second, delimiter=",", fmt="%g")
    wd = Workdir(root, repo_config(models_dir))
    wd.write_config()
    wd.write_videos(
        [("a", root / "a.avi", root / "a_gt.txt", persons), ("b", root / "b.avi", root / "b_gt.txt", persons)],
        header=("video", "path", "gt", "persons"),
    )
    wd.snakemake()
    return wd


def true_people(wd: Workdir, persons: dict[int, str]) -> dict[str, set[str]]:
    """Identity key -> the physical people its tracks show (by box overlap with the ground truth)."""
    out = {}
    for video in ("a", "b"):
        results = wd.path / "results" / video
        who = true_person_of_tracks(read_tracks(results / "tracks.npz").rows, read_mot(wd.path / f"{video}_gt.txt"))
        for identity in read_clusters(results / "clusters.json").identities:
            out[f"{video}:{identity.id}"] = {persons[who[t]] for t in identity.members if t in who}
    return out


def test_people_across_two_videos(two_halves, persons):
    catalogue = read_people(two_halves.path / "results" / "people" / "people.json")
    truth = true_people(two_halves, persons)
    keys = [a.key for p in catalogue.people for a in p.appearances]
    assert sorted(keys) == sorted(truth), "every identity of every video is in exactly one person"
    assert [p.id for p in catalogue.people] == list(range(1, len(catalogue.people) + 1))

    for person in catalogue.people:
        shown = set().union(*(truth[a.key] for a in person.appearances))
        assert len(shown) <= 1, f"person {person.id} joins people {shown}: {[a.key for a in person.appearances]}"
        assert person.representative in {a.key for a in person.appearances}

    # pairwise cross-video links against the truth: precision first
    person_of = catalogue.person_of()
    predicted, actual = set(), set()
    for x, y in combinations(sorted(truth), 2):
        if x.split(":")[0] == y.split(":")[0] or len(truth[x]) != 1 or len(truth[y]) != 1:
            continue
        if person_of[x] == person_of[y]:
            predicted.add((x, y))
        if truth[x] == truth[y]:
            actual.add((x, y))
    assert actual, "the two halves share people"
    precision = len(predicted & actual) / max(1, len(predicted))
    recall = len(predicted & actual) / len(actual)
    assert precision == 1.0, predicted - actual
    assert recall >= 0.5, actual - predicted
    assert any(len(p.videos) == 2 for p in catalogue.people)


def test_links_are_sparse_and_recommendations_explain_themselves(two_halves):
    catalogue = read_people(two_halves.path / "results" / "people" / "people.json")
    n = sum(len(p.appearances) for p in catalogue.people)
    k = catalogue.params["neighbours"]
    assert 0 < len(catalogue.links) <= n * k
    assert all(link.a != link.b for link in catalogue.links)
    person_of = catalogue.person_of()
    for link in catalogue.links:
        assert link.same_person == (person_of[link.a] == person_of[link.b])
    sims = [r.similarity for r in catalogue.recommendations]
    assert sims == sorted(sims, reverse=True)
    for r in catalogue.recommendations:
        assert person_of[r.a] != person_of[r.b] and r.reason in ("below_threshold", "seen_together", "split_by_person")


def test_identity_files_label_every_kept_detection(two_halves):
    for video in ("a", "b"):
        results = two_halves.path / "results" / video
        tracks = read_tracks(results / "tracks.npz")
        record = read_identities(results / "identities.npz")
        identity_of = read_clusters(results / "clusters.json").identity_of()
        assert len(record.rows) == len(tracks.rows)
        for track, identity in zip(record.rows.track_ids, record.identity_ids):
            assert identity == identity_of.get(int(track), -1)
        unassigned = {u.track for u in record.unassigned}
        assert unassigned == set(np.unique(tracks.rows.track_ids).tolist()) - set(identity_of)
        assert all(
            u.reason == "too_short" and u.detections < two_halves.config["crops"]["min_track_frames"]
            for u in record.unassigned
        )
        mot = read_mot(results / "identities.txt")  # MOTChallenge text, 1-based on disk
        # the labelled detections, and the boxes filling identities' gaps (confidence 0)
        filled = record.filled
        assert len(mot) == int((record.identity_ids >= 0).sum()) + len(filled)
        assert int((mot.scores == 0).sum()) == len(filled)
        assert set(mot.track_ids.tolist()) == set(identity_of.values())
        assert set(filled.track_ids.tolist()) <= set(identity_of.values())


def test_people_page_in_chromium(two_halves, browser):
    """results/report/index.html: one card per person of people.json, the video pages' WebPs, links into them."""
    two_halves.snakemake()  # up to date unless a test before this one changed the run
    results = two_halves.path / "results"
    catalogue = read_people(results / "people" / "people.json")
    index = results / "report" / "index.html"
    html = index.read_text()
    cards = people_cards(Tags(html))
    order = sorted(catalogue.people, key=lambda p: (len(p.videos) < 2, p.id))
    assert list(cards) == [f"person-{p.id}" for p in order], "people in both videos first, then by id"
    assert {card: len(images) for card, images in cards.items()} == {
        f"person-{p.id}": len(p.appearances) for p in catalogue.people
    }
    for person in catalogue.people:
        expected = [f"../{a.video}/report/webp/{a.best_track}.webp" for a in person.appearances]
        assert [img["src"] for img in cards[f"person-{person.id}"]] == expected
    # every pair to check, each side by its best crop: those only the threshold kept apart first
    shown = Tags(html[html.index('<section id="recommendations"') :]).find("img")
    appearance = {a.key: a for p in catalogue.people for a in p.appearances}
    recommendations = sorted(catalogue.recommendations, key=lambda r: (r.reason != "below_threshold", -r.similarity))
    assert [img["src"] for img in shown] == [
        f"../{appearance[key].video}/report/webp/{appearance[key].best_track}_best.webp"
        for r in recommendations
        for key in (r.a, r.b)
    ]

    page, seen = open_page(browser, index)
    widths = load_every_image(page)
    assert len(widths) == sum(len(p.appearances) for p in catalogue.people) + 2 * len(catalogue.recommendations)
    assert all(w > 0 for w in widths), widths
    assert page.locator(".person").count() == len(catalogue.people)
    assert page.locator("#recommendations .rec").count() == len(catalogue.recommendations)
    both = next(p for p in catalogue.people if len(p.videos) == 2)
    card = page.locator(f"#person-{both.id}")
    assert card.locator("figure.appearance").count() == 2
    links = card.locator("figure.appearance a").evaluate_all("links => [...new Set(links.map(a => a.href))]")
    assert len(links) == 2
    for link, a in zip(links, both.appearances):
        target, anchor = link.split("#")
        assert target.endswith(f"/results/{a.video}/report/index.html") and anchor == f"identity-{a.identity}"
        assert f'id="{anchor}"' in Path(target.removeprefix("file://")).read_text(), (
            "the identity's card on the video page"
        )
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(two_halves.path / "people.png"), full_page=True)
    assert_quiet_and_offline(seen)
    page.close()


def test_video_pages_show_person_ids_in_chromium(two_halves, browser):
    """Each video's page shows every identity's person id of people.json (through results/report/people.js),
    linked to the person's card on the page across videos."""
    two_halves.snakemake()  # up to date unless a test before this one changed the run
    results = two_halves.path / "results"
    catalogue = read_people(results / "people" / "people.json")
    person_of = catalogue.person_of()
    for video in ("a", "b"):
        identities = read_clusters(results / video / "clusters.json").identities
        page, seen = open_page(browser, results / video / "report" / "index.html")
        page.wait_for_function("!document.getElementById('people-status').textContent.includes('need JavaScript')")
        badges = page.eval_on_selector_all(
            ".person-badge", "bs => bs.map(b => [b.closest('.identity').id, b.textContent, b.href, b.hidden])"
        )
        assert len(badges) == len(identities) > 0
        for (card, text, href, hidden), identity in zip(badges, identities):
            person = person_of[f"{video}:{identity.id}"]
            assert card == f"identity-{identity.id}" and not hidden
            assert text.startswith(f"Person {person}") and text.endswith(" · 2 videos") == (
                len(next(p for p in catalogue.people if p.id == person).videos) == 2
            )
            target, anchor = href.split("#")
            assert Path(target.removeprefix("file://")) == results / "report" / "index.html"
            assert f'id="{anchor}"' in (results / "report" / "index.html").read_text() and anchor == f"person-{person}"
        status = page.inner_text("#people-status")
        people = len({person_of[f"{video}:{i.id}"] for i in identities})
        assert f"{len(identities)} identities of {people} people" in status
        assert "rerun" not in status
        assert_quiet_and_offline(seen)
        page.close()


def test_one_video_and_cross_video_decisions(two_halves, tmp_path):
    """A person's cross-video split keeps two identities apart; a merge joins them, marked as decided."""
    catalogue = read_people(two_halves.path / "results" / "people" / "people.json")
    both = next(p for p in catalogue.people if len(p.videos) == 2)
    a, b = both.appearances[0].key, both.appearances[1].key
    overrides = two_halves.path / "overrides.yaml"
    try:
        overrides.write_text(
            f'people:\n  split: [["{a.replace(":", ":identity:")}", "{b.replace(":", ":identity:")}"]]\n'
        )
        two_halves.config["cluster"]["overrides"] = str(overrides)
        two_halves.write_config()
        two_halves.snakemake()
        split = read_people(two_halves.path / "results" / "people" / "people.json")
        assert split.person_of()[a] != split.person_of()[b]
        # candidates come from appearance alone: the pair is still a link, now a recommendation saying why
        assert any({link.a, link.b} == {a, b} for link in catalogue.links)
        assert any({r.a, r.b} == {a, b} and r.reason == "split_by_person" for r in split.recommendations)
        # a person's merge holds, also against what the clustering had found
        lone = next(p for p in catalogue.people if len(p.appearances) == 1).appearances[0]
        other = next(x for x in both.appearances if x.video != lone.video)
        overrides.write_text(
            f'people:\n  merge: [["{other.video}:identity:{other.identity}", "{lone.video}:track:{lone.tracks[0]}"]]\n'
        )
        two_halves.snakemake()
        merged = read_people(two_halves.path / "results" / "people" / "people.json")
        assert merged.person_of()[other.key] == merged.person_of()[lone.key]
        assert next(p for p in merged.people if other.key in {x.key for x in p.appearances}).decided_by == "person"

        # two identities seen in the same frame cannot be merged: the job fails naming why
        rows = read_identities(two_halves.path / "results" / "a" / "identities.npz")
        frames = {
            i: set(rows.rows.frames[rows.identity_ids == i].tolist()) for i in set(rows.identity_ids.tolist()) - {-1}
        }
        x, y = next((x, y) for x, y in combinations(sorted(frames), 2) if frames[x] & frames[y])
        overrides.write_text(f'people:\n  merge: [["a:identity:{x}", "a:identity:{y}"]]\n')
        assert two_halves.snakemake(check=False).returncode != 0
        assert "must stay apart" in (two_halves.path / "logs" / "people" / "people.log").read_text()
    finally:
        two_halves.config["cluster"]["overrides"] = None
        two_halves.write_config()


def test_a_selected_person_is_exported_with_exactly_their_boxes(two_halves):
    """One person selected by a track key: results/people/selected/<id>/ holds exactly that person's rows of
    each video's identities.txt (read here as plain text), their best crops and a summary."""
    two_halves.snakemake()  # up to date unless a test before this one changed the run
    results = two_halves.path / "results"
    both = next(p for p in read_people(results / "people" / "people.json").people if len(p.videos) == 2)
    first = both.appearances[0]
    key = f"{first.video}:track:{first.tracks[0]}"
    name = "<script>alert(1)</script>"
    overrides = two_halves.path / "overrides.yaml"
    try:
        overrides.write_text(f'people:\n  select: ["{key}"]\n  names: {{"{key}": "{name}"}}\n')
        two_halves.config["cluster"]["overrides"] = str(overrides)
        two_halves.write_config()
        two_halves.snakemake()
        catalogue = read_people(results / "people" / "people.json")
        chosen = [p for p in catalogue.people if p.selected]
        assert len(chosen) == 1 and chosen[0].name == name
        person = chosen[0]
        assert first.key in {a.key for a in person.appearances}
        # (Snakemake marks a directory output with its own .snakemake_timestamp)
        exported = [p.name for p in (results / "people" / "selected").iterdir() if not p.name.startswith(".")]
        assert exported == [str(person.id)]
        folder = results / "people" / "selected" / str(person.id)
        with open(folder / "boxes.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert {r["video"] for r in rows} == set(person.videos)
        for video in ("a", "b"):
            ids = {str(a.identity) for a in person.appearances if a.video == video}
            tracks = {str(t) for a in person.appearances if a.video == video for t in a.tracks}
            with open(results / video / "identities.txt") as fh:  # its detections (filled boxes have confidence 0)
                lines = [line.strip().split(",")[:7] for line in fh]
                expected = sorted(tuple(f) for f in lines if f[1] in ids and float(f[6]) > 0)
            mine = [r for r in rows if r["video"] == video]
            got = sorted((r["mot_frame"], r["identity"], r["x"], r["y"], r["w"], r["h"], r["score"]) for r in mine)
            assert got == expected, f"video {video}: the person's boxes, no more, no less"
            assert all(int(r["frame"]) == int(r["mot_frame"]) - 1 and r["track"] in tracks for r in mine)
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["person"] == person.id and summary["name"] == name and summary["selected_by"] == [key]
        assert summary["boxes"] == len(rows) and summary["videos"] == person.videos
        crops = sorted((folder / "crops").iterdir())
        assert [c.name for c in crops] == sorted(summary["crops"])
        max_crops = two_halves.config["people"]["max_crops"]
        assert 0 < len(crops) <= max_crops * len(person.appearances)
        for crop in crops:
            video, frame, track = crop.stem.split("_")
            assert track in {str(t) for a in person.appearances if a.video == video for t in a.tracks}
            assert iio.imread(crop).ndim == 3
    finally:
        two_halves.config["cluster"]["overrides"] = None
        two_halves.write_config()
