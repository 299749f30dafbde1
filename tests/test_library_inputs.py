"""Each rule declares as ``code`` inputs exactly the reidflow modules its script runs.

Too few, and editing a module leaves stale results; too many, and editing the JSON reader reruns YOLO
tracking on every video. What a script runs is read from the source (tests/helpers_imports.py); what a
rule declares is read from Snakemake itself: the inputs a dry run of a fresh project prints for each job
(the modules are listed in the manifest each job takes as input, reidflow.code_inputs).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import REPO, Workdir, repo_config
from helpers_imports import LIBRARY, library_names

from reidflow import code_inputs

# They fetch a file checked by its sha256, and a refetch would rerun every stage after it: a change of
# the download code is no reason to fetch again. They declare no code at all.
FETCHERS = {"download_model", "demo_video"}


def script_rules() -> dict[str, Path]:
    """rule -> its script, for every rule with a ``script:`` in rules/*.smk."""
    out = {}
    for smk in sorted((REPO / "rules").glob("*.smk")):
        for block in re.split(r"\n(?=rule \w+:)", smk.read_text()):
            name = re.match(r"rule (\w+):", block.strip())
            script = re.search(r'script:\s*\n\s*"\.\./(scripts/[\w.]+)"', block)
            if name and script:
                out[name[1]] = REPO / script[1]
    return out


def is_manifest(root: Path, path: Path) -> bool:
    return path.parent == root / code_inputs.MANIFEST_DIR


@pytest.fixture(scope="module")
def declared(tmp_path_factory) -> dict[str, set[str]]:
    """rule -> the library modules its jobs take as inputs, as ``library()`` names them.

    A fresh project that needs every rule: no local weights (download_model), the demo video
    (demo_video), ground truth (evaluate) and the ONNX detector (export_detector).
    """
    root = tmp_path_factory.mktemp("library_inputs")
    (root / "no_weights").mkdir()
    config = repo_config(root / "no_weights")
    config["track"]["backend"] = "onnx"
    config["annotate"] = True  # rule annotate runs only when asked for
    # rule select_people runs only when the overrides select somebody
    (root / "overrides.yaml").write_text('people:\n  select: ["demo:track:1"]\n')
    config["cluster"]["overrides"] = str(root / "overrides.yaml")
    wd = Workdir(root, config)
    wd.write_config()
    gt = root / "gt.txt"
    gt.write_text("1,1,10,10,20,40,1,-1,-1,-1\n")
    persons = root / "persons.csv"
    persons.write_text("gt_id,person\n1,A\n")
    # two videos with gt and persons: rule evaluate_people scores the links across them
    wd.write_videos(
        [("demo", "resources/demo/vtest.avi", gt, persons), ("demo2", "resources/demo/vtest.avi", gt, persons)],
        header=("video", "path", "gt", "persons"),
    )
    proc = wd.snakemake("-n")
    out: dict[str, list[set[str]]] = defaultdict(list)
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", proc.stdout + proc.stderr):
        head = re.match(r"(?:local)?rule (\w+):", block.strip())
        if not head or head[1] == "all":
            continue
        line = re.search(r"^\s+input: (.*)$", block, flags=re.M)
        paths = [root / p for p in line[1].split(", ")] if line else []
        paths = [f for p in paths for f in ([root / m for m in code_inputs.listed(p)] if is_manifest(root, p) else [p])]
        out[head[1]].append(
            {
                p.relative_to(LIBRARY).with_suffix("").as_posix()
                for p in paths
                if p.suffix == ".py" and p.is_relative_to(LIBRARY)
            }
        )
    for rule, per_job in out.items():
        assert all(job == per_job[0] for job in per_job), f"rule {rule}: its jobs declare different library modules"
    return {rule: per_job[0] for rule, per_job in out.items()}


def test_every_rule_with_a_script_was_planned(declared):
    assert set(script_rules()) <= set(declared), "the dry run should plan every rule; extend the fixture's project"


@pytest.mark.parametrize("rule", sorted(set(script_rules()) - FETCHERS))
def test_rule_declares_exactly_the_modules_its_script_runs(declared, rule):
    script = script_rules()[rule]
    runs = library_names(script)
    missing, extra = sorted(runs - declared[rule]), sorted(declared[rule] - runs)
    assert not missing and not extra, (
        f"rule {rule}: {script.name} runs reidflow modules its library(...) lacks: {missing}; "
        f"declared but never imported: {extra}"
    )


@pytest.mark.parametrize("rule", sorted(FETCHERS))
def test_fetchers_declare_no_code(declared, rule):
    assert declared[rule] == set()


def test_library_adds_the_packages_a_submodule_runs(declared):
    """``formats/tracks`` brings formats/__init__.py; reidflow's own __init__ and runtime come with every rule."""
    assert {"__init__", "runtime", "formats/__init__", "formats/tracks"} <= declared["crops"]
