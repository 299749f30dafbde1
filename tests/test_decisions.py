"""A person decides in the report: the pages' decisions panel (templates/decisions.js) in a real Chromium.

The export must be the overrides file's canonical text (reidflow.overrides.dump_overrides) byte for byte,
the decisions in force (results/report/decisions.js) with the page's added; on real data, fed back to
Snakemake, it reruns only what it changes and the results say what the person decided.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections import Counter
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from browser import assert_quiet_and_offline, browser, open_page  # noqa: F401  browser is a fixture
from conftest import Workdir, copy_workflow, planned_jobs
from test_report import (
    HOSTILE,
    PEOPLE_VIDEOS,
    SETTINGS,
    appearance,
    distinct_crops,
    make_people,
    make_records,
    people_of,
    people_summaries,
    write_crops,
    write_no_decisions,
)
from test_workflow_people import two_halves  # noqa: F401  a fixture: the real two-video run

from reidflow.formats.clusters import read_clusters
from reidflow.formats.people import People, Person, read_people
from reidflow.formats.tracks import read_tracks
from reidflow.overrides import Overrides, dump_overrides, load_overrides, load_people_overrides
from reidflow.report.images import still_webp, track_webp
from reidflow.report.index import (
    DECISIONS_SCRIPT,
    PEOPLE_SCRIPT,
    decisions_script,
    video_summary,
    write_decisions_script,
    write_index,
    write_people_script,
)
from reidflow.report.video import write_video_report

SCRIPT_NAME = "<script>alert(1)</script>"
# names no YAML reader may take for anything but text, and keys long enough for PyYAML's "? key" form
AWKWARD = [
    SCRIPT_NAME,
    'Zoë "the tall" O\'Neil \\ #1: [a, b] {c} & *x !y %z @w `v` | > -',
    "tab\tnew\nline\rcr\x00nul\x07\x08\x0b\x0c\x1b esc \x7f del \x85 nel \xa0 nbsp",
    "\u2028\u2029\ufeff bom \ud7ff \ue000 \ufffd \ufffe \uffff",
    "astral \U0001f600 \U00010000 \U0010ffff",
    "yes",
    "null",
    "~",
    "0x1F",
    "- item",
    "? key",
    "  spaces  ",
    "",
    "李小龍 · Ελένη · Анна",
]


def video_overrides(data: list) -> dict[str, Overrides]:
    return {video: Overrides.from_param(entry) for video, entry in data}


def dump_in_browser(page, videos: list, people: dict) -> str:
    return page.evaluate("([v, p]) => window.reidflowDecisions.dump(v, p)", [videos, people])


def video_page(tmp_path: Path, video: str = "syn", in_force: tuple = (None, {}, None)) -> Path:
    """A video page of generated records with results/report/people.js and decisions.js beside it."""
    results = tmp_path / "results"
    out = results / video / "report"
    write_video_report(
        make_records(video=video),
        write_crops(tmp_path / f"{video}.h5", video=video),
        out / "index.html",
        out / "webp",
        SETTINGS,
    )
    write_people_script(people_of(video), results / "report" / PEOPLE_SCRIPT)
    path, videos, people = in_force
    people = {"merge": [], "split": [], "names": {}, "select": [], **(people or {})}
    write_decisions_script(path, [video, "other"], videos, people, results / "report" / DECISIONS_SCRIPT)
    return out / "index.html"


def wait_ready(page) -> None:
    page.wait_for_function("!document.getElementById('decisions').hidden")


# --- the text: JavaScript writes what dump_overrides writes -------------------------------------------------


def test_decisions_script_is_escaped_and_ordered():
    text = decisions_script(
        "config/overrides.yaml",
        ["1", "cam"],
        {"cam": {"merge": [[3, 4]], "split": []}, "1": {"merge": [], "split": [], "ignore": [2]}},
        {"merge": [], "split": [], "names": {"cam:track:3": HOSTILE}, "select": ["cam:track:3"]},
    )
    body = text.removeprefix("window.REIDFLOW_OVERRIDES = ").removesuffix(";\n")
    assert not set("<>&") & set(body)
    assert json.loads(body) == {
        "path": "config/overrides.yaml",
        "videos": ["1", "cam"],
        "video_overrides": [
            ["1", {"merge": [], "split": [], "ignore": [2]}],
            ["cam", {"merge": [[3, 4]], "split": [], "ignore": []}],
        ],
        "people": {"merge": [], "split": [], "names": [["cam:track:3", HOSTILE]], "select": ["cam:track:3"]},
    }


def test_javascript_writes_the_canonical_text(browser, tmp_path):
    """Every awkward name, key and order gives byte for byte dump_overrides' text, which reads back as given."""
    page, seen = open_page(browser, video_page(tmp_path))
    wait_ready(page)
    long_video = "v" * 130
    cases = [
        ([], {}),
        ([["syn", {"merge": [[3, 17], [2, 1]], "split": [[5, 2]], "ignore": [40, 12, 4]}]], {}),
        ([["001", {"ignore": [1]}], ["1", {"merge": [[1, 2]]}], ["on", {"split": [[-1, 4]]}]], {}),
        (
            [
                [long_video, {"merge": [[1, 2]], "ignore": [3]}],
                ["v" * 122, {"ignore": [1]}],
                ["v" * 123, {"ignore": [1]}],
            ],
            {},
        ),
        (
            [["syn", {"merge": [[3, 9]]}]],
            {
                "merge": [["syn:track:3", "other:identity:2"]],
                "split": [["syn:identity:1", "other:track:7"]],
                "names": [[f"syn:track:{i}", name] for i, name in enumerate(AWKWARD)]
                + [[f"{long_video}:track:1", "Bo"]],
                "select": ["syn:track:3", f"{long_video}:track:1"],
            },
        ),
    ]
    for videos, people in cases:
        expected = dump_overrides(
            video_overrides(videos), {k: dict(v) if k == "names" else v for k, v in people.items()}
        )
        assert dump_in_browser(page, videos, people) == expected, (videos, people)
        if not expected:
            continue
        path = tmp_path / "overrides.yaml"
        path.write_text(expected, encoding="utf-8")
        sheet = [v for v, _ in videos] + ["syn", "other", long_video]
        assert load_overrides(path, sheet) == {
            v: o for v, o in video_overrides(videos).items() if o.as_param() != {"merge": [], "split": []}
        }
        if people:  # its names: test_names_read_back_exactly (an empty one is refused)
            people["names"] = [n for n in people["names"] if n[1].strip()]
            loaded = (
                load_people_overrides(path.with_name("people.yaml"), sheet)
                if path.with_name("people.yaml").write_text(dump_in_browser(page, videos, people), encoding="utf-8")
                else None
            )
            assert loaded is not None and loaded["select"] == people["select"] and loaded["merge"] == people["merge"]
            assert loaded["names"] == {k: v.strip() for k, v in people["names"]}
    assert_quiet_and_offline(seen)
    page.close()


