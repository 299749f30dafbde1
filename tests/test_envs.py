"""envs/*.yaml pin the same versions as pyproject.toml, and the Snakemake files are formatted."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

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
    pip_pins = pins(project["dependencies"])
    env_files = sorted((REPO / "envs").glob("*.yaml"))
    assert env_files
    for env_file in env_files:
        deps = yaml.safe_load(env_file.read_text())["dependencies"]
        pip_section = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
        for name, version in pins(pip_section).items():
            assert pip_pins.get(name) == version, f"{env_file.name}: {name}=={version}, pyproject pins {pip_pins.get(name)}"


def test_snakefmt_check_passes():
    proc = subprocess.run([sys.executable, "-m", "snakefmt", "--check", str(REPO)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
