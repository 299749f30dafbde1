"""reidflow.overrides: ignore, names and select, their checks, and the canonical text (dump_overrides)."""

from __future__ import annotations

import pytest
import yaml
from test_cluster import SCENE, SIMS, similarity_record

from reidflow import cluster
from reidflow.overrides import (
    NAME_MAX,
    Overrides,
    OverridesError,
    dump_overrides,
    empty_people_param,
    load_overrides,
    load_people_overrides,
    overrides_param,
)

VIDEOS = ["a", "b", "001"]
HOSTILE = [
    "<script>alert(1)</script>",
    'Zoë "Z" O\'Neil: x',
    "- [1]",
    "first line\nsecond line",
    "yes",
    "null",
    "42",
    "{a: b}",
    "&anchor *alias !!python/object:os.system",
    "# not a comment",
    "tab\there, nbsp\xa0, line sep\u2028, del\x7f, emoji \U0001f600",
    "'single' and \\backslash\\",
]


def write(tmp_path, text: str):
    path = tmp_path / "overrides.yaml"
    path.write_text(text)
    return path


def test_ignore_is_parsed_into_the_videos_overrides_and_its_param(tmp_path):
    path = write(tmp_path, "a:\n  merge: [[1, 2]]\n  ignore: [40, 12, 12]\nb:\n  split: [[3, 4]]\n")
    found = load_overrides(path, VIDEOS)
    assert found["a"] == Overrides(merge=((1, 2),), ignore=frozenset({12, 40}))
    assert found["a"].track_ids() == {1, 2, 12, 40}, "cluster checks every named id against the video's tracks"
    assert overrides_param(found, "a") == {"merge": [[1, 2]], "split": [], "ignore": [12, 40]}
    # a video without ignore keeps its earlier param (and clusters.json record): nothing reruns for it
    assert overrides_param(found, "b") == {"merge": [], "split": [[3, 4]]}
    assert Overrides.from_param(overrides_param(found, "a")) == found["a"]


def test_an_ignored_track_the_video_lacks_fails_its_clustering_naming_it():
    """build_clusters checks Overrides.track_ids(), which holds the ignored tracks."""
    with pytest.raises(OverridesError, match=r"^ovr.yaml: video 'v': unknown track id\(s\) 99"):
        cluster.build_clusters(
            similarity_record(SIMS, SCENE),
            SCENE,
            overrides=Overrides(ignore=frozenset({99})),
            overrides_file="ovr.yaml",
        )


