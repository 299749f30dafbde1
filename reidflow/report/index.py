"""The page across videos, ``results/report/index.html``: one row per video with a link to its page, one
card per person of ``results/people/people.json`` (people seen in more than one video first) and the
cross-video pairs a person should check; after a failed run, ``write_incomplete_index`` replaces it with a
list that marks the videos without a report.

The people cards make no images of their own: each appearance shows the per-video page's WebPs of its best
track (``../<video>/report/webp/<track>.webp``, ``<track>_best.webp``) and links to its identity's card
there (``#identity-<id>``).

A video's page shows its identities' person ids without reading people.json (adding a video never rebuilds
the other videos' pages): this page's rule also writes ``results/report/people.js`` (``people_script``),
which every video page loads when it opens and fills its identities' person badges from.

The same rule writes ``results/report/decisions.js`` (``decisions_script``): the overrides file in force, for
the decisions panel of every page (templates/decisions.js), whose export is that file with a person's new
decisions added, in the text of ``reidflow.overrides.dump_overrides``.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from reidflow import ReidflowError
from reidflow.files import atomic_output
from reidflow.formats.base import REBUILD
from reidflow.formats.clusters import Clusters
from reidflow.formats.evaluation import Evaluation
from reidflow.formats.people import Appearance, People, Person
from reidflow.formats.tracks import Tracks
from reidflow.report.metrics import EVALUATION_METRICS, format_duration, video_duration
from reidflow.report.render import environment

log = logging.getLogger(__name__)

REASONS = {
    "below_threshold": "below the merge threshold of the linkage",
    "seen_together": "seen in the same frames of one video",
    "split_by_person": "split by a person's override",
}


class PeoplePageError(ReidflowError):
    pass


@dataclass(frozen=True)
class VideoSummary:
    """One row of the across-videos page."""

    video: str
    source: str
    duration: str
    frames: int
    fps: float
    tracks: int
    identities: int
    evaluation: Evaluation | None

    @property
    def link(self) -> str:
        return f"../{quote(self.video)}/report/index.html"


def video_summary(tracks: Tracks, clusters: Clusters, evaluation: Evaluation | None) -> VideoSummary:
    info = tracks.meta.info
    return VideoSummary(
        video=tracks.meta.video,
        source=tracks.meta.source,
        duration=video_duration(info),
        frames=info.frame_count,
        fps=info.fps,
        tracks=len(tracks.track_ids),
        identities=len(clusters.identities),
        evaluation=evaluation,
    )


def flatten_settings(settings: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested config as (dotted key, value) rows, in the config's own order."""
    rows: list[tuple[str, Any]] = []
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows.extend(flatten_settings(value, f"{name}."))
        else:
            rows.append((name, value))
    return rows


@dataclass(frozen=True)
class AppearanceCard:
    """One appearance of a person on this page: the video page's WebPs of its best track, and a link to its
    identity's card there (paths relative to ``results/report/``)."""

    appearance: Appearance
    person: int

    @property
    def folder(self) -> str:
        return f"../{quote(self.appearance.video)}/report"

    @property
    def webp(self) -> str:
        return f"{self.folder}/webp/{self.appearance.best_track}.webp"

    @property
    def thumbnail(self) -> str:
        return f"{self.folder}/webp/{self.appearance.best_track}_best.webp"

    @property
    def link(self) -> str:
        return f"{self.folder}/index.html#identity-{self.appearance.identity}"

    @property
    def span(self) -> str:
        """first–last time seen, as the pages show durations (m:ss)."""
        return f"{format_duration(self.appearance.first_time)}–{format_duration(self.appearance.last_time)}"


@dataclass(frozen=True)
class PersonCard:
    person: Person
    appearances: list[AppearanceCard]


