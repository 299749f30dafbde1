"""Stage 6, the HTML report: WebPs, heatmap, escaping, files, and the page in a real headless Chromium."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from browser import (  # noqa: F401  browser is a fixture
    Tags,
    assert_quiet_and_offline,
    browser,
    heatmap_data,
    load_every_image,
    open_page,
    people_cards,
    video_links,
)
from PIL import Image

from reidflow.formats.clusters import Clusters, Flagged, Identity, Merge, Recommendation
from reidflow.formats.crops import CROP_METRICS, PERSONS_DTYPE, CropsMeta, open_crops_writer
from reidflow.formats.evaluation import Evaluation
from reidflow.formats.features import FeaturesMeta
from reidflow.formats.people import Appearance, People, PeopleRecommendation, Person
from reidflow.formats.similarity import Distribution, Similarity, SimilarPair
from reidflow.formats.tracks import TrackRows, Tracks, TracksMeta, VideoInfo
from reidflow.report.heatmap import colour, heatmap
from reidflow.report.images import ReportSettings, still_webp, track_webp
from reidflow.report.index import (
    DECISIONS_SCRIPT,
    PEOPLE_SCRIPT,
    PeoplePageError,
    people_context,
    people_script,
    render_index,
    video_summary,
    write_decisions_script,
    write_incomplete_index,
    write_index,
    write_people_script,
)
from reidflow.report.metrics import EvaluationRow, evaluation_rows, video_duration
from reidflow.report.video import (
    ReportError,
    TrackCard,
    VideoRecords,
    pipeline_line,
    render_video,
    video_context,
    write_video_report,
)
from reidflow.sheet import VIDEO_ID

EVIL = "<script>alert(1)</script>.mp4"
CROP_H, CROP_W = 64, 32
# track id -> (first frame, number of crops); identities: {3, 9}, {7}, {12, 20}, {5}
TRACKS = {3: (0, 6), 7: (2, 4), 9: (40, 5), 12: (10, 1), 20: (60, 3), 5: (5, 2)}
IDENTITIES = [[3, 9], [12, 20], [7], [5]]
SETTINGS = ReportSettings(webp_fps=5, webp_quality=80, webp_height=96)


def distinct_crops(k: int, seed: int) -> np.ndarray:
    """Crops that differ from each other (libwebp would merge identical consecutive frames)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (k, 1, 1, 3), dtype=np.uint8)
    return np.clip(base + rng.integers(-20, 20, (k, CROP_H, CROP_W, 3)), 0, 255).astype(np.uint8)


def similarity_matrix(ids: list[int]) -> np.ndarray:
    rng = np.random.default_rng(1)
    m = rng.uniform(0.1, 0.6, (len(ids), len(ids)))
    m = (m + m.T) / 2
    for group in IDENTITIES:
        for a in group:
            for b in group:
                m[ids.index(a), ids.index(b)] = 0.85 + 0.01 * (a + b) / 10
    np.fill_diagonal(m, 1.0)
    return m


def make_records(video: str = "syn", source: str = "/data/syn.mp4", evaluation: bool = True) -> VideoRecords:
    rows = TrackRows.concatenate(
        [
            TrackRows(
                np.arange(f0, f0 + 2 * k), np.full(2 * k, t), np.tile([10, 10, 40, 90], (2 * k, 1)), np.full(2 * k, 0.8)
            )
            for t, (f0, k) in TRACKS.items()
        ]
        + [TrackRows([0, 1], [99, 99], [[0, 0, 5, 5]] * 2, [0.3, 0.3])]  # a track too short to be kept
    )
    meta = TracksMeta(
        video=video,
        source=source,
        info=VideoInfo(25.0, 320, 240, 100),
        vid_stride=1,
        detector="yolov8n.pt",
        detector_sha256="ab" * 32,
        tracker="bytetrack",
        tracker_params={"track_buffer": 30},
    )
    ids = list(TRACKS)
    m = similarity_matrix(ids)
    off = m[np.triu_indices(len(ids), 1)]
    counts, edges = np.histogram(off, bins=10, range=(0.0, 1.0))
    similarity = Similarity(
        video=video,
        track_ids=ids,
        aggregation="mean",
        params={"topk": 10},
        threshold=0.5,
        matrix=m,
        cooccurrence=np.eye(len(ids), dtype=np.int64) * 5,
        pairs=[SimilarPair(3, 9, float(m[0, 2]), 0)],
        distribution=Distribution(
            len(off),
            float(off.min()),
            float(off.max()),
            float(off.mean()),
            float(off.std()),
            edges.tolist(),
            counts.tolist(),
        ),
    )
    identities = [
        Identity(
            i,
            g,
            g[0],
            2 * sum(TRACKS[t][1] for t in g),
            0.86 if len(g) > 1 else None,
            "person" if i == 1 else "clustering",
        )
        for i, g in enumerate(IDENTITIES)
    ]
    clusters = Clusters(
        video=video,
        params={"linkage": "average", "distance_threshold": 0.35, "cooccurrence_veto": 1, "recommend_threshold": 0.5},
        overrides={"merge": [], "split": []},
        identities=identities,
        merges=[Merge([3], [9], 0.86, "clustering"), Merge([12], [20], 0.87, "clustering")],
        recommendations=[
            Recommendation(7, 3, 0.58, 4, "cooccurrence_veto", 0.58),
            Recommendation(5, 12, 0.52, 0, "below_threshold", 0.62),
        ],
    )
    scores = {"mota": 0.61, "idf1": 0.52, "id_switches": 14, "num_ids": 20, "precision": 0.9, "recall": 0.7}
    merged = {**scores, "idf1": 0.66, "id_switches": 9, "num_ids": 12}
    features = FeaturesMeta(video, "osnet_x0_25", "osnet_x0_25_msmt17.pth", "cd" * 32, 256, 128, 512)
    return VideoRecords(
        Tracks(rows, meta),
        features,
        similarity,
        clusters,
        Evaluation(video, "/data/gt.txt", 100, 0.5, scores, merged) if evaluation else None,
    )


