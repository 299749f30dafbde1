"""One owner per setting: the defaults of reidflow.settings, config/config.yaml and the schema agree key by key,
and every script builds its stage's settings the same way."""

import re
from dataclasses import asdict, fields

import pytest
import yaml
from conftest import REPO

from reidflow import settings
from reidflow.settings import STAGES

CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
SCHEMA = yaml.safe_load((REPO / "config" / "schemas" / "config.schema.yaml").read_text())


def schema_defaults(properties: dict) -> dict:
    return {
        key: schema_defaults(spec["properties"])
        if spec.get("type") == "object" and "properties" in spec
        else spec.get("default")
        for key, spec in properties.items()
    }


@pytest.mark.parametrize("stage", STAGES)
def test_defaults_are_the_same_in_the_library_the_config_and_the_schema(stage):
    library = asdict(STAGES[stage]())
    in_config = {key: CONFIG[stage][key] for key in library}
    in_schema = {key: schema_defaults(SCHEMA["properties"][stage]["properties"])[key] for key in library}
    assert library == in_config, f"config/config.yaml {stage} differs from reidflow.settings"
    assert library == in_schema, f"the schema's defaults of {stage} differ from reidflow.settings"
    for key, value in library.items():  # 10 == 10.0 passes ==; a float setting stays a float
        assert isinstance(in_config[key], type(value)) or (
            isinstance(value, float) and isinstance(in_config[key], int)
        ), key


@pytest.mark.parametrize("stage", STAGES)
def test_every_config_key_is_a_setting_or_a_run_key(stage):
    keys = {f.name for f in fields(STAGES[stage])}
    run_keys = set(settings.RUN_KEYS.get(stage, ()))
    assert not keys & run_keys
    assert set(CONFIG[stage]) == keys | run_keys
    assert set(SCHEMA["properties"][stage]["properties"]) == keys | run_keys


def test_every_config_section_with_settings_has_a_class():
    sections = {
        key for key, spec in SCHEMA["properties"].items() if spec.get("type") == "object" and "properties" in spec
    }
    assert sections == set(STAGES)


def test_rule_params_leave_out_what_results_do_not_depend_on():
    assert "batch_size" not in settings.FeatureSettings.params(CONFIG["features"])
    assert settings.ClusterSettings.params(CONFIG["cluster"]) == asdict(settings.ClusterSettings())
    assert settings.TrackSettings.params(CONFIG["track"])["tracker_params"] == {}


def test_from_config_reads_a_section_and_nested_settings():
    crops = settings.CropSettings.from_config(
        {**CONFIG["crops"], "weights": {**CONFIG["crops"]["weights"], "area": 2.0}}
    )
    assert isinstance(crops.weights, settings.QualityWeights) and crops.weights.area == 2.0
    assert (
        settings.FeatureSettings.from_config(CONFIG["features"], device="cuda:0").device == "cuda:0"
    )  # weights, threads: not settings
    assert settings.TrackSettings.from_config({}) == settings.TrackSettings()


def test_every_script_builds_its_settings_from_its_stage_param():
    for script in sorted((REPO / "scripts").glob("*.py")):
        text = script.read_text()
        for name in re.findall(r"(\w+Settings)\(", text):
            pytest.fail(f"{script.name} builds {name}(...) itself; use {name}.from_config(smk.params.<stage>)")
        for stage, cls in STAGES.items():
            if cls.__name__ in text:
                assert f"{cls.__name__}.from_config(smk.params.{stage}" in text, script.name


@pytest.mark.parametrize("module", ["settings", "backends", "ids", "pieces"])
def test_examples_of_the_light_modules_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"reidflow.{module}"))
    assert result.attempted > 0 and result.failed == 0
