"""A person's last word on identities: the file named by config ``cluster.overrides``.

YAML keyed by video id; per video, track ids (those of ``tracks.npz``, shown in the report)::

    vtest:
      merge: [[3, 17]]        # the same person: always one identity
      split: [[2, 5]]         # different people: never one identity
      ignore: [12, 40]        # not a person (a false detection): in no identity
    people:                   # across videos (stage people): <video>:track:<id> or <video>:identity:<id>
      merge: [["vtest:track:3", "lobby:track:8"]]
      split: [["vtest:identity:2", "lobby:identity:1"]]
      names: {"vtest:track:3": "Alice"}   # a display name for the person holding that track or identity
      select: ["vtest:track:3"]           # people of interest: exported to results/people/selected/

Checked here, when the workflow is parsed: the form of every entry, that each video is in the sheet, that
no track is both ignored and merged, that no ``people`` key names an ignored track, and that names are text
(trimmed, 1 to 100 characters, any characters). What needs results is checked by the job that has them:
track ids by ``cluster``, ``people`` keys (and merges of identities seen together, two names for one
person) by ``people``; each error names the file and the entry.

Each video's rule ``cluster`` gets only its own slice as a param, so editing one video's entry reruns that
video's clustering (and ``people``, which reads it) and nothing else; rule ``people`` gets the ``people``
entry. ``dump_overrides`` writes the canonical text of the format (a decisions page should write the
same text).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from reidflow import ReidflowError

KINDS = ("merge", "split")
# A video's entry: the pair kinds, and the tracks that are no person.
VIDEO_KEYS = (*KINDS, "ignore")
# The entry of cross-video decisions; no video may have this id (reidflow.sheet.RESERVED_IDS).
PEOPLE = "people"
PEOPLE_KEYS = (*KINDS, "names", "select")
PERSON_KEY = re.compile(r"^(?P<video>[^:]+):(?P<kind>track|identity):(?P<id>-?\d+)$")
# Longest display name, in characters after trimming: a label on a card, not a biography.
NAME_MAX = 100
FIX = "see config/README.md, 'cluster.overrides'"


class OverridesError(ReidflowError):
    pass


class _TextKeyLoader(yaml.SafeLoader):
    """Safe YAML whose mapping keys are the text as written: plain YAML would make the video ids ``001``
    and ``1_0`` the ints 1 and 10, and ``on``/``yes`` True, naming the wrong video or colliding."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        written = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    "a key that is not plain text; quote the video id",
                    key_node.start_mark,
                )
            if key_node.value in written:  # plain YAML keeps the last one silently
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"the key {key_node.value!r} appears twice",
                    key_node.start_mark,
                )
            written.add(key_node.value)
        self.flatten_mapping(node)  # ``<<`` merge keys, as SafeLoader does; the mapping's own keys win
        return {key_node.value: self.construct_object(value_node, deep=deep) for key_node, value_node in node.value}


@dataclass(frozen=True)
class Overrides:
    """One video's decisions: track-id pairs to merge or split, and tracks that are no person (``ignore``)."""

    merge: tuple[tuple[int, int], ...] = ()
    split: tuple[tuple[int, int], ...] = ()
    ignore: frozenset[int] = frozenset()

    def as_param(self) -> dict[str, Any]:
        """Plain lists, as a Snakemake param and as ``Clusters.overrides``; ``ignore`` (sorted) only when
        there is any, so that files and params of videos without it keep their earlier form."""
        param: dict[str, Any] = {"merge": [list(p) for p in self.merge], "split": [list(p) for p in self.split]}
        if self.ignore:
            param["ignore"] = sorted(self.ignore)
        return param

    @classmethod
    def from_param(cls, param: dict[str, Any] | None) -> Overrides:
        param = param or {}
        pairs = {kind: tuple((int(a), int(b)) for a, b in param.get(kind) or ()) for kind in KINDS}
        return cls(**pairs, ignore=frozenset(int(t) for t in param.get("ignore") or ()))

    def track_ids(self) -> set[int]:
        """Every track id the decisions name (pairs and ignored): each must be a track of the video."""
        return {t for pair in self.merge + self.split for t in pair} | set(self.ignore)


def _read(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(), Loader=_TextKeyLoader)
    except FileNotFoundError:
        raise OverridesError(f"{path}: overrides file not found; create it or set cluster.overrides to null") from None
    except yaml.YAMLError as err:
        raise OverridesError(f"{path}: not valid YAML ({err}); {FIX}") from None