def write_crops(path: Path, video: str = "syn") -> Path:
    persons = np.array(
        [(t, f0, f0 + 2 * k - 1, 2 * k, k) for t, (f0, k) in sorted(TRACKS.items(), key=lambda kv: -kv[1][1])],
        dtype=PERSONS_DTYPE,
    )
    meta = CropsMeta(
        video, "/data/syn.mp4", 25.0, 100, CROP_H, CROP_W, "stretch", {"crops_per_person": 50, "min_track_frames": 2}
    )
    with open_crops_writer(path, meta, persons) as writer:
        for t, (f0, k) in TRACKS.items():
            for slot, crop in enumerate(distinct_crops(k, t)):
                writer.put_crop(t, slot, crop)
            quality = np.linspace(0.9, 0.5, k)
            metrics = {name: np.zeros(k, dtype=np.float32) for name in CROP_METRICS}
            metrics["quality"] = quality.astype(np.float32)
            metrics["rank"] = np.arange(1, k + 1)
            writer.put_track(t, f0 + 2 * np.arange(k), np.tile([10, 10, 40, 90], (k, 1)), metrics)
    return path


@pytest.fixture
def built(tmp_path):
    """A video report written from generated records and a real final_crops.h5."""
    records = make_records()
    crops = write_crops(tmp_path / "final_crops.h5")
    out = tmp_path / "results" / "syn" / "report"
    write_video_report(records, crops, out / "index.html", out / "webp", SETTINGS)
    return records, out


# Two videos with the odd ids the sheet allows; a reason people.json does not know, shown as it is
PEOPLE_VIDEOS = ["cam.1_a-b", "0..x"]
HOSTILE = "<img src=x onerror=alert(1)>"


def no_people(videos: list[str]) -> People:
    return People(videos, {}, {"merge": [], "split": []}, [], [], [])


def appearance(video: str, identity: int, tracks: list[int], first: int, last: int, fps: float = 10.0) -> Appearance:
    return Appearance(video, identity, tracks, first, last, first / fps, last / fps, tracks[0], first, 0.9)


def make_people() -> People:
    """Person 1 and 3 in one video each, 2 and 4 (joined by a person) in both; three recommendations."""
    a, b = PEOPLE_VIDEOS
    people = [
        Person(1, [appearance(a, 1, [4], 4, 36)], f"{a}:1"),
        Person(2, [appearance(a, 0, [3, 9], 0, 655), appearance(b, 3, [2], 10, 90)], f"{b}:3"),
        Person(3, [appearance(b, 0, [7], 0, 20)], f"{b}:0"),
        Person(4, [appearance(a, 2, [12], 100, 200), appearance(b, 1, [5, 6], 30, 60)], f"{a}:2", "person"),
    ]
    recommendations = [  # most similar first, as people.json lists them
        PeopleRecommendation(f"{a}:0", f"{a}:1", 0.8, "seen_together"),
        PeopleRecommendation(f"{a}:1", f"{b}:0", 0.71, "below_threshold"),
        PeopleRecommendation(f"{b}:3", f"{a}:2", 0.66, HOSTILE),
    ]
    return People(
        list(PEOPLE_VIDEOS),
        {"threshold": 0.5, "recommend_threshold": 0.6},
        {"merge": [], "split": []},
        people,
        [],
        recommendations,
    )