def test_names_read_back_exactly(browser, tmp_path):
    """Each awkward (valid) name, exported by the page, is the name load_people_overrides reads."""
    page, seen = open_page(browser, video_page(tmp_path))
    wait_ready(page)
    names = [n for n in AWKWARD if n.strip()]
    people = {"names": [[f"syn:track:{i}", n] for i, n in enumerate(names)]}
    path = tmp_path / "overrides.yaml"
    path.write_text(dump_in_browser(page, [], people), encoding="utf-8")
    assert load_people_overrides(path, ["syn"])["names"] == {f"syn:track:{i}": n.strip() for i, n in enumerate(names)}
    assert_quiet_and_offline(seen)
    page.close()


# --- the controls -------------------------------------------------------------------------------------------


def export(page, name: str = "overrides.yaml") -> str:
    """The downloaded file's text; ``name``: the file name of config cluster.overrides."""
    with page.expect_download() as info:
        page.click("#decisions-export")
    download = info.value
    assert download.suggested_filename == name
    return Path(download.path()).read_text(encoding="utf-8")


def name_it(page, card: str, name: str, keyboard: bool = False) -> None:
    if keyboard:
        page.focus(card)
        page.keyboard.press("n")
    else:
        page.click(f"{card} > .decide [data-act=name]")
    page.fill("#decisions-name-input", name)
    page.keyboard.press("Enter")


