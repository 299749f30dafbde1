"""setup.sh registers the project's profiles by name (`--profile gpu`) without touching a user's own."""

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def register(home: Path) -> str:
    """`bash setup.sh --profiles` with a private HOME and config folder (never the real ~/.config)."""
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    proc = subprocess.run(
        ["bash", str(REPO / "setup.sh"), "--profiles"], env=env, capture_output=True, text=True, check=True
    )
    return proc.stdout


def test_profiles_are_linked_by_name_and_registering_again_changes_nothing(tmp_path):
    profiles = tmp_path / ".config" / "snakemake"
    out = register(tmp_path)
    for name in ("gpu", "slurm"):
        assert (profiles / name).is_symlink() and (profiles / name).resolve() == REPO / "profiles" / name
        assert f"profile {name}: linked" in out
    again = register(tmp_path)
    assert again.count("already links to") == 2 and ": linked" not in again


def test_a_users_own_profile_of_that_name_is_left_alone(tmp_path):
    profiles = tmp_path / ".config" / "snakemake"
    (profiles / "gpu").mkdir(parents=True)
    (profiles / "gpu" / "config.yaml").write_text("cores: 3\n")
    (profiles / "slurm").symlink_to(tmp_path / "elsewhere")  # a link of the user's, even a broken one
    out = register(tmp_path)
    assert (profiles / "gpu" / "config.yaml").read_text() == "cores: 3\n" and not (profiles / "gpu").is_symlink()
    assert os.readlink(profiles / "slurm") == str(tmp_path / "elsewhere")
    assert out.count("left as is") == 2 and "--profile profiles/gpu" in out and "--profile profiles/slurm" in out