def people_of(video: str, other: str = "other") -> People:
    """People for the identities of ``make_records(video)``: identity 0 (tracks 3, 9) is person 1, also seen in
    ``other`` and named (a hostile name); identities 1, 2, 3 are people 2, 3, 4 of this video only."""
    people = [
        Person(1, [appearance(video, 0, [9, 3], 0, 50), appearance(other, 0, [1], 0, 9)], f"{video}:0", name=HOSTILE),
        *(
            Person(i + 1, [appearance(video, i, IDENTITIES[i], 0, 9)], f"{video}:{i}")
            for i in range(1, len(IDENTITIES))
        ),
    ]
    return People([video, other], {}, {"merge": [], "split": []}, people, [], [])


def write_no_decisions(folder: Path, videos: list[str]) -> None:
    """``results/report/decisions.js`` as rule report_index writes it without an overrides file."""
    write_decisions_script(
        None, videos, {}, {"merge": [], "split": [], "names": {}, "select": []}, folder / DECISIONS_SCRIPT
    )


def people_summaries() -> list:
    return [
        video_summary(r.tracks, r.clusters, None) for r in (make_records(v, evaluation=False) for v in PEOPLE_VIDEOS)
    ]


# --- unit ---------------------------------------------------------------------------------------------


def test_webp_has_one_frame_per_crop_in_time_order():
    crops = distinct_crops(7, 0)
    frames = np.array([30, 10, 50, 0, 20, 60, 40])  # shuffled: the WebP must play them by frame
    data = track_webp(crops, frames, SETTINGS)
    decoded = iio.imread(data, extension=".webp", index=...)
    assert decoded.shape == (7, 96, 48, 3)
    expected = crops[np.argsort(frames)].reshape(7, -1, 3).mean(axis=1)
    np.testing.assert_allclose(decoded.reshape(7, -1, 3).mean(axis=1), expected, atol=8)
    image = Image.open(io.BytesIO(data))
    assert image.format == "WEBP" and image.n_frames == 7 and image.info["loop"] == 0
    image.seek(3)
    image.load()
    assert image.info["duration"] == 200, "5 fps"


def test_webp_quality_changes_the_encoding():
    crops = distinct_crops(4, 1)
    small = track_webp(crops, np.arange(4), replace(SETTINGS, webp_quality=10))
    large = track_webp(crops, np.arange(4), replace(SETTINGS, webp_quality=95))
    assert len(small) < len(large)


def test_webp_downscales_keeping_the_aspect():
    crops = np.zeros((2, 256, 128, 3), dtype=np.uint8)
    crops[1] = 255
    decoded = iio.imread(
        track_webp(crops, np.arange(2), replace(SETTINGS, webp_height=64)), extension=".webp", index=...
    )
    assert decoded.shape == (2, 64, 32, 3)


def test_heatmap_has_n_by_n_cells_grouped_by_identity():
    records = make_records()
    grid = heatmap(records.similarity, records.clusters)
    order = [3, 9, 12, 20, 7, 5]
    assert grid.track_ids == order and grid.identities == [0, 0, 1, 1, 2, 3]
    assert grid.values.shape == (6, 6) and grid.blocks == [(0, 2), (2, 2)]
    ids, matrix = records.similarity.track_ids, records.similarity.matrix
    for i, a in enumerate(order):
        for j, b in enumerate(order):
            assert grid.values[i, j] == matrix[ids.index(a), ids.index(b)]
    data = grid.payload({0: 0, 1: 137, 2: 275, 3: 52}, 22)
    assert len(data["values"]) == 36 and data["values"][1 * 6 + 4] == round(matrix[ids.index(9), ids.index(7)], 3)
    assert data["hues"] == [0, 0, 137, 137, 275, 52] and data["together"] == []


def test_colour_scale_ends_and_clamps():
    assert colour(0.0) == "#313695" and colour(1.0) == "#a50026"
    assert colour(-0.4) == colour(0.0) and colour(1.2) == colour(1.0)
    assert colour(0.5) == "#fee090"
    assert colour(0.125) == "#3b56a5", "halfway between the first two anchors, halves rounded up like JS"


def test_evaluation_rows_show_before_after_and_direction():
    rows = {r.label: r for r in evaluation_rows(make_records().evaluation)}
    assert (rows["IDF1"].raw, rows["IDF1"].merged, rows["IDF1"].change, rows["IDF1"].better) == (
        "52.0 %",
        "66.0 %",
        "+14.0 pt",
        True,
    )
    assert (rows["ID switches"].change, rows["ID switches"].better) == ("-5", True)
    assert rows["MOTA"].better is None, "no change"
    undefined = replace(make_records().evaluation, raw={"precision": None}, merged={"precision": 0.5})
    assert evaluation_rows(undefined) == [EvaluationRow("precision", "–", "50.0 %", "–", None)]


