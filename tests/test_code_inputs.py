"""The code manifest a job takes as input in place of the modules it runs: its time is the newest of theirs."""

import os
from pathlib import Path

from reidflow import code_inputs


def files(tmp_path: Path, times: dict[str, int]) -> list[str]:
    out = []
    for name, seconds in times.items():
        path = tmp_path / name
        path.write_text(name)
        os.utime(path, (seconds, seconds))
        out.append(str(path))
    return out


def mtime(path) -> float:
    return os.stat(path).st_mtime


def test_the_manifest_lists_the_files_and_is_as_new_as_the_newest(tmp_path):
    code = files(tmp_path, {"a.py": 1_000, "b.py": 3_000, "c.py": 2_000})
    path = code_inputs.manifest(code, "modules", tmp_path / "m")
    assert Path(path).name.startswith("modules-") and code_inputs.listed(path) == code
    assert mtime(path) == 3_000
    assert code_inputs.manifest(code, "modules", tmp_path / "m") == path  # the same list, the same file


def test_its_time_follows_edits_and_restores_and_survives_deletion(tmp_path):
    code = files(tmp_path, {"a.py": 1_000, "b.py": 2_000})
    path = code_inputs.manifest(code, "modules", tmp_path / "m")
    os.utime(code[0], (5_000, 5_000))  # an edit: jobs that run a.py must rerun
    assert mtime(code_inputs.manifest(code, "modules", tmp_path / "m")) == 5_000
    os.utime(code[0], (1_000, 1_000))  # edit undone, times restored: nothing to rerun any more
    assert mtime(code_inputs.manifest(code, "modules", tmp_path / "m")) == 2_000
    os.remove(path)  # e.g. `rm -rf .snakemake`: back with the same time, so nothing reruns
    assert code_inputs.manifest(code, "modules", tmp_path / "m") == path and mtime(path) == 2_000


def test_another_list_is_another_manifest(tmp_path):
    code = files(tmp_path, {"a.py": 1_000, "b.py": 2_000})
    first = code_inputs.manifest(code, "modules", tmp_path / "m")
    assert code_inputs.manifest(code[:1], "modules", tmp_path / "m") != first
    assert code_inputs.manifest(code, "templates", tmp_path / "m") != first


def test_without_a_writable_folder_the_files_themselves_are_the_inputs(tmp_path):
    code = files(tmp_path, {"a.py": 1_000})
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("")
    assert code_inputs.manifest(code, "modules", blocker / "m") == code
    assert code_inputs.manifest([], "modules", tmp_path / "m") == []


def test_its_content_changes_with_the_files_content_only(tmp_path):
    """Snakemake reruns a job for a newer input only if its checksum changed: the manifest's must too."""
    code = files(tmp_path, {"a.py": 1_000, "b.py": 2_000})
    path = code_inputs.manifest(code, "modules", tmp_path / "m")
    before = Path(path).read_text()
    os.utime(code[0], (5_000, 5_000))  # touched only
    assert Path(code_inputs.manifest(code, "modules", tmp_path / "m")).read_text() == before
    Path(code[0]).write_text("edited")
    assert Path(code_inputs.manifest(code, "modules", tmp_path / "m")).read_text() != before
