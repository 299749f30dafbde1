"""Both reports built by Snakemake from scratch on real video, then opened in a real browser."""

import re

import pytest

from browser import Tags, browser, heatmap_data, load_every_image, open_page  # noqa: F401  browser is a fixture
from conftest import write_clip
from reidflow import formats

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
        similarity = formats.read_similarity(results / video / "similarity.json")
        clusters = formats.read_clusters(results / video / "clusters.json")
        with formats.CropsReader(results / video / "final_crops.h5") as reader:
            kept = reader.track_ids
        n = len(similarity.track_ids)
        data = heatmap_data(page_path)
        assert n == len(kept) and sorted(data["ids"]) == sorted(kept) and len(data["values"]) == n * n
        cells[video] = n * n
        assert len(page.find("div", "identity")) == len(clusters.identities)
        webps = {p.name for p in (results / video / "report" / "webp").glob("*.webp")}  # Snakemake adds .snakemake_timestamp
        assert webps == {f"{t}.webp" for t in kept} | {f"{t}_best.webp" for t in kept}
        assert all((page_path.parent / img["src"]).is_file() for img in page.find("img"))
        assert ('id="evaluation"' in html) == with_gt
        assert models in Tags(html[: html.index("</header>")]).text
    assert "&lt;img src=x onerror=alert(1)&gt;.avi" in (results / "evil" / "report" / "index.html").read_text()

    index_path = results / "report" / "index.html"
    index = Tags(index_path.read_text())
    links = [a["href"] for a in index.find("a")]
    assert links == ["../clip/report/index.html", "../evil/report/index.html"]
    assert all((index_path.parent / link).resolve().is_file() for link in links)
    text = " ".join(" ".join(index.text).split())
    evaluation = formats.read_evaluation(results / "clip" / "evaluation.json")
    assert f"{100 * evaluation.raw['idf1']:.1f} % → {100 * evaluation.merged['idf1']:.1f} %" in text
    assert "no ground truth" in text and "report.webp_fps 10" in text

    # the real page in a real browser: everything loads, nothing complains, nothing leaves the disk
    page, seen = open_page(browser, results / "clip" / "report" / "index.html")
    widths = load_every_image(page)
    assert widths and all(w > 0 for w in widths)
    canvas = page.locator("#heatmap")
    assert int(canvas.get_attribute("data-cells")) == cells["clip"] > 0
    canvas.scroll_into_view_if_needed()
    box, off, c = canvas.bounding_box(), int(canvas.get_attribute("data-offset")), heatmap_data(results / "clip" / "report" / "index.html")["cell"]
    page.mouse.move(box["x"] + 1 + off + 1.5 * c, box["y"] + 1 + off + 0.5 * c)  # row 0, column 1
    assert re.fullmatch(r"track \d+ \(id \d+\) × track \d+ \(id \d+\): -?\d\.\d{3}( · together in \d+ frames)?", page.inner_text("#tip"))
    page.evaluate("window.scrollTo(0, 0)")
    shot = workdir.path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert [(t, m) for t, m in seen["console"] if t in ("error", "warning")] == [] and seen["errors"] == [] and seen["dialogs"] == []
    assert all(url.startswith("file://") for url in seen["requests"])
    page.close()
    evil_page, evil_seen = open_page(browser, results / "evil" / "report" / "index.html")
    assert evil_page.inner_text(".source").endswith(EVIL_NAME) and evil_seen["dialogs"] == []
    assert evil_page.locator("header img").count() == 0
    evil_page.close()

    # done means done; a report setting reruns only the two reports
    assert "Nothing to be done" in workdir.snakemake("-n", "results/report/index.html").stdout
    workdir.config["report"]["webp_fps"] = 5
    workdir.write_config()
    planned = workdir.snakemake("-n", "results/report/index.html").stdout
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", planned.split("Job stats:")[1].split("Reasons:")[0], re.M))
    assert jobs == {"report": "2", "report_index": "1", "total": "3"}, planned