def load_overrides(path: str | Path | None, videos: Collection[str]) -> dict[str, Overrides]:
    """Every video's overrides from ``path`` (None: no overrides), checked against the video sheet's ids.

    Examples:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "overrides.yaml"
        >>> _ = path.write_text("vtest: {merge: [[3, 17]], ignore: [12]}")
        >>> load_overrides(path, ["vtest"])["vtest"]
        Overrides(merge=((3, 17),), split=(), ignore=frozenset({12}))
    """
    if path is None:
        return {}
    path = Path(path)
    raw = _read(path)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise OverridesError(
            f"{path}: must be a mapping from video id to {{merge: [[a, b], ...], split: [[a, b], ...], "
            f"ignore: [id, ...]}}; {FIX}"
        )
    problems, result = [], {}
    for video, entry in raw.items():
        if video == PEOPLE:
            continue  # load_people_overrides
        if video not in videos:
            problems.append(f"video {video!r} is not in the video sheet (fix the id or remove its entry)")
            continue
        entry = entry or {}
        if not isinstance(entry, dict) or set(entry) - set(VIDEO_KEYS):
            problems.append(
                f"video {video!r}: expected keys merge and split (pairs of track ids) and ignore (track ids) only, "
                f"got {entry!r}"
            )
            continue
        pairs = {}
        for kind in KINDS:
            items = entry.get(kind) or []
            bad = [p for p in items if not _is_pair(p)] if isinstance(items, list) else [items]
            if bad:
                problems.append(
                    f"video {video!r}: {kind} must be a list of [track_id, track_id] pairs of two different ids; bad: {bad[0]!r}"
                )
                continue
            pairs[kind] = tuple((int(a), int(b)) for a, b in items)
        ignored = entry.get("ignore") or []
        bad = [t for t in ignored if not _is_id(t)] if isinstance(ignored, list) else [ignored]
        if bad:
            problems.append(f"video {video!r}: ignore must be a list of track ids, e.g. [12, 40]; bad: {bad[0]!r}")
            continue
        merged = [p for p in pairs.get("merge", ()) if set(p) & set(ignored)]
        if merged:
            track = sorted(set(merged[0]) & set(ignored))[0]
            problems.append(
                f"video {video!r}: track {track} is in ignore (not a person) and in merge {list(merged[0])}; "
                "remove one of the two"
            )
            continue
        if len(pairs) == len(KINDS):
            result[video] = Overrides(**pairs, ignore=frozenset(int(t) for t in ignored))
    if problems:
        raise OverridesError(f"{path}: " + "; ".join(problems))
    return result


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_pair(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(_is_id(v) for v in value) and value[0] != value[1]


def overrides_param(overrides: dict[str, Overrides], video: str) -> dict[str, Any]:
    """One video's slice as a rule param (empty lists when the file says nothing about it)."""
    return overrides.get(video, Overrides()).as_param()


def empty_people_param() -> dict[str, Any]:
    """The ``people`` entry when the file says nothing: what rule ``people`` gets as its param."""
    return {"merge": [], "split": [], "names": {}, "select": []}


def load_people_overrides(path: str | Path | None, videos: Collection[str]) -> dict[str, Any]:
    """The ``people`` entry of the overrides file, as rule ``people``'s param.

    ``{"merge": [[key, key], ...], "split": [[key, key], ...], "names": {key: name}, "select": [key, ...]}``;
    names trimmed, ``select`` without repeats, in the file's order.

    Examples:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "overrides.yaml"
        >>> _ = path.write_text('people: {names: {"vtest:track:3": "  Alice "}, select: ["vtest:track:3"]}')
        >>> load_people_overrides(path, ["vtest"])
        {'merge': [], 'split': [], 'names': {'vtest:track:3': 'Alice'}, 'select': ['vtest:track:3']}
    """
    param = empty_people_param()
    if path is None:
        return param
    path = Path(path)
    raw = _read(path) or {}
    entry = (raw.get(PEOPLE) if isinstance(raw, dict) else None) or {}
    fix = f"write <video>:track:<id> or <video>:identity:<id> keys (see config/README.md, '{PEOPLE}')"
    if not isinstance(entry, dict) or set(entry) - set(PEOPLE_KEYS):
        raise OverridesError(f"{path}: {PEOPLE}: expected keys {', '.join(PEOPLE_KEYS)} only, got {entry!r}")
    ignored = {video: o.ignore for video, o in load_overrides(path, videos).items()}
    problems: list[str] = []

    def check_key(where: str, key: Any) -> bool:
        match = PERSON_KEY.match(key) if isinstance(key, str) else None
        if not match:
            problems.append(f"{where}: {key!r} is no key; {fix}")
        elif match["video"] not in videos:
            problems.append(f"{where}: {key!r}: video {match['video']!r} is not in the video sheet")
        elif match["kind"] == "track" and int(match["id"]) in ignored.get(match["video"], ()):
            problems.append(
                f"{where}: {key!r}: track {match['id']} is in video {match['video']!r}'s ignore (not a person); "
                "name the person by another track or remove it from ignore"
            )
        else:
            return True
        return False

    for kind in KINDS:
        items = entry.get(kind) or []
        if not isinstance(items, list):
            problems.append(f"{PEOPLE}.{kind} must be a list of pairs")
            continue
        for pair in items:
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(k, str) for k in pair)) or (
                pair[0] == pair[1]
            ):
                problems.append(f"{PEOPLE}.{kind}: {pair!r} is not a pair of two different keys; {fix}")
                continue
            for key in pair:
                check_key(f"{PEOPLE}.{kind}", key)
            param[kind].append([str(k) for k in pair])
    names = entry.get("names") or {}
    if not isinstance(names, dict):
        problems.append(f'{PEOPLE}.names must be a mapping of key to name, e.g. {{"vtest:track:3": "Alice"}}')
        names = {}
    for key, name in names.items():
        where = f"{PEOPLE}.names"
        if not check_key(where, key):
            continue
        if not isinstance(name, str):
            problems.append(f"{where}: {key!r}: the name {name!r} is not text; quote it")
        elif not name.strip():
            problems.append(f"{where}: {key!r}: the name is empty; write a name or remove the entry")
        elif len(name.strip()) > NAME_MAX:
            problems.append(
                f"{where}: {key!r}: the name has {len(name.strip())} characters, at most {NAME_MAX} are allowed"
            )
        else:
            param["names"][key] = name.strip()
    select = entry.get("select") or []
    if not isinstance(select, list):
        problems.append(f'{PEOPLE}.select must be a list of keys, e.g. ["vtest:track:3"]')
        select = []
    for key in select:
        if check_key(f"{PEOPLE}.select", key) and key not in param["select"]:
            param["select"].append(key)
    if problems:
        raise OverridesError(f"{path}: " + "; ".join(problems))
    return param


