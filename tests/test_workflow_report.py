"""Both reports built by Snakemake from scratch on real video, then opened in a real browser; Snakemake's
own report (``snakemake --report report.zip``) of a finished run holds them."""

import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser import Tags, assert_quiet_and_offline, browser, heatmap_data, load_every_image, open_page, video_links  # noqa: F401  browser is a fixture
from conftest import Workdir, write_clip

from reidflow.formats.clusters import read_clusters
from reidflow.formats.crops import CropsReader
from reidflow.formats.evaluation import read_evaluation
from reidflow.formats.similarity import read_similarity

pytestmark = pytest.mark.slow

# Runs script if the page does not escape it. (A path with "<script>" cannot reach the page: Snakemake 9 reads
# <lowercase_name> in paths as a pathvar; test_report.py checks that name on generated records.)
EVIL_NAME = "<img src=x onerror=alert(1)>.avi"


def test_reports_from_scratch(workdir, vtest_clip, vtest_gt, vtest_video, tmp_path_factory, browser):
    evil_video = write_clip(vtest_video, tmp_path_factory.mktemp("evil") / EVIL_NAME, 30)
    workdir.write_videos([("clip", vtest_clip, vtest_gt), ("evil", evil_video, "")])
    workdir.snakemake("results/report/index.html")
    results = workdir.path / "results"

    cfg = workdir.config
    models = (  # the page header names the models and key settings of the run
        f"{cfg['track']['detector']} · {cfg['track']['tracker']} · {cfg['features']['model']} ({cfg['features']['weights']})"
        f" · similarity {cfg['similarity']['aggregation']} · {cfg['cluster']['linkage']} linkage, distance < {cfg['cluster']['distance_threshold']}"
    )
    cells = {}
    for video, with_gt in (("clip", True), ("evil", False)):
        page_path = results / video / "report" / "index.html"
        html = page_path.read_text()
        page = Tags(html)
        similarity = read_similarity(results / video / "similarity.json")
        clusters = read_clusters(results / video / "clusters.json")
        with CropsReader(results / video / "final_crops.h5") as reader:
            kept = reader.track_ids
        n = len(similarity.track_ids)
        data = heatmap_data(page_path)
        assert n == len(kept) and sorted(data["ids"]) == sorted(kept) and len(data["values"]) == n * n
        cells[video] = n * n
        assert len(page.find("div", "identity")) == len(clusters.identities)
        webps = {
            p.name for p in (results / video / "report" / "webp").glob("*.webp")
        }  # Snakemake adds .snakemake_timestamp
        assert webps == {f"{t}.webp" for t in kept} | {f"{t}_best.webp" for t in kept}
        assert all((page_path.parent / img["src"]).is_file() for img in page.find("img"))
        assert ('id="evaluation"' in html) == with_gt
        assert models in Tags(html[: html.index("</header>")]).text
    assert "&lt;img src=x onerror=alert(1)&gt;.avi" in (results / "evil" / "report" / "index.html").read_text()

    index_path = results / "report" / "index.html"
    index = Tags(index_path.read_text())
    links = video_links(index)
    assert links == ["../clip/report/index.html", "../evil/report/index.html"]
    assert all((index_path.parent / link).resolve().is_file() for link in links)
    text = " ".join(" ".join(index.text).split())
    evaluation = read_evaluation(results / "clip" / "evaluation.json")
    assert f"{100 * evaluation.raw['idf1']:.1f} % → {100 * evaluation.merged['idf1']:.1f} %" in text
    assert "no ground truth" in text and "report.webp_fps 10" in text

    # the real page in a real browser: everything loads, nothing complains, nothing leaves the disk
    page, seen = open_page(browser, results / "clip" / "report" / "index.html")
    widths = load_every_image(page)
    assert widths and all(w > 0 for w in widths)
    canvas = page.locator("#heatmap")
    assert int(canvas.get_attribute("data-cells")) == cells["clip"] > 0
    canvas.scroll_into_view_if_needed()
    box, off, c = (
        canvas.bounding_box(),
        int(canvas.get_attribute("data-offset")),
        heatmap_data(results / "clip" / "report" / "index.html")["cell"],
    )
    page.mouse.move(box["x"] + 1 + off + 1.5 * c, box["y"] + 1 + off + 0.5 * c)  # row 0, column 1
    assert re.fullmatch(
        r"track \d+ \(id \d+\) × track \d+ \(id \d+\): -?\d\.\d{3}( · together in \d+ frames)?", page.inner_text("#tip")
    )
    page.evaluate("window.scrollTo(0, 0)")
    shot = workdir.path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert_quiet_and_offline(seen)
    page.close()
    evil_page, evil_seen = open_page(browser, results / "evil" / "report" / "index.html")
    assert evil_page.inner_text(".source").endswith(EVIL_NAME) and evil_seen["dialogs"] == []
    assert evil_page.locator("header img").count() == 0
    evil_page.close()

    # Snakemake's report of the run lists every video's page
    bundle = snakemake_report(workdir, tmp_path_factory.mktemp("snakemake_report") / "report.zip")
    pages = {r["labels"]["video"] for r in bundle.results.values() if r["labels"].get("page") == "identities"}
    assert pages == {"clip", "evil"}, bundle.results.keys()
    assert set(bundle.results) == {f"results/{v}/report/index.html" for v in pages} | {
        "results/clip/evaluation.json",  # evil has no ground truth
        "results/report/index.html",
    }
    for video in pages:
        assert (
            bundle.page(f"results/{video}/report/index.html")
            == (results / video / "report" / "index.html").read_bytes()
        )

    # done means done; a report setting reruns only the two reports
    assert "Nothing to be done" in workdir.snakemake("-n", "results/report/index.html").stdout
    workdir.config["report"]["webp_fps"] = 5
    workdir.write_config()
    planned = workdir.snakemake("-n", "results/report/index.html").stdout
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", planned.split("Job stats:")[1].split("Reasons:")[0], re.M))
    assert jobs == {"report": "2", "report_index": "1", "total": "3"}, planned


