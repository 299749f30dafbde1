"""Hostile config: overriding nested keys, and values that used to pass the schema and crash a job.

Issue 11, items 10 and 11. Dry runs of the real workflow (``snakemake -n``): a bad value must stop it
while parsing, naming the key, before any job is planned.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import yaml
from conftest import REPO, Workdir

from reidflow import crops, track, trackers
from reidflow.config import ConfigError, check_config, typed_cli_config

SCHEMA = yaml.safe_load((REPO / "config" / "schemas" / "config.schema.yaml").read_text())


@pytest.fixture
def wd(workdir: Workdir, vtest_video: Path) -> Workdir:
    """The repository's config with a non-default track.backend (torch: no export_detector job), so that
    a dry run shows whether an override of another track key kept it."""
    workdir.config["track"]["backend"] = "torch"
    workdir.write_config()
    workdir.write_videos([("vtest", vtest_video)], header=("video", "path"))
    return workdir


def planned_threads(output: str, rule: str) -> int:
    block = re.search(rf"^rule {rule}:\n((?:    .*\n)+)", output, flags=re.M)
    assert block, f"no {rule} job planned:\n{output[-3000:]}"
    threads = re.search(r"^    threads: (\d+)$", block[1], flags=re.M)
    return int(threads[1]) if threads else 1


@pytest.mark.slow  # a dry run of the workflow
def test_nested_key_overridden_with_config_reaches_the_job(wd):
    # Snakemake reads nested --config values as text; this was "'0.3' is not of type 'number'"
    proc = wd.snakemake("-n", "--cores", "4", "--config", "track={threads: 3, conf: 0.3}")
    out = proc.stdout + proc.stderr
    assert planned_threads(out, "track") == 3
    assert "rule export_detector:" not in out, "track.backend from config.yaml was lost"


@pytest.mark.slow  # a dry run of the workflow
def test_nested_key_overridden_with_configfile_reaches_the_job(wd):
    # the documented way for several keys: a file with only the changed keys, merged key by key
    (wd.path / "mine.yaml").write_text("track:\n  threads: 3\n")
    proc = wd.snakemake("-n", "--cores", "4", "--configfile", str(wd.path / "mine.yaml"))
    out = proc.stdout + proc.stderr
    assert planned_threads(out, "track") == 3
    assert "rule export_detector:" not in out, "track.backend from config.yaml was lost"


@pytest.mark.slow  # a dry run of the workflow
def test_config_override_is_checked_as_a_number(wd):
    proc = wd.snakemake("-n", "--config", "track={conf: 1.5}", check=False)
    assert proc.returncode != 0
    assert "1.5 is greater than the maximum of 1" in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    "text, schema_path, typed",
    [
        ("0.3", ["track", "conf"], 0.3),
        ("640", ["track", "imgsz"], 640),
        ("true", ["track", "half"], True),
        ("0", ["track", "device"], "0"),  # a device id stays text: the schema wants a string
        ("yolov8n.pt", ["track", "detector"], "yolov8n.pt"),
        ("null", ["cluster", "overrides"], None),
        ("60", ["track", "tracker_params", "track_buffer"], 60),  # free-form: read as YAML
        ("orb", ["track", "tracker_params", "gmc_method"], "orb"),
        ("{a: b", ["track", "detector"], "{a: b"),  # not YAML: left for the schema to judge
    ],
)
def test_typed_cli_config(text, schema_path, typed):
    overrides: dict = text
    for key in reversed(schema_path):
        overrides = {key: overrides}
    value = typed_cli_config(overrides, SCHEMA)
    for key in schema_path:
        value = value[key]
    assert value == typed and type(value) is type(typed)


def test_typed_cli_config_reads_nan_as_a_number_for_check_config():
    assert math.isnan(typed_cli_config({"crops": {"border_margin": ".nan"}}, SCHEMA)["crops"]["border_margin"])


ZERO_WEIGHTS = dict.fromkeys(("confidence", "area", "aspect", "truncation", "sharpness", "occlusion"), 0.0)


@pytest.mark.parametrize(
    "section, values, message",
    [
        (
            "track",
            {"tracker_params": {"track_buffer": -5}},
            "config: track.tracker_params.track_buffer = -5: must be an integer >= 1",
        ),
        (
            "track",
            {"tracker_params": {"match_thresh": 7}},
            "config: track.tracker_params.match_thresh = 7: must be a number in [0, 1]",
        ),
        ("track", {"tracker_params": {"track_buffer": 2.5}}, "track_buffer = 2.5: must be an integer >= 1"),
        ("track", {"tracker_params": {"fuse_score": "yes"}}, "fuse_score = 'yes': must be true or false"),
        (
            "track",
            {"tracker": "botsort", "tracker_params": {"gmc_method": "fast"}},
            "gmc_method = 'fast': must be one of sparseOptFlow",
        ),
        (
            "track",
            {"tracker_params": {"gmc_method": "orb"}},
            "config: track.tracker_params: unknown bytetrack parameter(s) gmc_method",
        ),
        (
            "track",
            {"tracker_params": {"track_high_thresh": math.nan}},
            "config: track.tracker_params.track_high_thresh = nan: must be a finite number",
        ),
        ("crops", {"border_margin": math.nan}, "config: crops.border_margin = nan: must be a finite number"),
        ("report", {"webp_fps": math.inf}, "config: report.webp_fps = inf: must be a finite number"),
        ("crops", {"weights": ZERO_WEIGHTS}, "config: crops.weights = {'confidence': 0.0,"),
    ],
)
@pytest.mark.slow  # a dry run of the workflow
def test_bad_value_refused_before_any_job(wd, section, values, message):
    wd.config[section].update(values)
    wd.write_config()
    proc = wd.snakemake("-n", check=False)
    out = proc.stdout + proc.stderr  # Snakemake logs the error to stdout when it is not a terminal
    assert proc.returncode != 0
    assert message in out
    assert "rule track:" not in out
    assert not (wd.path / "results").exists()


@pytest.mark.slow  # a dry run of the workflow
def test_bad_value_from_the_command_line_refused_before_any_job(wd):
    proc = wd.snakemake("-n", "--config", "track={tracker_params: {track_buffer: -5}}", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "config: track.tracker_params.track_buffer = -5: must be an integer >= 1" in out
    assert "rule track:" not in out


def test_check_config_accepts_the_repository_config():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["crops"]["weights"]["confidence"] = 0.0  # some zero weights are fine
    config["track"] |= {
        "tracker": "botsort",
        "tracker_params": {"gmc_method": "none", "track_buffer": 60, "with_reid": False},
    }
    check_config(config)


def test_tracker_params_table_covers_ultralytics_defaults():
    from ultralytics.utils import ROOT

    for name in trackers.TRACKERS:
        defaults = yaml.safe_load((Path(ROOT) / "cfg" / "trackers" / f"{name}.yaml").read_text())
        settable = {key for key, param in trackers.TRACKER_PARAMS.items() if name in param.trackers}
        # tracker_type is set by reidflow; model only matters with with_reid, which is refused
        assert settable == set(defaults) - {"tracker_type", "model"}
        for key in settable:
            assert trackers.TRACKER_PARAMS[key].accepts(defaults[key]), (
                f"{name} default {key}={defaults[key]!r} refused"
            )


def test_the_job_side_checks_are_the_same():
    # the stages refuse what the parse-time check refuses, when used without the workflow
    with pytest.raises(ConfigError, match=r"track_buffer = -5: must be an integer >= 1"):
        track.tracker_params("bytetrack", {"track_buffer": -5})
    with pytest.raises(ConfigError, match=r"config: crops.weights = .*positive sum"):
        crops.QualityWeights(**ZERO_WEIGHTS)
    with pytest.raises(ConfigError, match=r"config: crops.weights = .*positive sum"):
        crops.CropSettings.from_config({"weights": ZERO_WEIGHTS})