def test_names_are_escaped_everywhere():
    records = make_records(video=EVIL, source=f"/videos/{EVIL}")
    cards = {t: TrackCard(t, 0, 1, 2, k, 0.5, 48, 96) for t, (_, k) in TRACKS.items()}
    html = render_video(video_context(records, cards, {}))
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.mp4" in html
    page = Tags(html)
    assert EVIL in "".join(page.text) and f"/videos/{EVIL}" in "".join(page.text)
    index = render_index([video_summary(records.tracks, records.clusters, None)], {"videos": EVIL}, no_people([EVIL]))
    assert "<script>alert(1)" not in index and "&lt;script&gt;" in index
    assert video_links(Tags(index)) == ["../%3Cscript%3Ealert%281%29%3C/script%3E.mp4/report/index.html"]


def test_people_page_context():
    people = make_people()
    assert all(VIDEO_ID.match(v) for v in PEOPLE_VIDEOS), "ids the sheet accepts"
    context = people_context(people, PEOPLE_VIDEOS)
    # people seen in more than one video first, then by id
    assert [c.person.id for c in context["people"]] == [2, 4, 1, 3] and context["in_several_videos"] == 2
    two = context["people"][0].appearances
    assert [(c.webp, c.thumbnail, c.link) for c in two] == [
        (
            "../cam.1_a-b/report/webp/3.webp",
            "../cam.1_a-b/report/webp/3_best.webp",
            "../cam.1_a-b/report/index.html#identity-0",
        ),
        ("../0..x/report/webp/2.webp", "../0..x/report/webp/2_best.webp", "../0..x/report/index.html#identity-3"),
    ]
    assert [c.span for c in two] == ["0:00–1:06", "0:01–0:09"], "first–last time, as the pages show durations"
    # pairs only the threshold kept apart first, then the others, each most similar first
    recs = context["recommendations"]
    assert [(r["a"].person, r["b"].person, r["reason"]) for r in recs] == [
        (1, 3, "below the merge threshold of the linkage"),
        (2, 1, "seen in the same frames of one video"),
        (2, 4, HOSTILE),
    ]
    with pytest.raises(
        PeoplePageError, match=r"people\.json: made for videos \['0\.\.x', 'cam\.1_a-b'\], not the sheet's"
    ):
        people_context(people, ["cam.1_a-b"])
    stale = replace(people, recommendations=[PeopleRecommendation("cam.1_a-b:9", "0..x:0", 0.7, "below_threshold")])
    with pytest.raises(PeoplePageError, match="cam.1_a-b:9"):
        people_context(stale, PEOPLE_VIDEOS)


def test_people_page_renders_every_person_escaped():
    html = render_index(people_summaries(), {"report": {"note": HOSTILE}}, make_people())
    assert "<img src=x" not in html and html.count("&lt;img src=x onerror=alert(1)&gt;") == 2  # reason and setting
    page = Tags(html)
    cards = people_cards(page)
    assert list(cards) == ["person-2", "person-4", "person-1", "person-3"]
    assert {card: len(images) for card, images in cards.items()} == {
        "person-2": 2,
        "person-4": 2,
        "person-1": 1,
        "person-3": 1,
    }
    assert [i["src"] for i in cards["person-4"]] == ["../cam.1_a-b/report/webp/12.webp", "../0..x/report/webp/5.webp"]
    assert video_links(page) == ["../cam.1_a-b/report/index.html", "../0..x/report/index.html"]
    links = [a["href"] for a in page.find("a")]
    assert "../0..x/report/index.html#identity-1" in links and "#person-4" in links
    recommendations = Tags(html[html.index('id="recommendations"') :])
    assert [i["src"] for i in recommendations.find("img")] == [
        "../cam.1_a-b/report/webp/4_best.webp",
        "../0..x/report/webp/7_best.webp",
        "../cam.1_a-b/report/webp/3_best.webp",
        "../cam.1_a-b/report/webp/4_best.webp",
        "../0..x/report/webp/2_best.webp",
        "../cam.1_a-b/report/webp/12_best.webp",
    ]
    text = " ".join(" ".join(page.text).split())
    assert "4 people (2 in more than one video)" in text and text.count("joined by a person") == 1
    assert "Recommendations (3)" in text and "similarity 0.710" in text


# --- files --------------------------------------------------------------------------------------------