def test_decide_on_a_video_page(browser, tmp_path):
    """Merge a recommendation, split a track out, not a person, a hostile name, select; the export is the
    file in force with these added; reloads keep them; undo; the veto of tracks seen together; keys."""
    in_force = (
        "config/decisions.yaml",
        {"other": {"merge": [[1, 2]], "split": [], "ignore": [8]}},
        {"names": {"other:track:1": "Ann"}, "select": ["other:track:1"]},
    )
    html = video_page(tmp_path, in_force=in_force)
    page, seen = open_page(browser, html)
    wait_ready(page)
    assert page.locator("#decisions-list li").count() == 0
    assert "config/decisions.yaml" in page.inner_text("#decisions-apply")
    # recommendations: (5, 12) below the threshold first, then (7, 3) seen together
    recs = page.locator("#recommendations .rec")
    recs.nth(0).locator("[data-act=merge]").click()
    recs.nth(1).locator("[data-act=merge]").click()
    assert "same frame" in page.inner_text("#decisions-message")
    recs.nth(1).locator("[data-act=split]").click()
    # identity 0 = tracks 3, 9: track 9 out; identity 1 (12, 20) not a person is refused (12 is merged)
    page.click("#identity-0 figure[data-track='9'] [data-act=split]")
    page.click("#identity-1 > .decide [data-act=ignore]")
    assert "in a merge" in page.inner_text("#decisions-message")
    page.click("#identity-2 > .decide [data-act=ignore]")  # track 7
    name_it(page, "#identity-0", SCRIPT_NAME)
    page.click("#identity-0 > .decide [data-act=select]")
    assert page.inner_text("#identity-0 > .decide .decided") == f"pending: name \u201c{SCRIPT_NAME}\u201d · selected"
    assert page.locator("#decisions-list li").count() == 6
    expected = dump_overrides(
        {
            "syn": Overrides(merge=((5, 12),), split=((7, 3), (9, 3)), ignore=frozenset({7})),
            "other": Overrides(merge=((1, 2),), ignore=frozenset({8})),
        },
        {
            "names": {"other:track:1": "Ann", "syn:track:3": SCRIPT_NAME},
            "select": ["other:track:1", "syn:track:3"],
        },
    )
    assert export(page, "decisions.yaml") == expected
    # kept across a reload; undo of the last one (u), then of the merge (its own button)
    page.reload(wait_until="load")
    wait_ready(page)
    assert page.locator("#decisions-list li").count() == 6
    assert page.inner_text("#identity-0 > .decide .decided") == f"pending: name \u201c{SCRIPT_NAME}\u201d · selected"
    page.locator("body").press("u")
    assert page.locator("#decisions-list li").count() == 5
    page.locator("#decisions-list li").nth(0).locator("button").click()
    texts = page.locator("#decisions-list li").all_inner_texts()
    assert len(texts) == 4 and not any(t.startswith("merge") for t in texts)
    # keyboard: m on the focused recommendation, * on an identity, n to name it
    recs.nth(0).focus()
    page.keyboard.press("m")
    page.focus("#identity-3")
    page.keyboard.press("*")
    name_it(page, "#identity-3", "  Bo  ", keyboard=True)
    text = export(page, "decisions.yaml")
    path = tmp_path / "overrides.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_overrides(path, ["syn", "other"])["syn"] == Overrides(
        merge=((5, 12),), split=((7, 3), (9, 3)), ignore=frozenset({7})
    )
    assert load_people_overrides(path, ["syn", "other"]) == {
        "merge": [],
        "split": [],
        "names": {"other:track:1": "Ann", "syn:track:3": SCRIPT_NAME, "syn:track:5": "Bo"},
        "select": ["other:track:1", "syn:track:5"],
    }
    # the hostile name is text everywhere: in the list, on the card, never markup
    assert SCRIPT_NAME in page.inner_text("#decisions-list")
    assert "&lt;script&gt;" in page.inner_html("#decisions-list")
    assert_quiet_and_offline(seen)
    assert all(url.startswith("file://") for url in seen["requests"])
    page.close()


