"""A rule's code files (the reidflow modules its script runs, the report templates) as one input file.

Snakemake's planning time grows with the input files of every job: ten-odd modules as inputs of each of
7,000 jobs made planning 1,000 videos ~20 % slower (bench/dag.py). Each job takes instead one manifest
that lists the files, and whose modification time is kept equal to the newest of theirs whenever the
workflow is parsed. Snakemake's rerun decisions are then those of the files themselves: editing (or
touching) one of them makes the manifest newer than the outputs, restoring its old time makes it older
again, a deleted manifest comes back with the same time (nothing reruns), and a changed list of files is
another manifest, so the jobs' input set changes. The files are named as the rule names its inputs.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

# In the working directory, like Snakemake's own records.
MANIFEST_DIR = Path(".snakemake") / "reidflow" / "code"


def manifest(files: Sequence[str], label: str, directory: str | os.PathLike = MANIFEST_DIR) -> str | list[str]:
    """The path of the manifest of ``files``, written or re-timed now; ``files`` itself when that list is
    empty or the manifest cannot be written.

    ``label`` starts the file name: ``<label>-<hash of the list>.txt``.
    """
    if not files:
        return list(files)
    text = "".join(f"{name}\n" for name in files)
    path = Path(directory) / f"{label.replace('/', '.')}-{hashlib.sha256(text.encode()).hexdigest()[:12]}.txt"
    newest = 0
    for name in files:
        try:
            newest = max(newest, os.stat(name).st_mtime_ns)
        except FileNotFoundError:
            raise FileNotFoundError(f"{name}: a code file the workflow lists does not exist") from None
    try:
        if path.read_text() == text:
            if path.stat().st_mtime_ns != newest:
                os.utime(path, ns=(newest, newest))
            return str(path)
    except OSError:  # missing, or another user's file (only its owner may set its time): write it anew
        pass
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # not mkstemp's 0600: others sharing the project read it too
        os.utime(tmp, ns=(newest, newest))
        os.replace(tmp, path)  # parallel parses (SLURM jobs) write the same text: any may win
    except OSError:  # e.g. a read-only working directory: the files themselves, as inputs
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        return list(files)
    return str(path)


def listed(path: str | os.PathLike) -> list[str]:
    """The files a manifest lists."""
    return Path(path).read_text().splitlines()