class _CanonicalDumper(yaml.SafeDumper):
    """The canonical overrides text: every string double-quoted (with YAML's escapes), mappings in block
    style, lists of plain values in flow style (``[3, 17]``)."""


_CanonicalDumper.add_representer(
    str, lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:str", text, style='"')
)
_CanonicalDumper.add_representer(
    dict, lambda dumper, mapping: dumper.represent_mapping("tag:yaml.org,2002:map", mapping, flow_style=False)
)
_CanonicalDumper.add_representer(
    list,
    lambda dumper, items: dumper.represent_sequence(
        "tag:yaml.org,2002:seq", items, flow_style=all(not isinstance(i, list | dict) for i in items)
    ),
)


def dump_overrides(videos: Mapping[str, Overrides], people: Mapping[str, Any] | None = None) -> str:
    """The overrides file's text for these decisions: read back by ``load_overrides`` (``videos``) and
    ``load_people_overrides`` (``people``, that function's form) as they were given.

    The canonical text, which a decisions page (the report's) should write too: videos in the given order
    (a video without decisions left out), then ``people``; per video ``merge``, ``split`` (pairs as given)
    and ``ignore`` (ascending); in ``people``, ``merge``, ``split``, ``names`` and ``select`` as given (empty
    ones left out). Two-space indentation, lines never folded, mappings in block style, lists of plain
    values in flow style (``[3, 17]``). Every string, keys included, is double-quoted, so no name or key can
    be read as anything but text: ``"`` and ``\\`` are escaped with a backslash; \\0 \\a \\b \\t \\n
    \\v \\f \\r \\e stand for their control characters, \\N \\L \\P for U+0085, U+2028, U+2029;
    every other character outside U+0020-U+007E, U+00A0-U+D7FF and U+E000-U+FFFD (U+FEFF included) is
    \\xXX, \\uXXXX or \\UXXXXXXXX (upper-case hex, the shortest that fits); all else is written as it is
    (PyYAML's double-quoted style with ``allow_unicode``).

    Examples:
        >>> print(dump_overrides({"vtest": Overrides(merge=((3, 17),), ignore=frozenset({12}))},
        ...                      {"names": {"vtest:track:3": "Alice"}, "select": ["vtest:track:3"]}), end="")
        "vtest":
          "merge":
          - [3, 17]
          "ignore": [12]
        "people":
          "names":
            "vtest:track:3": "Alice"
          "select": ["vtest:track:3"]
    """
    document: dict[str, Any] = {}
    for video, decisions in videos.items():
        if video == PEOPLE:
            raise OverridesError(f"no video may be called {PEOPLE!r}: the key holds the decisions across videos")
        param = decisions.as_param()
        entry = {kind: param[kind] for kind in VIDEO_KEYS if param.get(kind)}
        if entry:
            document[str(video)] = entry
    people = people or {}
    unknown = set(people) - set(PEOPLE_KEYS)
    if unknown:
        raise OverridesError(f"{PEOPLE}: expected keys {', '.join(PEOPLE_KEYS)} only, got {sorted(unknown)}")
    entry = {
        **{kind: [[str(a), str(b)] for a, b in people.get(kind) or ()] for kind in KINDS},
        "names": {str(k): str(v) for k, v in (people.get("names") or {}).items()},
        "select": [str(k) for k in people.get("select") or ()],
    }
    entry = {kind: value for kind, value in entry.items() if value}
    if entry:
        document[PEOPLE] = entry
    if not document:
        return ""
    return yaml.dump(document, Dumper=_CanonicalDumper, allow_unicode=True, sort_keys=False, width=10**9, indent=2)
