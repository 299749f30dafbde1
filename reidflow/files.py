"""Writing a file safely: it appears under its name only once complete, whoever writes it.

Every codec in ``reidflow.formats`` writes through ``atomic_output``, and so do the asset downloads and
the report pages: a killed or failed job never leaves a file that looks complete.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path


def stale_temporaries(path: Path) -> list[Path]:
    """Temporary files that ``atomic_output(path)`` makes: ``.<name>.<random>.tmp`` beside ``path``."""
    # mkstemp's random part is 8 characters of [a-z0-9_]: no other output's temporaries match
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.tmp")
    return [p for p in path.parent.glob(".*.tmp") if pattern.fullmatch(p.name)]


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds.

    A killed or failed job therefore never leaves a file that looks complete. Temporary files of ``path``
    left by an earlier writer that was killed (SIGKILL runs no cleanup) are removed first: Snakemake
    never runs two jobs for one output at once.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in stale_temporaries(path):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; outputs get the usual permissions
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)
