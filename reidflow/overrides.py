"""A person's last word on identities: the file named by config ``cluster.overrides``.

YAML keyed by video id; per video, track-id pairs to force together or keep apart::

    vtest:
      merge: [[3, 17]]        # the same person: always one identity
      split: [[2, 5]]         # different people: never one identity
    people:                   # across videos (stage people): <video>:track:<id> or <video>:identity:<id>
      merge: [["vtest:track:3", "lobby:track:8"]]
      split: [["vtest:identity:2", "lobby:identity:1"]]

Read once when the workflow is parsed; each video's rule ``cluster`` gets only its own slice as a
param, so editing one video's entry reruns that video's clustering (and ``people``, which reads it) and
nothing else; rule ``people`` gets the ``people`` entry.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from reidflow import ReidflowError

KINDS = ("merge", "split")
# The entry of cross-video decisions; no video may have this id (reidflow.sheet.RESERVED_IDS).
PEOPLE = "people"
PERSON_KEY = re.compile(r"^(?P<video>[^:]+):(?P<kind>track|identity):(?P<id>-?\d+)$")


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
    merge: tuple[tuple[int, int], ...] = ()
    split: tuple[tuple[int, int], ...] = ()

    def as_param(self) -> dict[str, list[list[int]]]:
        """Plain lists, as a Snakemake param and as ``Clusters.overrides``."""
        return {"merge": [list(p) for p in self.merge], "split": [list(p) for p in self.split]}

    @classmethod
    def from_param(cls, param: dict[str, Any] | None) -> Overrides:
        param = param or {}
        return cls(**{kind: tuple((int(a), int(b)) for a, b in param.get(kind) or ()) for kind in KINDS})

    def track_ids(self) -> set[int]:
        return {t for pair in self.merge + self.split for t in pair}


def load_overrides(path: str | Path | None, videos: Collection[str]) -> dict[str, Overrides]:
    """Every video's overrides from ``path`` (None: no overrides), checked against the video sheet's ids."""
    if path is None:
        return {}
    path = Path(path)
    fix = "see config/README.md, 'cluster.overrides'"
    try:
        raw = yaml.load(path.read_text(), Loader=_TextKeyLoader)
    except FileNotFoundError:
        raise OverridesError(f"{path}: overrides file not found; create it or set cluster.overrides to null") from None
    except yaml.YAMLError as err:
        raise OverridesError(f"{path}: not valid YAML ({err}); {fix}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise OverridesError(
            f"{path}: must be a mapping from video id to {{merge: [[a, b], ...], split: [[a, b], ...]}}; {fix}"
        )
    problems, result = [], {}
    for video, entry in raw.items():
        if video == PEOPLE:
            continue  # load_people_overrides
        if video not in videos:
            problems.append(f"video {video!r} is not in the video sheet (fix the id or remove its entry)")
            continue
        entry = entry or {}
        if not isinstance(entry, dict) or set(entry) - set(KINDS):
            problems.append(f"video {video!r}: expected keys {' and '.join(KINDS)} only, got {entry!r}")
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
        if len(pairs) == len(KINDS):
            result[video] = Overrides(**pairs)
    if problems:
        raise OverridesError(f"{path}: " + "; ".join(problems))
    return result


def _is_pair(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        and value[0] != value[1]
    )


def overrides_param(overrides: dict[str, Overrides], video: str) -> dict[str, list[list[int]]]:
    """One video's slice as a rule param (empty lists when the file says nothing about it)."""
    return overrides.get(video, Overrides()).as_param()


def load_people_overrides(path: str | Path | None, videos: Collection[str]) -> dict[str, list[list[str]]]:
    """The ``people`` entry of the overrides file: cross-video merge/split pairs of keys, as a rule param."""
    empty: dict[str, list[list[str]]] = {kind: [] for kind in KINDS}
    if path is None:
        return empty
    raw = yaml.load(Path(path).read_text(), Loader=_TextKeyLoader) or {}
    entry = (raw.get(PEOPLE) if isinstance(raw, dict) else None) or {}
    fix = f"write [<video>:track:<id>, <video>:identity:<id>]-style pairs (see config/README.md, '{PEOPLE}')"
    if not isinstance(entry, dict) or set(entry) - set(KINDS):
        raise OverridesError(f"{path}: {PEOPLE}: expected keys {' and '.join(KINDS)} only, got {entry!r}")
    problems = []
    for kind in KINDS:
        items = entry.get(kind) or []
        if not isinstance(items, list):
            problems.append(f"{PEOPLE}.{kind} must be a list of pairs")
            continue
        for pair in items:
            if not (
                isinstance(pair, list)
                and len(pair) == 2
                and all(isinstance(k, str) for k in pair)
                and pair[0] != pair[1]
            ):
                problems.append(f"{PEOPLE}.{kind}: {pair!r} is not a pair of two different keys; {fix}")
                continue
            for key in pair:
                match = PERSON_KEY.match(key)
                if not match:
                    problems.append(f"{PEOPLE}.{kind}: {key!r} is no key; {fix}")
                elif match["video"] not in videos:
                    problems.append(f"{PEOPLE}.{kind}: {key!r}: video {match['video']!r} is not in the video sheet")
            empty[kind].append([str(k) for k in pair])
    if problems:
        raise OverridesError(f"{path}: " + "; ".join(problems))
    return empty
