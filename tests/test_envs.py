"""envs/*.yaml pin the same versions as pyproject.toml, and the Snakemake files are formatted."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from helpers_imports import third_party_imports

REPO = Path(__file__).resolve().parents[1]


def pins(requirements):
    out = {}
    for req in requirements:
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;#]+)", req.strip())
        assert match, f"not an exact pin: {req!r}"
        out[match[1].lower()] = match[2]
    return out


def test_conda_envs_pin_the_pip_versions():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    # an env may hold an optional extra (open-clip-torch in features.yaml): the same pin as pyproject's
    extras = [dep for group in project.get("optional-dependencies", {}).values() for dep in group]
    pip_pins = pins(project["dependencies"]) | pins(extras)
    env_files = sorted((REPO / "envs").glob("*.yaml"))
    assert env_files
    for env_file in env_files:
        deps = yaml.safe_load(env_file.read_text())["dependencies"]
        pip_section = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
        for name, version in pins(pip_section).items():
            assert pip_pins.get(name) == version, (
                f"{env_file.name}: {name}=={version}, pyproject pins {pip_pins.get(name)}"
            )


def test_snakefmt_check_passes():
    proc = subprocess.run([sys.executable, "-m", "snakefmt", "--check", str(REPO)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# torchreid declares no requirements but imports these when it is imported.
UNDECLARED_REQUIREMENTS = {"torchreid": {"torch", "torchvision", "gdown", "tensorboard"}}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def rule_envs_and_scripts() -> dict[str, tuple[str, str]]:
    """rule -> (env file, script file), from rules/*.smk."""
    out = {}
    for smk in sorted((REPO / "rules").glob("*.smk")):
        for block in re.split(r"\n(?=rule \w+:)", smk.read_text()):
            name = re.match(r"rule (\w+):", block.strip())
            env = re.search(r'conda:\s*\n\s*"\.\./(envs/[\w.]+)"', block)
            script = re.search(r'script:\s*\n\s*"\.\./(scripts/[\w.]+)"', block)
            if name and script:
                assert env, f"{smk.name}: rule {name[1]} has a script but no conda env"
                out[name[1]] = (env[1], script[1])
    return out


def provided_by(pinned: set[str]) -> set[str]:
    """Distributions an env gets: its pins, what they require (recursively, no extras), known gaps filled."""
    import importlib.metadata as metadata

    have, todo = set(), [_norm(p) for p in pinned]
    while todo:
        dist = todo.pop()
        if dist in have:
            continue
        have.add(dist)
        todo.extend(UNDECLARED_REQUIREMENTS.get(dist, ()))
        try:
            requires = metadata.requires(dist) or []
        except metadata.PackageNotFoundError:
            continue
        for req in requires:
            if "extra ==" not in req:
                todo.append(_norm(re.match(r"[A-Za-z0-9_.-]+", req)[0]))
    return have


def test_each_rule_env_holds_what_its_code_imports():
    import importlib.metadata as metadata

    distributions = metadata.packages_distributions()
    rules = rule_envs_and_scripts()
    assert {"track", "crops", "features", "similarity", "cluster", "evaluate", "report"} <= set(rules)
    for rule, (env, script) in rules.items():
        deps = yaml.safe_load((REPO / env).read_text())["dependencies"]
        pinned = set(pins(next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)))
        have = provided_by(pinned)
        for module in sorted(third_party_imports(REPO / script)):
            candidates = {_norm(d) for d in distributions.get(module, [module])}
            assert candidates & have, (
                f"rule {rule}: {script} (or a reidflow module it uses) imports {module}, which {env} lacks"
            )