def test_video_report_files(built):
    records, out = built
    page = Tags((out / "index.html").read_text())
    webps = sorted(p.name for p in (out / "webp").iterdir())
    assert webps == sorted([f"{t}.webp" for t in TRACKS] + [f"{t}_best.webp" for t in TRACKS])
    for t, (_, k) in TRACKS.items():
        assert Image.open(out / "webp" / f"{t}.webp").n_frames == k
        assert iio.imread(out / "webp" / f"{t}_best.webp").shape == (96, 48, 3)
    images = page.find("img")
    assert {i["src"] for i in images} == {f"webp/{t}.webp" for t in TRACKS} | {
        "webp/3_best.webp",
        "webp/7_best.webp",
        "webp/5_best.webp",
        "webp/12_best.webp",
    }
    assert all((out / i["src"]).is_file() for i in images)
    data = heatmap_data(out / "index.html")
    assert data["ids"] == [3, 9, 12, 20, 7, 5] and len(data["values"]) == 36
    ids = records.similarity.track_ids
    for i, a in enumerate(data["ids"]):
        for j, b in enumerate(data["ids"]):
            assert data["values"][i * 6 + j] == pytest.approx(
                records.similarity.matrix[ids.index(a), ids.index(b)], abs=5e-4
            )
    text = " ".join(" ".join(page.text).split())
    assert "Identity 0" in text and "Identity 3" in text and "tracks found" in text
    html = (out / "index.html").read_text()
    header = html[html.index('<header class="page">') : html.index("</header>")]
    assert Tags(header).find("div", "pipeline") and pipeline_line(records) in Tags(header).text, (
        "in the header, not only under Settings"
    )
    assert "osnet_x0_25" in text and "bytetrack" in text and "yolov8n.pt" in text
    assert "seen in the same frame at different places (co-occurrence veto)" in text and "together in 4 frames" in text
    # the pair only the threshold kept apart (5, 12; less similar) comes before the vetoed one (7, 3)
    recommendations = html[html.index('id="recommendations"') :]
    assert recommendations.index('alt="track 5"') < recommendations.index('alt="track 7"')
    assert "IDF1" in text and "66.0 %" in text
    assert text.count("merged by a person") == 1
    # one card per identity, member tracks side by side in clusters.json's order
    assert (
        html.index('id="identity-0"')
        < html.index('alt="track 3"')
        < html.index('alt="track 9"')
        < html.index('id="identity-1"')
    )
    # mean crop quality and crop counts come from final_crops.h5
    assert "6 crops" in text and "quality 0.70" in text


def test_page_without_ground_truth_has_no_evaluation(tmp_path):
    records = make_records(evaluation=False)
    out = tmp_path / "report"
    write_video_report(records, write_crops(tmp_path / "c.h5"), out / "index.html", out / "webp", SETTINGS)
    assert 'id="evaluation"' not in (out / "index.html").read_text()


def test_video_without_people_gives_a_valid_page(tmp_path):
    records = make_records(evaluation=False)
    empty = VideoRecords(
        Tracks(TrackRows.empty(), records.tracks.meta),
        records.features,
        replace(
            records.similarity,
            track_ids=[],
            matrix=np.zeros((0, 0)),
            cooccurrence=np.zeros((0, 0), dtype=np.int64),
            pairs=[],
            distribution=Distribution(0, None, None, None, None, [], []),
        ),
        replace(records.clusters, identities=[], merges=[], recommendations=[]),
    )
    meta = CropsMeta("syn", "/data/syn.mp4", 25.0, 100, CROP_H, CROP_W, "stretch", {})
    with open_crops_writer(tmp_path / "c.h5", meta, np.zeros(0, dtype=PERSONS_DTYPE)):
        pass
    out = tmp_path / "report"
    write_video_report(empty, tmp_path / "c.h5", out / "index.html", out / "webp", SETTINGS)
    page = Tags((out / "index.html").read_text())
    assert (
        heatmap_data(out / "index.html")["values"] == []
        and page.find("img") == []
        and list((out / "webp").iterdir()) == []
    )
    assert "No person was tracked long enough" in " ".join(page.text)


def test_flagged_tracks_are_listed_for_a_person_to_confirm(tmp_path):
    """Track 5 flagged as not a person: in no identity, shown under "Not a person?" with its reasons."""
    records = make_records()
    flagged = [Flagged(5, ["static", "small"], 4)]
    clusters = replace(
        records.clusters,
        identities=records.clusters.identities[:-1],
        recommendations=[r for r in records.clusters.recommendations if 5 not in (r.a, r.b)],  # as cluster does
        flagged=flagged,
    )
    out = tmp_path / "report"
    write_video_report(
        replace(records, clusters=clusters), write_crops(tmp_path / "c.h5"), out / "index.html", out / "webp", SETTINGS
    )
    html = (out / "index.html").read_text()
    section = html[
        html.index('<section id="flagged">') : html.index("</section>", html.index('<section id="flagged">'))
    ]
    text = " ".join(" ".join(Tags(section).text).split())
    assert "track 5" in text and "barely moves, much smaller than the other tracks" in text
    assert [i["src"] for i in Tags(section).find("img")] == ["webp/5_best.webp"]
    identities = html[html.index('<section id="identities">') : html.index('<section id="similarity">')]
    assert 'alt="track 5"' not in identities
    # flagged and in an identity at once: clusters.json is damaged
    both = replace(records.clusters, flagged=flagged)
    with pytest.raises(ReportError, match=r"clusters\.json: its tracks differ"):
        write_video_report(
            replace(records, clusters=both),
            write_crops(tmp_path / "c.h5"),
            tmp_path / "i.html",
            tmp_path / "w",
            SETTINGS,
        )