def test_merge_two_identities_and_another_results_folder(browser, tmp_path):
    """Merge with…: one identity, then the other; another results folder has its own pending list."""
    page, seen = open_page(browser, video_page(tmp_path))
    wait_ready(page)
    page.click("#identity-2 > .decide [data-act=merge]")
    assert "armed" in page.get_attribute("#identity-2", "class")
    page.click("#identity-3 > .decide [data-act=merge]")
    assert export(page) == dump_overrides({"syn": Overrides(merge=((7, 5),))})
    page.close()
    other, seen_other = open_page(browser, video_page(tmp_path / "elsewhere"))
    wait_ready(other)
    assert other.locator("#decisions-list li").count() == 0 and export(other) == ""
    other.close()
    assert_quiet_and_offline(seen)
    assert_quiet_and_offline(seen_other)


def test_decide_on_the_people_page(browser, tmp_path):
    """People page: merge a recommendation, split another, name, select, not a person; exported whole."""
    people = make_people()
    for person in people.people:  # the video pages' WebPs the cards show
        for x in person.appearances:
            webp = tmp_path / "results" / x.video / "report" / "webp"
            webp.mkdir(parents=True, exist_ok=True)
            crops = distinct_crops(3, x.best_track)
            (webp / f"{x.best_track}.webp").write_bytes(track_webp(crops, np.arange(3), SETTINGS))
            (webp / f"{x.best_track}_best.webp").write_bytes(still_webp(crops[0], SETTINGS))
    index = tmp_path / "results" / "report" / "index.html"
    write_index(people_summaries(), {"report": {"note": HOSTILE}}, people, index)
    a, b = PEOPLE_VIDEOS
    write_decisions_script(
        None,
        list(PEOPLE_VIDEOS),
        {},
        {"merge": [], "split": [], "names": {}, "select": []},
        index.with_name(DECISIONS_SCRIPT),
    )
    page, seen = open_page(browser, index)
    wait_ready(page)
    assert "set cluster.overrides" in page.inner_text("#decisions-apply")
    recs = page.locator("#recommendations .rec")
    keys = [(recs.nth(i).get_attribute("data-a"), recs.nth(i).get_attribute("data-b")) for i in range(3)]
    recs.nth(1).locator("[data-act=merge]").click()  # seen together in one video
    assert "same frame" in page.inner_text("#decisions-message")
    recs.nth(0).locator("[data-act=merge]").click()
    recs.nth(2).locator("[data-act=split]").click()
    name_it(page, "#person-4", HOSTILE)
    page.click("#person-4 > .decide [data-act=select]")
    page.click("#person-3 figure.appearance [data-act=ignore]")  # b:track:7 names a person in the merge
    assert "names a person" in page.inner_text("#decisions-message")
    page.click(f"#person-4 figure.appearance[data-video='{b}'] [data-act=ignore]")
    page.click("#person-1 > .decide [data-act=merge]")
    page.click("#person-2 > .decide [data-act=merge]")
    key4 = page.get_attribute("#person-4", "data-key")
    assert key4 == f"{a}:track:12"
    expected = dump_overrides(
        {b: Overrides(ignore=frozenset({5, 6}))},
        {
            "merge": [list(keys[0]), [f"{a}:track:4", f"{a}:track:3"]],
            "split": [list(keys[2])],
            "names": {key4: HOSTILE},
            "select": [key4],
        },
    )
    assert export(page) == expected
    assert HOSTILE in page.inner_text("#person-4 .decided") and page.locator("img[src=x]").count() == 0
    assert_quiet_and_offline(seen)
    page.close()