def people_context(people: People, videos: list[str]) -> dict[str, Any]:
    """The people cards (people seen in more than one video first, then by id) and the recommendations,
    each side with its appearance; ``videos``: the sheet's, which people.json must describe."""
    if set(people.videos) != set(videos):
        raise PeoplePageError(
            f"people.json: made for videos {sorted(people.videos)}, not the sheet's {sorted(videos)}; {REBUILD}"
        )
    cards = [PersonCard(p, [AppearanceCard(a, p.id) for a in p.appearances]) for p in people.people]
    by_key = {card.appearance.key: card for person in cards for card in person.appearances}
    stale = sorted({k for r in people.recommendations for k in (r.a, r.b)} - set(by_key))
    if stale:
        raise PeoplePageError(
            f"people.json: recommendations name identities of no person ({', '.join(stale[:5])}); {REBUILD}"
        )
    recommendations = [
        {"rec": r, "reason": REASONS.get(r.reason, r.reason), "a": by_key[r.a], "b": by_key[r.b]}
        # pairs only the threshold kept apart first (a person's real decisions), each most similar first
        for r in sorted(people.recommendations, key=lambda r: (r.reason != "below_threshold", -r.similarity))
    ]
    return {
        "people": sorted(cards, key=lambda c: (len(c.person.videos) < 2, c.person.id)),
        "in_several_videos": sum(len(c.person.videos) > 1 for c in cards),
        "recommendations": recommendations,
        "people_params": people.params,
        # the decisions panel (templates/decisions.js), with the decisions in force beside this page
        "decisions_page": {"page": "people", "results": "../", "script": DECISIONS_SCRIPT},
    }


def render_index(summaries: list[VideoSummary], settings: dict[str, Any], people: People) -> str:
    metrics = [(key, label) for key, label, percent, _ in EVALUATION_METRICS if percent][:2]  # MOTA, IDF1
    return (
        environment()
        .get_template("index.html.j2")
        .render(
            videos=summaries,
            settings=flatten_settings(settings),
            metrics=metrics,
            with_evaluation=any(s.evaluation is not None for s in summaries),
            **people_context(people, [s.video for s in summaries]),
        )
    )


def write_index(summaries: list[VideoSummary], settings: dict[str, Any], people: People, out_html: str | Path) -> None:
    """The page across videos: one row per ``video_summary``, one card per person of ``people`` with the
    cross-video pairs to check, and ``settings`` (the config's sections).

    Examples:
        >>> from reidflow.formats.clusters import read_clusters
        >>> from reidflow.formats.people import read_people
        >>> from reidflow.formats.tracks import read_tracks
        >>> from reidflow.report.index import video_summary, write_index
        >>> summaries = [video_summary(read_tracks(f"results/{v}/tracks.npz"), read_clusters(f"results/{v}/clusters.json"), None)
        ...              for v in ("cam1", "cam2")]
        >>> write_index(summaries, {"cluster": {"distance_threshold": 0.35}}, read_people("results/people/people.json"), "index.html")
    """
    html = render_index(summaries, settings, people)
    with atomic_output(out_html) as tmp:
        tmp.write_text(html, encoding="utf-8")
    log.info("index of %d videos, %d people -> %s", len(summaries), len(people.people), out_html)


PEOPLE_SCRIPT = "people.js"  # beside this page; the video pages load ../../report/people.js
PEOPLE_VARIABLE = "REIDFLOW_PEOPLE"


def people_script(people: People) -> str:
    """``people.js``: every identity key ``<video>:<identity>`` with its person, for the video pages.

    Each entry holds the person id (the video page links it to ``#person-<id>`` of this page), the name a
    person gave (or null), the videos the person is seen in, and the identity's tracks:
    a video page whose identity has other tracks (its clustering changed since people.json) calls the id
    out of date instead of showing it. The JSON is escaped for a script: no ``<``, ``>`` or ``&`` in it.

    Examples:
        >>> from reidflow.formats.people import Appearance, People, Person
        >>> one = Appearance("cam1", 2, [4, 7], 0, 50, 0.0, 2.0, 4, 10, 0.9)
        >>> people = People(["cam1"], {}, {}, [Person(1, [one], "cam1:2")], [], [])
        >>> people_script(people)
        'window.REIDFLOW_PEOPLE = {"cam1:2":{"name":null,"person":1,"tracks":[4,7],"videos":["cam1"]}};\\n'
    """
    identities = {
        a.key: {
            "person": person.id,
            "name": person.name,
            "videos": person.videos,
            "tracks": sorted(a.tracks),
        }
        for person in people.people
        for a in person.appearances
    }
    return f"window.{PEOPLE_VARIABLE} = {script_json(identities, sort_keys=True)};\n"