@pytest.mark.parametrize(
    "text, message",
    [
        ("a:\n  ignore: 12\n", "video 'a': ignore must be a list of track ids, e.g. [12, 40]; bad: 12"),
        ("a:\n  ignore: [1, x]\n", "video 'a': ignore must be a list of track ids, e.g. [12, 40]; bad: 'x'"),
        ("a:\n  ignore: [true]\n", "video 'a': ignore must be a list of track ids, e.g. [12, 40]; bad: True"),
        (
            "a:\n  merge: [[3, 12]]\n  ignore: [12]\n",
            "video 'a': track 12 is in ignore (not a person) and in merge [3, 12]; remove one of the two",
        ),
        (
            "a:\n  ignored: [12]\n",
            "video 'a': expected keys merge and split (pairs of track ids) and ignore (track ids) only",
        ),
    ],
)
def test_bad_ignore_entries_name_the_file_and_entry(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(OverridesError) as err:
        load_overrides(path, VIDEOS)
    assert str(err.value) == f"{path}: {message}" or str(err.value).startswith(f"{path}: {message}")


def test_a_split_with_an_ignored_track_is_allowed(tmp_path):
    path = write(tmp_path, "a:\n  split: [[3, 12]]\n  ignore: [12]\n")
    assert load_overrides(path, VIDEOS)["a"] == Overrides(split=((3, 12),), ignore=frozenset({12}))


def test_names_and_select(tmp_path):
    path = write(
        tmp_path,
        "people:\n"
        '  names: {"a:track:3": "  Alice\\t", "b:identity:2": "<script>alert(1)</script>", "001:track:1": "Zoë"}\n'
        '  select: ["a:track:3", "b:identity:2", "a:track:3"]\n'
        '  merge: [["a:track:3", "b:track:8"]]\n',
    )
    assert load_people_overrides(path, VIDEOS) == {
        "merge": [["a:track:3", "b:track:8"]],
        "split": [],
        "names": {"a:track:3": "Alice", "b:identity:2": "<script>alert(1)</script>", "001:track:1": "Zoë"},
        "select": ["a:track:3", "b:identity:2"],
    }
    assert load_people_overrides(None, VIDEOS) == empty_people_param()
    assert load_people_overrides(write(tmp_path, "a:\n  merge: [[1, 2]]\n"), VIDEOS) == empty_people_param()
    assert load_people_overrides(write(tmp_path, f'people:\n  names: {{"a:track:1": "{"x" * NAME_MAX}"}}\n'), VIDEOS)[
        "names"
    ] == {"a:track:1": "x" * NAME_MAX}


@pytest.mark.parametrize(
    "text, message",
    [
        ('people:\n  names: {"a:track:1": 42}\n', "people.names: 'a:track:1': the name 42 is not text; quote it"),
        ('people:\n  names: {"a:track:1": yes}\n', "people.names: 'a:track:1': the name True is not text; quote it"),
        ('people:\n  names: {"a:track:1": null}\n', "people.names: 'a:track:1': the name None is not text"),
        ('people:\n  names: {"a:track:1": "   "}\n', "people.names: 'a:track:1': the name is empty"),
        (
            f'people:\n  names: {{"a:track:1": "{"x" * (NAME_MAX + 1)}"}}\n',
            f"people.names: 'a:track:1': the name has {NAME_MAX + 1} characters, at most {NAME_MAX} are allowed",
        ),
        ('people:\n  names: {"a:3": "Al"}\n', "people.names: 'a:3' is no key"),
        (
            'people:\n  names: {"zz:track:3": "Al"}\n',
            "people.names: 'zz:track:3': video 'zz' is not in the video sheet",
        ),
        ('people:\n  names: ["a:track:3", "Al"]\n', "people.names must be a mapping of key to name"),
        ('people:\n  select: "a:track:3"\n', "people.select must be a list of keys"),
        ('people:\n  select: ["a:track:3", "a:person:1"]\n', "people.select: 'a:person:1' is no key"),
        ('people:\n  select: [["a:track:3"]]\n', "people.select: ['a:track:3'] is no key"),
        ('people:\n  selected: ["a:track:3"]\n', "people: expected keys merge, split, names, select only"),
        (
            'a:\n  ignore: [12]\npeople:\n  select: ["a:track:12"]\n',
            "people.select: 'a:track:12': track 12 is in video 'a''s ignore (not a person)",
        ),
        (
            'a:\n  ignore: [12]\npeople:\n  merge: [["a:track:12", "b:track:1"]]\n',
            "people.merge: 'a:track:12': track 12 is in video 'a''s ignore (not a person)",
        ),
    ],
)
def test_bad_people_entries_name_the_file_and_entry(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(OverridesError) as err:
        load_people_overrides(path, VIDEOS)
    assert str(err.value).startswith(f"{path}: "), err.value
    assert message in str(err.value)


def test_every_problem_is_reported_at_once(tmp_path):
    path = write(tmp_path, 'people:\n  names: {"a:track:1": 1, "b:track:2": ""}\n  select: ["c:track:1"]\n')
    with pytest.raises(OverridesError) as err:
        load_people_overrides(path, VIDEOS)
    assert "'a:track:1'" in str(err.value) and "'b:track:2'" in str(err.value) and "'c:track:1'" in str(err.value)


@pytest.mark.parametrize("name", HOSTILE)
def test_canonical_text_round_trips_hostile_names(tmp_path, name):
    per_video = {
        "001": Overrides(merge=((3, 17),), split=((2, 5),), ignore=frozenset({40, 12})),
        "a": Overrides(),  # no decisions: left out
        "b": Overrides(ignore=frozenset({7})),
    }
    people = {
        "merge": [["001:track:3", "b:track:8"]],
        "split": [["001:identity:2", "b:identity:1"]],
        "names": {"001:track:3": name, "b:identity:1": "Bob"},
        "select": ["001:track:3"],
    }
    text = dump_overrides(per_video, people)
    path = write(tmp_path, text)
    assert load_overrides(path, VIDEOS) == {k: v for k, v in per_video.items() if k != "a"}
    assert load_people_overrides(path, VIDEOS) == people
    # any YAML reader sees the name as one string, never markup, a list, a number or an object
    assert yaml.safe_load(text)["people"]["names"]["001:track:3"] == name
    lines = text.splitlines()
    assert [line for line in lines if not line.startswith(" ")] == ['"001":', '"b":', '"people":']
    assert all("<script>" not in line or line.strip().startswith('"001:track:3": "') for line in lines)
    assert dump_overrides(load_overrides(path, VIDEOS), load_people_overrides(path, VIDEOS)) == text


def test_canonical_text():
    text = dump_overrides(
        {"vtest": Overrides(merge=((3, 17),), split=((2, 5), (1, 4)), ignore=frozenset({40, 12}))},
        {"names": {"vtest:track:3": 'Zoë "Z"\n'}, "select": ["vtest:track:3"]},
    )
    assert text == (
        '"vtest":\n'
        '  "merge":\n'
        "  - [3, 17]\n"
        '  "split":\n'
        "  - [2, 5]\n"
        "  - [1, 4]\n"
        '  "ignore": [12, 40]\n'
        '"people":\n'
        '  "names":\n'
        '    "vtest:track:3": "Zoë \\"Z\\"\\n"\n'
        '  "select": ["vtest:track:3"]\n'
    )
    assert dump_overrides({}) == "" and dump_overrides({"a": Overrides()}, empty_people_param()) == ""
    with pytest.raises(OverridesError, match="no video may be called 'people'"):
        dump_overrides({"people": Overrides(merge=((1, 2),))})
    with pytest.raises(OverridesError, match="expected keys merge, split, names, select only"):
        dump_overrides({}, {"name": {}})


def test_video_ids_that_yaml_would_retype_stay_text(tmp_path):
    per_video = {
        "001": Overrides(ignore=frozenset({1})),
        "yes": Overrides(ignore=frozenset({2})),
        "1_0": Overrides(merge=((1, 2),)),
    }
    path = write(tmp_path, dump_overrides(per_video))
    assert load_overrides(path, list(per_video)) == per_video
