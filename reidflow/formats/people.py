"""``results/people/people.json`` (stage ``people``): every person across all videos, the record People.

An identity is named by its key ``<video>:<identity id>`` (ids of that video's clusters.json).

    videos           the sheet's videos, in sheet order
    params           the stage's settings (max_crops, neighbours, threshold, recommend_threshold)
    overrides        a person's cross-video decisions applied: {"merge": [[key, key]], "split": [[key, key]],
                     "names": {key: name}, "select": [key]}, keys as written in the overrides file
                     (``<video>:track:<id>`` or ``<video>:identity:<id>``)
    people           Person records, id 1.. in order of their first appearance (sheet order, then identity);
                     ``name``: the display name a person gave (null: none), ``selected``: one of the people of
                     interest (exported to results/people/selected/<id>/)
    links            the sparse identity similarity the stage used: each identity's nearest neighbours, as
                     pairs (a < b in key order) with their similarity and whether they are one person
    recommendations  links between different people at or above recommend_threshold, most similar first,
                     with the reason they are apart: a person should look at these
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from reidflow.formats.base import build_record, read_json, write_json

PEOPLE_FORMAT_VERSION = 2  # 2: Person.name and Person.selected


@dataclass(frozen=True)
class Appearance:
    """One identity of one video that is this person."""

    video: str
    identity: int
    tracks: list[int]
    first_frame: int  # 0-based, the video's own numbering
    last_frame: int
    first_time: float  # seconds from the video's start
    last_time: float
    best_track: int  # the track and frame of the identity's best-quality crop: what shows the person
    best_frame: int
    best_quality: float

    @property
    def key(self) -> str:
        return f"{self.video}:{self.identity}"


@dataclass(frozen=True)
class Person:
    id: int
    appearances: list[Appearance]  # sheet order, then identity id
    representative: str  # key of the appearance whose best crop is the best of all
    decided_by: str = "clustering"  # "person" when a cross-video merge decision joined any of them
    name: str | None = None  # the overrides' people.names entry of any of its keys; text as given, not HTML
    selected: bool = False  # named by the overrides' people.select

    @property
    def videos(self) -> list[str]:
        return list(dict.fromkeys(a.video for a in self.appearances))


@dataclass(frozen=True)
class Link:
    a: str  # identity keys
    b: str
    similarity: float
    same_person: bool


@dataclass(frozen=True)
class PeopleRecommendation:
    """Two identities of different people that look alike; ``reason``: "below_threshold",
    "seen_together" (one video, same frames) or "split_by_person"."""

    a: str
    b: str
    similarity: float
    reason: str


@dataclass(frozen=True)
class People:
    videos: list[str]
    params: dict[str, Any]
    overrides: dict[str, Any]
    people: list[Person]
    links: list[Link]
    recommendations: list[PeopleRecommendation]
    format_version: int = PEOPLE_FORMAT_VERSION

    def person_of(self) -> dict[str, int]:
        """Identity key -> person id."""
        return {a.key: person.id for person in self.people for a in person.appearances}


def write_people(path: str | os.PathLike, people: People) -> None:
    write_json(path, people)


def read_people(path: str | os.PathLike) -> People:
    raw = read_json(path, "people", PEOPLE_FORMAT_VERSION)
    return build_record(
        path,
        "people",
        lambda: People(
            **{
                **raw,
                "people": [
                    Person(**{**p, "appearances": [Appearance(**a) for a in p["appearances"]]}) for p in raw["people"]
                ],
                "links": [Link(**link) for link in raw["links"]],
                "recommendations": [PeopleRecommendation(**r) for r in raw["recommendations"]],
            }
        ),
    )