# --- on real data: the export, fed back to Snakemake --------------------------------------------------------


def frames_of(results: Path, video: str) -> dict[int, set[int]]:
    rows = read_tracks(results / video / "tracks.npz").rows
    return {int(t): set(rows.frames[rows.track_ids == t].tolist()) for t in set(rows.track_ids.tolist())}


def planned(wd: Workdir) -> Counter:
    proc = wd.snakemake("-n")
    return Counter(
        (job.rule, job.wildcards.get("video")) for job in planned_jobs(proc.stdout + proc.stderr) if job.rule != "all"
    )


@pytest.mark.slow
def test_decisions_made_in_the_page_are_applied(two_halves, browser, tmp_path):  # noqa: F811
    """On a copy of the two-video run: merge, split, not a person, a hostile name and select, clicked in video
    a's page, exported; Snakemake then reruns a's clustering chain, people and the pages, not b's, and
    clusters.json and people.json say what the person decided."""
    root = tmp_path / "project"
    shutil.copytree(two_halves.path, root, symlinks=True)
    wd = Workdir(root, copy.deepcopy(two_halves.config), snakefile=copy_workflow(tmp_path / "workflow"))
    wd.snakemake()  # up to date with this copy of the workflow (the checkout may have changed since)
    overrides = root / "config" / "overrides.yaml"
    overrides.write_text("# decisions of a person\n")
    wd.config["cluster"]["overrides"] = "config/overrides.yaml"
    wd.write_config()
    assert planned(wd) == Counter({("report_index", None): 1}), "the pages learn the file's name, nothing else"
    wd.snakemake()

    results = root / "results"
    clusters = read_clusters(results / "a" / "clusters.json")
    members = {i.id: sorted(i.members) for i in clusters.identities}
    # split: a track out of an identity of several; not a person: an identity of one track
    several = next(i for i in sorted(members) if len(members[i]) > 1)
    out, kept = members[several][0], members[several][1:]
    lone = next(i for i in sorted(members) if len(members[i]) == 1)
    key = f"a:track:{kept[0]}"  # what names the identity: its first track that stays
    # merge: two people never seen together in any video, untouched by the decisions above; on the people
    # page's recommendation of them if it has one
    catalogue = read_people(results / "people" / "people.json")
    frames = {video: frames_of(results, video) for video in ("a", "b")}

    def seen(person, video: str) -> set[int]:
        return set().union(*(frames[video][t] for x in person.appearances if x.video == video for t in x.tracks))

    untouched = [p for p in catalogue.people if not {f"a:{several}", f"a:{lone}"} & {x.key for x in p.appearances}]
    apart = [(p, q) for p, q in combinations(untouched, 2) if not any(seen(p, v) & seen(q, v) for v in ("a", "b"))]
    assert apart, "the fixture has two people a merge may join"
    person_of = catalogue.person_of()
    ranked = sorted(catalogue.recommendations, key=lambda r: (r.reason != "below_threshold", -r.similarity))
    wanted = [{p.id, q.id} for p, q in apart]
    rec = next((i for i, r in enumerate(ranked) if {person_of[r.a], person_of[r.b]} in wanted), None)
    # the identities the merge joins: of the recommendation, else of the cards' first appearances
    joined = (ranked[rec].a, ranked[rec].b) if rec is not None else tuple(x.appearances[0].key for x in apart[0])

    page, seen_page = open_page(browser, results / "a" / "report" / "index.html")
    wait_ready(page)
    assert "config/overrides.yaml" in page.inner_text("#decisions-apply")
    vetoed = page.locator("#recommendations .rec[data-together='1']")
    if vetoed.count():  # a pair the co-occurrence veto kept apart: the page refuses to merge it
        vetoed.first.locator("[data-act=merge]").click()
        assert "same frame" in page.inner_text("#decisions-message")
    page.click(f"#identity-{several} figure[data-track='{out}'] [data-act=split]")
    page.focus(f"#identity-{lone}")
    page.keyboard.press("x")  # not a person
    name_it(page, f"#identity-{several}", SCRIPT_NAME)
    page.click(f"#identity-{several} > .decide [data-act=select]")
    assert page.locator("#decisions-list li").count() == 4
    page.reload(wait_until="load")
    wait_ready(page)
    assert page.locator("#decisions-list li").count() == 4, "pending decisions survive a reload"
    # the page across videos shares the list (one per results folder): merge two people there
    page.goto((results / "report" / "index.html").as_uri(), wait_until="load")
    wait_ready(page)
    assert page.locator("#decisions-list li").count() == 4
    if rec is not None:
        card = page.locator("#recommendations .rec").nth(rec)
        merge_keys = [card.get_attribute("data-a"), card.get_attribute("data-b")]
        card.locator("[data-act=merge]").click()
    else:
        p, q = apart[0]
        merge_keys = [page.get_attribute(f"#person-{x.id}", "data-key") for x in (p, q)]
        page.click(f"#person-{p.id} > .decide [data-act=merge]")
        page.focus(f"#person-{q.id}")
        page.keyboard.press("m")
    assert page.locator("#decisions-list li").count() == 5
    text = export(page)
    assert text == dump_overrides(
        {"a": Overrides(split=tuple((out, t) for t in kept), ignore=frozenset(members[lone]))},
        {"merge": [merge_keys], "names": {key: SCRIPT_NAME}, "select": [key]},
    )
    assert SCRIPT_NAME in page.inner_text("#decisions-list") and page.locator("#decisions-list script").count() == 0

    overrides.write_text(text, encoding="utf-8")
    jobs = Counter({(rule, "a"): 1 for rule in ("cluster", "identities", "evaluate", "report")})
    jobs.update({(rule, None): 1 for rule in ("people", "report_index", "select_people")})
    if (results / "people" / "evaluation.json").is_file():
        jobs[("evaluate_people", None)] = 1
    assert planned(wd) == jobs, "video b's clustering and page stay as they are"
    wd.snakemake()

    after = read_clusters(results / "a" / "clusters.json")
    identity_of = after.identity_of()
    assert all(identity_of[out] != identity_of[t] for t in kept)
    flagged = {f.track: f.reasons for f in after.flagged}
    assert all("ignored_by_person" in flagged[t] for t in members[lone])
    assert after.overrides["ignore"] == members[lone]
    catalogue = read_people(results / "people" / "people.json")
    chosen = [p for p in catalogue.people if p.selected]
    assert len(chosen) == 1 and chosen[0].name == SCRIPT_NAME
    assert f"a:{identity_of[kept[0]]}" in {x.key for x in chosen[0].appearances}
    assert catalogue.overrides["names"] == {key: SCRIPT_NAME} and catalogue.overrides["merge"] == [merge_keys]
    assert catalogue.person_of()[joined[0]] == catalogue.person_of()[joined[1]]
    assert (results / "people" / "selected" / str(chosen[0].id)).is_dir()
    card = page.locator(f"#person-{chosen[0].id}")
    page.reload(wait_until="load")
    wait_ready(page)
    # (text_content: the browser renders cards far from the viewport lazily, content-visibility)
    assert card.locator(".person-name").text_content() == SCRIPT_NAME and card.locator(".selected").count() == 1
    assert page.locator(".person script").count() == 0

    # the decisions are in force now: no longer pending; the video page shows the name as text on the badge
    assert page.locator("#decisions-list li").count() == 0
    assert "in force now" in page.inner_text("#decisions-message")
    assert export(page) == text, "the file in force, as it was exported"
    page.goto((results / "a" / "report" / "index.html").as_uri(), wait_until="load")
    wait_ready(page)
    page.wait_for_function("!document.getElementById('people-status').textContent.includes('need JavaScript')")
    badge = page.locator(f"#identity-{identity_of[kept[0]]} .person-badge")
    assert SCRIPT_NAME in badge.inner_text() and page.locator(".identity script").count() == 0
    assert_quiet_and_offline(seen_page)
    page.close()