def test_stale_clusters_fail_naming_the_file(tmp_path):
    records = make_records()
    clusters = replace(records.clusters, identities=records.clusters.identities[:-1])  # track 5 missing
    with pytest.raises(ReportError, match=r"clusters\.json: its tracks differ .* run `snakemake` again"):
        write_video_report(
            replace(records, clusters=clusters),
            write_crops(tmp_path / "c.h5"),
            tmp_path / "i.html",
            tmp_path / "w",
            SETTINGS,
        )
    other = replace(records, similarity=replace(records.similarity, video="other"))
    with pytest.raises(ReportError, match="made for video 'other'"):
        write_video_report(other, write_crops(tmp_path / "c.h5"), tmp_path / "i.html", tmp_path / "w", SETTINGS)
    assert not (tmp_path / "i.html").exists()


def test_index_lists_every_video(tmp_path):
    with_gt, without = make_records("a"), make_records("b", evaluation=False)
    summaries = [video_summary(r.tracks, r.clusters, r.evaluation) for r in (with_gt, without)]
    out = tmp_path / "report" / "index.html"
    write_index(
        summaries,
        {"track": {"detector": "yolov8n.pt", "tracker_params": {}}, "report": {"webp_fps": 10}},
        no_people(["a", "b"]),
        out,
    )
    page = Tags(out.read_text())
    assert video_links(page) == ["../a/report/index.html", "../b/report/index.html"]
    # 100 frames at 25 fps; 7 tracks found (one too short to keep), 4 identities
    assert page.rows[:3] == [
        ["video", "source", "duration", "frames", "tracks", "identities", "MOTA raw → merged", "IDF1 raw → merged"],
        ["a", "/data/syn.mp4", "0:04", "100", "7", "4", "61.0 % → 61.0 %", "52.0 % → 66.0 %"],
        ["b", "/data/syn.mp4", "0:04", "100", "7", "4", "no ground truth", "no ground truth"],
    ]
    assert ["track.detector", "yolov8n.pt"] in page.rows and ["report.webp_fps", "10"] in page.rows
    assert ["track.tracker_params", "{}"] in page.rows
    header = " ".join(" ".join(t for t in page.text).split()).split("Videos")[0]
    assert "2 videos 200 frames 14 tracks 8 identities 0 people" in header
    assert "No person in any video." in " ".join(page.text)


def test_durations():
    assert video_duration(VideoInfo(25.0, 320, 240, 100)) == "0:04"
    assert video_duration(VideoInfo(25.0, 320, 240, 25 * 3725)) == "1:02:05"
    assert video_duration(VideoInfo(0.0, 320, 240, 100)) == "?", "a video without a frame rate"


def test_header_names_models_and_key_settings():
    records = make_records()
    expected = "yolov8n.pt · bytetrack · osnet_x0_25 (osnet_x0_25_msmt17.pth) · similarity mean (topk=10) · average linkage, distance < 0.35"
    assert pipeline_line(records) == expected
    paths = replace(
        records,
        tracks=replace(records.tracks, meta=replace(records.tracks.meta, detector="/models/yolov8s.pt", vid_stride=2)),
        features=replace(records.features, weights="/models/osnet_x1_0_msmt17.pth"),
        similarity=replace(records.similarity, aggregation="max", params={}),
    )
    assert pipeline_line(paths) == (
        "yolov8s.pt (vid_stride 2) · bytetrack · osnet_x0_25 (osnet_x1_0_msmt17.pth) · similarity max · average linkage, distance < 0.35"
    )


# --- in a real browser --------------------------------------------------------------------------------


