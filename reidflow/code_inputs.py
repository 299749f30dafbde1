"""A rule's code files (the reidflow modules its script runs, the report templates) as one input file.

Snakemake's planning time grows with the input files of every job: ten-odd modules as inputs of each of
7,000 jobs made planning 1,000 videos ~20 % slower (bench/dag.py). Each job takes instead one manifest
of the files (``sha256sum`` lines: ``sha256sum -c`` checks them), rewritten when one of them changes
and timed as the newest of them whenever the workflow is parsed. Snakemake's rerun decisions are then
those of the files themselves: after an edit the manifest is newer than the outputs and its content
(checksum) differs; a file only touched, or edited and restored with its time, reruns nothing, as a
deleted manifest does not (it comes back with the same content and time); another list of files is
another manifest, so the jobs' input set changes. Files are named as the rule names its inputs.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from reidflow.files import atomic_output

# In the working directory, like Snakemake's own records.
MANIFEST_DIR = Path(".snakemake") / "reidflow" / "code"


def manifest(files: Sequence[str], label: str, directory: str | os.PathLike = MANIFEST_DIR) -> str | list[str]:
    """The path of the manifest of ``files``, written or re-timed now; ``files`` itself when that list is
    empty or the manifest cannot be written.

    ``label`` starts the file name: ``<label>-<hash of the list>.txt``.
    """
    if not files:
        return list(files)
    key = hashlib.sha256("".join(f"{name}\n" for name in files).encode()).hexdigest()[:12]
    path = Path(directory) / f"{label.replace('/', '.')}-{key}.txt"
    newest, lines = 0, []
    for name in files:
        try:
            newest = max(newest, os.stat(name).st_mtime_ns)
            lines.append(f"{_sha256(name)}  {name}\n")
        except FileNotFoundError:
            raise FileNotFoundError(f"{name}: a code file the workflow lists does not exist") from None
    text = "".join(lines)
    try:
        if path.read_text() == text:
            if path.stat().st_mtime_ns != newest:
                os.utime(path, ns=(newest, newest))
            return str(path)
    except OSError:  # missing, or another user's file (only its owner may set its time): write it anew
        pass
    try:
        with atomic_output(path) as tmp:
            tmp.write_text(text)
            os.utime(tmp, ns=(newest, newest))  # parallel parses (SLURM jobs) write the same text: any may win
    except OSError:  # e.g. a read-only working directory: the files themselves, as inputs
        return list(files)
    return str(path)


def _sha256(name: str) -> str:
    with open(name, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def listed(path: str | os.PathLike) -> list[str]:
    """The files a manifest lists."""
    return [line.split("  ", 1)[1] for line in Path(path).read_text().splitlines()]