def many_people(n: int, tmp_path: Path) -> Path:
    """The page across videos with ``n`` people, one appearance each (the WebPs: one image for all)."""
    video = "many"
    people = [Person(i, [appearance(video, i, [i], 0, 9)], f"{video}:{i}") for i in range(1, n + 1)]
    catalogue = People([video], {}, {"merge": [], "split": []}, people, [], [])
    webp = tmp_path / "results" / video / "report" / "webp"
    webp.mkdir(parents=True)
    crops = distinct_crops(2, 1)
    moving, still = track_webp(crops, np.arange(2), SETTINGS), still_webp(crops[0], SETTINGS)
    for i in range(1, n + 1):
        (webp / f"{i}.webp").write_bytes(moving)
        (webp / f"{i}_best.webp").write_bytes(still)
    index = tmp_path / "results" / "report" / "index.html"
    summary = video_summary(make_records(video, evaluation=False).tracks, make_records(video).clusters, None)
    write_index([summary], {}, catalogue, index)
    write_no_decisions(index.parent, [video])
    return index


def test_two_hundred_people_grow_the_page_linearly(browser, tmp_path):
    """The controls are a few per card: the page grows linearly with its people (no N² layout); deciding
    works with 200."""
    counts = {}
    for n in (50, 100, 200):
        page, seen = open_page(browser, many_people(n, tmp_path / str(n)))
        wait_ready(page)
        counts[n] = page.evaluate("document.getElementsByTagName('*').length")
        assert page.locator("[data-act]").count() == 4 * n  # merge, name, select; not a person per appearance
        if n == 200:
            page.click("#person-200 > .decide [data-act=select]")
            page.click("#person-1 > .decide [data-act=merge]")
            page.focus("#person-199")
            page.keyboard.press("m")
            assert export(page) == dump_overrides(
                {}, {"merge": [["many:track:1", "many:track:199"]], "select": ["many:track:200"]}
            )
        assert_quiet_and_offline(seen)
        page.close()
    per_card = (counts[100] - counts[50]) / 50
    assert counts[200] - counts[100] == 100 * per_card, "the same elements per card, whatever the number of cards"
    assert per_card < 40


def test_without_the_decisions_in_force_the_export_replaces_nothing(browser, tmp_path):
    """Before rule report_index ran (no people.js, no decisions.js) the page still records decisions, but its
    export is named so that it cannot replace the overrides file, and says to add it by hand."""
    html = video_page(tmp_path)
    for name in (PEOPLE_SCRIPT, DECISIONS_SCRIPT):
        (tmp_path / "results" / "report" / name).unlink()
    page, seen = open_page(browser, html)
    wait_ready(page)
    assert "unknown" in page.inner_text("#decisions-apply")
    page.click("#identity-3 > .decide [data-act=select]")
    assert export(page, "overrides.new.yaml") == dump_overrides({}, {"select": ["syn:track:5"]})
    assert seen["console"] == [("error", "Failed to load resource: net::ERR_FILE_NOT_FOUND")], "people.js only"
    assert_quiet_and_offline({**seen, "console": []})
    page.close()