def test_report_in_chromium(browser, tmp_path):
    records = make_records(video=EVIL, source=f"/videos/{EVIL}")
    out = tmp_path / "results" / "evil" / "report"
    write_video_report(records, write_crops(tmp_path / "c.h5", video=EVIL), out / "index.html", out / "webp", SETTINGS)
    write_people_script(people_of(EVIL), tmp_path / "results" / "report" / PEOPLE_SCRIPT)
    write_no_decisions(tmp_path / "results" / "report", [EVIL, "other"])
    page, seen = open_page(browser, out / "index.html")
    widths = load_every_image(page)
    assert len(widths) == 10 and all(w > 0 for w in widths), widths
    canvas = page.locator("#heatmap")
    assert canvas.get_attribute("data-n") == "6" and canvas.get_attribute("data-cells") == "36"
    # every cell is painted in the colour of its value (read back from the canvas)
    data = heatmap_data(out / "index.html")
    off, c = int(canvas.get_attribute("data-offset")), data["cell"]
    centres = [[off + j * c + c // 2, off + i * c + c // 2] for i in range(6) for j in range(6)]
    pixels = page.evaluate(
        """centres => { const canvas = document.getElementById("heatmap"), dpr = window.devicePixelRatio;
            const image = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);  // one readback
            return centres.map(([x, y]) => { const k = 4 * (Math.floor(y * dpr) * canvas.width + Math.floor(x * dpr));
                                             return Array.from(image.data.slice(k, k + 3)); }); }""",
        centres,
    )
    expected = [[int(colour(v)[k : k + 2], 16) for k in (1, 3, 5)] for v in data["values"]]
    assert np.abs(np.array(pixels) - np.array(expected)).max() <= 2
    # hovering a cell shows its tracks and value
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    box = {"x": box["x"] + 1, "y": box["y"] + 1}  # inside the 1 px border
    row, col = data["ids"].index(9), data["ids"].index(7)
    page.mouse.move(box["x"] + off + col * c + c / 2, box["y"] + off + row * c + c / 2)
    tip = page.locator("#tip")
    assert tip.is_visible()
    ids = records.similarity.track_ids
    value = records.similarity.matrix[ids.index(9), ids.index(7)]
    assert tip.inner_text() == f"track 9 (id 0) × track 7 (id 2): {round(value, 3):.3f}"
    page.mouse.move(box["x"] + off + 2 * c + c / 2, box["y"] + off + 2 * c + c / 2)
    assert tip.inner_text().startswith("track 12 (id 1) × track 12 (id 1): 1.000")
    # the evil name is text, not code
    assert page.inner_text("#video-id") == EVIL and seen["dialogs"] == []
    assert page.inner_text("header #pipeline") == pipeline_line(records)
    assert page.inner_text("header #pipeline").endswith("similarity mean (topk=10) · average linkage, distance < 0.35")
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 10_000
    problems = [(t, m) for t, m in seen["console"] if t in ("error", "warning")]
    assert problems == [] and seen["errors"] == []
    assert all(url.startswith("file://") for url in seen["requests"]), seen["requests"]
    page.close()


def test_index_in_chromium(browser, tmp_path):
    summaries = [
        video_summary(r.tracks, r.clusters, r.evaluation)
        for r in (make_records("a"), make_records("b", evaluation=False))
    ]
    write_index(summaries, {"report": {"webp_fps": 10}}, no_people(["a", "b"]), tmp_path / "report" / "index.html")
    write_no_decisions(tmp_path / "report", ["a", "b"])
    page, seen = open_page(browser, tmp_path / "report" / "index.html")
    assert page.locator("#videos tr").count() == 3
    assert [(t, m) for t, m in seen["console"] if t in ("error", "warning")] == [] and seen["errors"] == []
    page.close()


def test_people_page_in_chromium(browser, tmp_path):
    """The people cards show the video pages' own WebPs (../<video>/report/webp/) and link into those pages."""
    people = make_people()
    results = tmp_path / "results"
    for person in people.people:
        for a in person.appearances:
            webp = results / a.video / "report" / "webp"
            webp.mkdir(parents=True, exist_ok=True)
            crops = distinct_crops(3, a.best_track)
            (webp / f"{a.best_track}.webp").write_bytes(track_webp(crops, np.arange(3), SETTINGS))
            (webp / f"{a.best_track}_best.webp").write_bytes(still_webp(crops[0], SETTINGS))
    for video in PEOPLE_VIDEOS:  # stand-ins for the video pages, with the identity cards' anchors
        ids = [a.identity for p in people.people for a in p.appearances if a.video == video]
        (results / video / "report" / "index.html").write_text("".join(f'<div id="identity-{i}"></div>' for i in ids))
    index = results / "report" / "index.html"
    write_index(people_summaries(), {"report": {"note": HOSTILE}}, people, index)
    write_no_decisions(index.parent, list(PEOPLE_VIDEOS))
    page, seen = open_page(browser, index)
    widths = load_every_image(page)
    assert len(widths) == 6 + 2 * 3 and all(w > 0 for w in widths), widths
    assert page.locator(".person").count() == 4 and page.locator("#person-2 figure.appearance").count() == 2
    assert page.locator("#recommendations .rec").count() == 3
    for href in page.eval_on_selector_all("a[href^='../']", "links => links.map(a => a.href)"):
        target, _, anchor = href.partition("#")
        html = Path(target.removeprefix("file://")).read_text()
        assert not anchor or f'id="{anchor}"' in html, href
    assert_quiet_and_offline(seen)
    page.close()


# --- person ids on the video pages (people.js) --------------------------------------------------------


def people_js_data(path: Path) -> dict:
    text = path.read_text()
    prefix = "window.REIDFLOW_PEOPLE = "
    assert text.startswith(prefix) and text.endswith(";\n")
    return json.loads(text[len(prefix) : -2])


def test_people_script_maps_every_identity_escaped(tmp_path):
    js = tmp_path / "results" / "report" / PEOPLE_SCRIPT
    write_people_script(people_of(EVIL, other=HOSTILE), js)
    body = js.read_text().split(" = ", 1)[1]
    assert not set("<>&") & set(body), "no text of the data can end or comment out a script"
    assert people_js_data(js) == {
        f"{EVIL}:0": {"person": 1, "name": HOSTILE, "videos": [EVIL, HOSTILE], "tracks": [3, 9]},
        f"{HOSTILE}:0": {"person": 1, "name": HOSTILE, "videos": [EVIL, HOSTILE], "tracks": [1]},
        f"{EVIL}:1": {"person": 2, "name": None, "videos": [EVIL], "tracks": [12, 20]},
        f"{EVIL}:2": {"person": 3, "name": None, "videos": [EVIL], "tracks": [7]},
        f"{EVIL}:3": {"person": 4, "name": None, "videos": [EVIL], "tracks": [5]},
    }
    assert people_script(people_of("a")) == people_script(people_of("a")), "same people, same file"
    # after a failed run the pages must not show ids of another state: the file goes with the index
    write_incomplete_index(["a"], tmp_path / "results", js.with_name("index.html"), "now")
    assert not js.exists() and js.with_name("index.html").is_file()


def test_video_page_has_a_person_badge_per_identity(built):
    _, out = built
    html = (out / "index.html").read_text()
    badges = Tags(html).find("a", "person-badge")
    assert [(b["data-key"], b["data-tracks"]) for b in badges] == [
        ("syn:0", "3 9"),
        ("syn:1", "12 20"),
        ("syn:2", "7"),
        ("syn:3", "5"),
    ]
    assert all("hidden" in b and "href" not in b for b in badges), "filled in by the browser from people.js"
    csp = next(t["content"] for t in Tags(html).find("meta") if t.get("http-equiv") == "Content-Security-Policy")
    assert "script-src 'unsafe-inline' 'self'" in csp and "default-src 'none'" in csp


def badges_shown(page) -> list:
    page.wait_for_function("!document.getElementById('people-status').textContent.includes('need JavaScript')")
    return page.eval_on_selector_all(
        ".person-badge",
        "bs => bs.map(b => [b.closest('.identity').id, b.hidden ? null : b.textContent, b.getAttribute('href')])",
    )


def test_person_ids_in_chromium(browser, tmp_path):
    """The video page shows each identity's person from ../../report/people.js; out-of-date and absent
    identities are called so; without the file the page says so and shows no ids."""
    records = make_records(video=EVIL, source=f"/videos/{EVIL}")
    results = tmp_path / "results"
    out = results / "evil" / "report"
    write_video_report(records, write_crops(tmp_path / "c.h5", video=EVIL), out / "index.html", out / "webp", SETTINGS)
    js = results / "report" / PEOPLE_SCRIPT
    people = people_of(EVIL, other=HOSTILE)
    write_people_script(people, js)
    write_no_decisions(js.parent, [EVIL, HOSTILE])
    page, seen = open_page(browser, out / "index.html")
    assert badges_shown(page) == [
        ["identity-0", f"Person 1 ({HOSTILE}) · 2 videos", "../../report/index.html#person-1"],
        ["identity-1", "Person 2", "../../report/index.html#person-2"],
        ["identity-2", "Person 3", "../../report/index.html#person-3"],
        ["identity-3", "Person 4", "../../report/index.html#person-4"],
    ]
    assert page.get_attribute("#identity-0 .person-badge", "title") == f"also in {HOSTILE}"
    status = page.inner_text("#people-status")
    assert "4 identities of 4 people" in status and "rerun" not in status
    assert page.inner_text("#video-id") == EVIL and page.locator(".identity img[src='x']").count() == 0
    assert_quiet_and_offline(seen)
    assert js.as_uri() in seen["requests"]
    page.close()

    # identity 1 has other tracks than people.json knows (its video was reclustered), identity 3 is unknown
    changed = replace(
        people,
        people=[
            people.people[0],
            replace(people.people[1], appearances=[replace(people.people[1].appearances[0], tracks=[12])]),
            people.people[2],
        ],
    )
    write_people_script(changed, js)
    page, seen = open_page(browser, out / "index.html")
    assert [b[1] for b in badges_shown(page)] == [f"Person 1 ({HOSTILE}) · 2 videos", "person ?", "Person 3", None]
    status = page.inner_text("#people-status")
    assert "1 out of date" in status and "1 not in people.json yet" in status
    assert "warning" in page.get_attribute("#people-status", "class")
    assert_quiet_and_offline(seen)
    page.close()

    # no people.js (rule people not run yet): no ids, a quiet note. Chromium itself logs the missing file
    # ("Failed to load resource"); the page adds no error of its own.
    js.unlink()
    page, seen = open_page(browser, out / "index.html")
    assert [b[1:] for b in badges_shown(page)] == [[None, None]] * 4
    assert "not available yet" in page.inner_text("#people-status")
    assert seen["console"] == [("error", "Failed to load resource: net::ERR_FILE_NOT_FOUND")]
    assert_quiet_and_offline({**seen, "console": []})
    page.close()