def script_json(data: Any, sort_keys: bool = False) -> str:
    """JSON for a script file: the characters only strings can hold (``<``, ``>``, ``&``, and all beyond
    ASCII) escaped, so that no text of the data can end or comment out a script."""
    text = json.dumps(data, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


DECISIONS_SCRIPT = "decisions.js"  # beside this page; the video pages load ../../report/decisions.js
DECISIONS_VARIABLE = "REIDFLOW_OVERRIDES"


def decisions_script(
    path: str | None, videos: list[str], video_overrides: dict[str, dict[str, Any]], people: dict[str, Any]
) -> str:
    """``decisions.js``: the overrides file in force, for the pages' decisions panel (templates/decisions.js),
    whose export is this file with a person's new decisions added.

    ``path``: config ``cluster.overrides`` (None: no file yet); ``videos``: the sheet's ids, the order of
    an export; ``video_overrides``: each video's slice (``Overrides.as_param``) of the videos with any
    decision; ``people``: the ``people`` entry (``load_people_overrides``). Mappings become lists of pairs
    (a video called ``1`` keeps its place in JavaScript).

    Examples:
        >>> decisions_script("config/overrides.yaml", ["cam1"], {"cam1": {"merge": [[3, 17]], "split": []}},
        ...                  {"merge": [], "split": [], "names": {"cam1:track:3": "<b>"}, "select": []})[:100]
        'window.REIDFLOW_OVERRIDES = {"path":"config/overrides.yaml","videos":["cam1"],"video_overrides":[["c'
    """
    data = {
        "path": path,
        "videos": list(videos),
        "video_overrides": [
            [video, {kind: video_overrides[video].get(kind) or [] for kind in ("merge", "split", "ignore")}]
            for video in videos
            if any(video_overrides.get(video, {}).values())
        ],
        "people": {
            "merge": [list(p) for p in people.get("merge") or ()],
            "split": [list(p) for p in people.get("split") or ()],
            "names": [[key, name] for key, name in (people.get("names") or {}).items()],
            "select": list(people.get("select") or ()),
        },
    }
    return f"window.{DECISIONS_VARIABLE} = {script_json(data)};\n"


def write_decisions_script(
    path: str | None,
    videos: list[str],
    video_overrides: dict[str, dict[str, Any]],
    people: dict[str, Any],
    out_js: str | Path,
) -> None:
    """Write ``decisions_script(...)`` to ``out_js`` (``results/report/decisions.js``)."""
    with atomic_output(out_js) as tmp:
        tmp.write_text(decisions_script(path, videos, video_overrides, people), encoding="utf-8")


def write_people_script(people: People, out_js: str | Path) -> None:
    """Write ``people_script(people)`` to ``out_js`` (``results/report/people.js``)."""
    with atomic_output(out_js) as tmp:
        tmp.write_text(people_script(people), encoding="utf-8")


@dataclass(frozen=True)
class VideoStatus:
    """One row of the index written when a run fails: does the video have a report at all?"""

    video: str
    has_report: bool

    @property
    def link(self) -> str:
        return f"../{quote(self.video)}/report/index.html"


def write_incomplete_index(videos: list[str], results_dir: str | Path, out_html: str | Path, when: str) -> None:
    """Replace the index after a failed run, so that it never shows an earlier, complete-looking state.

    Lists every video of the sheet and marks those without a report, and removes ``people.js`` beside it;
    a successful run rebuilds both.
    """
    results_dir = Path(results_dir)
    # the person ids of the failed run's video pages may no longer match them: the pages then say none exist
    Path(out_html).with_name(PEOPLE_SCRIPT).unlink(missing_ok=True)
    rows = [VideoStatus(video, (results_dir / video / "report" / "index.html").is_file()) for video in videos]
    html = environment().get_template("incomplete.html.j2").render(videos=rows, when=when)
    with atomic_output(out_html) as tmp:
        tmp.write_text(html, encoding="utf-8")
        # Dated 1970, the page is older than every input of rule report_index: the next run replaces it
        # even when nothing upstream changes (e.g. the sheet was restored).
        os.utime(tmp, (0, 0))
    log.info(
        "run incomplete: index lists %d videos, %d without a report -> %s",
        len(rows),
        sum(not r.has_report for r in rows),
        out_html,
    )