@dataclass(frozen=True)
class SnakemakeReport:
    """What ``snakemake --report x.zip`` wrote: the files in the zip and the JSON its report.html holds."""

    files: dict[str, bytes]  # by their path in the zip, e.g. "x/data/raw/<id>/index.html"
    folder: str  # the zip's top folder, "x"
    results: dict[str, dict]  # by the output's path in the run: labels, caption, job_properties, data_uri
    rules: dict[str, dict]
    rule_graph: list[str]  # the rules in the graph
    runtimes: list[str]  # the rule of every job timed

    def page(self, output: str) -> bytes:
        return self.files[f"{self.folder}/{self.results[output]['data_uri']}"]


def snakemake_report(workdir: Workdir, path: Path) -> SnakemakeReport:
    """Build the Snakemake report of a finished run into ``path`` (outside its working directory)."""
    workdir.snakemake("--report", str(path))
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    html = files[f"{path.stem}/report.html"].decode()

    def variable(name: str):  # `var <name> = <JSON>;` of the report's script (its bundled JS has others)
        decoder = json.JSONDecoder()
        for match in re.finditer(rf"\bvar {name} = ", html):
            try:
                return decoder.raw_decode(html, match.end())[0]
            except json.JSONDecodeError:
                continue
        raise AssertionError(f"no JSON variable {name} in {path}")

    nodes = next(d["values"] for d in variable("rulegraph_spec")["data"] if d["name"] == "node-data")
    return SnakemakeReport(
        files=files,
        folder=path.stem,
        results=variable("results"),
        rules=variable("rules"),
        rule_graph=[node["rule"] for node in nodes],
        runtimes=[job["rule"] for job in variable("runtimes_spec")["data"]["values"]],
    )


def test_snakemake_report_of_a_finished_run(vtest_run, tmp_path):
    results = vtest_run.path / "results"
    before = {p: p.stat().st_mtime_ns for p in results.rglob("*")}
    bundle = snakemake_report(vtest_run, tmp_path / "report.zip")
    assert {p: p.stat().st_mtime_ns for p in results.rglob("*")} == before, "the report changes nothing in the run"

    stages = {"track", "crops", "features", "similarity", "cluster", "evaluate", "report", "report_index"}
    assert stages <= set(bundle.rule_graph) and stages <= set(bundle.rules)
    assert {"track", "features", "report"} <= set(bundle.runtimes)
    assert {output: r["labels"] for output, r in bundle.results.items()} == {
        "results/clip/report/index.html": {"video": "clip", "page": "identities"},
        "results/clip/evaluation.json": {"video": "clip", "page": "evaluation"},
        "results/report/index.html": {"page": "all videos"},
    }
    page = bundle.results["results/clip/report/index.html"]
    assert (
        page["job_properties"]["rule"] == "report"
        and "Who is in video" in page["caption"]
        and "clip" in page["caption"]
    )

    # the page with every image it shows, beside it as in results/clip/report/
    html = bundle.page("results/clip/report/index.html")
    assert html == (results / "clip" / "report" / "index.html").read_bytes()
    folder = f"{bundle.folder}/{page['data_uri']}".rsplit("/", 1)[0]
    images = set(re.findall(r'src="(webp/[^"]+)"', html.decode()))
    webps = {f"webp/{p.name}" for p in (results / "clip" / "report" / "webp").glob("*.webp")}
    assert images and images <= webps
    assert {name: bundle.files.get(f"{folder}/{name}") for name in webps} == {
        name: (results / "clip" / "report" / name).read_bytes() for name in webps
    }
    evaluation = bundle.page("results/clip/evaluation.json")
    assert json.loads(evaluation) == json.loads((results / "clip" / "evaluation.json").read_text())
