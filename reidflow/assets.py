"""Model weights and the demo video: where they are looked up, and a safe, verified download."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from reidflow import ReidflowError
from reidflow.files import atomic_output

MODELS_DIR_ENV = "REIDFLOW_MODELS_DIR"
DOWNLOAD_DIR = "resources/models"
REGISTRY_FILE = "resources/models.yaml"  # relative to the workflow's base directory
# sha256 of model files trusted on this machine (`sha256sum` format), in the working directory: the
# local weights directory may be read-only, and trust is machine-local state like the downloads.
SUMS_FILE = f"{DOWNLOAD_DIR}/SHA256SUMS"

# OpenCV's sample video (PETS09-S2L1), the workflow's embedded demo.
DEMO_VIDEO_URL = "https://raw.githubusercontent.com/opencv/opencv/4.x/samples/data/vtest.avi"
DEMO_VIDEO_SHA256 = "45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf"
DEMO_VIDEO_LOCAL = ("/usr/share/doc/opencv-doc/examples/data/vtest.avi",)
# A folder of shared assets (as the tests use it): its copy of the demo video is used before a download.
SHARED_ENV = "REIDFLOW_SHARED"
SHARED_DEMO_VIDEO = "data/pets09-s2l1/vtest.avi"


def demo_video_copies() -> tuple[str, ...]:
    """Local files that may hold the demo video (each is used only if its sha256 is the demo's)."""
    shared = os.environ.get(SHARED_ENV)
    return DEMO_VIDEO_LOCAL + ((str(Path(shared) / SHARED_DEMO_VIDEO),) if shared else ())


def demo_video_hint(dest: str | Path) -> str:
    return (
        f"install Debian's opencv-doc (it ships vtest.avi), set {SHARED_ENV} to a folder holding "
        f"{SHARED_DEMO_VIDEO}, or copy vtest.avi to {dest} yourself"
    )


class AssetError(ReidflowError):
    pass


class ChecksumError(AssetError):
    """A model file whose content is not the one known for it: it is never loaded."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str
    url: str | None
    sha256: str | None
    arch: str | None = None


def load_registry(path: str | Path) -> dict[str, ModelSpec]:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise AssetError(f"{path}: cannot read the model registry: {err}") from None
    specs = {}
    for name, entry in raw.items():
        if not isinstance(entry, dict) or entry.get("kind") not in ("detector", "reid"):
            raise AssetError(f"{path}: entry {name!r} needs 'kind: detector' or 'kind: reid'")
        specs[name] = ModelSpec(name, entry["kind"], entry.get("url"), entry.get("sha256"), entry.get("arch"))
    return specs


def local_models_dir(configured: str | None) -> Path | None:
    """The directory of local weights: the config key wins over the environment variable."""
    value = configured or os.environ.get(MODELS_DIR_ENV)
    return Path(value) if value else None


def resolve_model(name: str, models_dir: Path | None, registry: dict[str, ModelSpec]) -> str:
    """Path of a model file for a rule's input.

    ``name`` is a file name from the registry or a path to a file. A registry file found in the local
    weights directory is used in place; otherwise the path under ``resources/models`` is returned, which
    rule ``download_model`` creates when missing.
    """
    if os.sep in name or "/" in name:
        if not Path(name).is_file():
            raise AssetError(f"model file {name} not found; fix the path in the config")
        return name
    if models_dir is not None and (models_dir / name).is_file():
        return str(models_dir / name)
    if name not in registry:
        where = f" nor in {models_dir}" if models_dir else ""
        raise AssetError(
            f"model {name!r} is neither listed in resources/models.yaml{where}; give a path to the file, "
            f"put it into the local weights directory ({MODELS_DIR_ENV}), or add it to resources/models.yaml"
        )
    return f"{DOWNLOAD_DIR}/{name}"


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# A line as `sha256sum` writes it: the hash, a space, a space (text) or '*' (binary), the file name.
SUMS_LINE = re.compile(r"\\?([0-9a-fA-F]{64}) [ *](.+)")


def read_sums(path: str | Path) -> dict[str, str]:
    """File name -> sha256 of a ``sha256sum``-format file; a missing file knows no names."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as err:
        raise AssetError(f"{path}: cannot read the model checksums ({err}); fix the file or delete it") from None
    sums: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = SUMS_LINE.fullmatch(line)
        if not match:
            raise AssetError(
                f"{path}, line {number}: not a '<sha256>  <file>' line as sha256sum writes it; fix or delete the line"
            )
        digest, name = match[1].lower(), match[2]
        if sums.get(name, digest) != digest:
            raise AssetError(f"{path}, line {number}: a second, different sha256 for {name}; keep one line per file")
        sums[name] = digest
    return sums


def _record_first_use(sums_file: Path, name: str, digest: str) -> str:
    """Append ``<digest>  <name>`` unless another job recorded ``name`` first; return the recorded hash."""
    try:
        sums_file.parent.mkdir(parents=True, exist_ok=True)
        # concurrent jobs (several videos) may meet a new file at once: one records, the others compare
        with open(sums_file.parent / f".{sums_file.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            recorded = read_sums(sums_file).get(name)
            if recorded is not None:
                return recorded
            text = sums_file.read_text() if sums_file.is_file() else ""
            with open(sums_file, "a") as out:
                out.write(("\n" if text and not text.endswith("\n") else "") + f"{digest}  {name}\n")
    except OSError as err:
        raise AssetError(f"{sums_file}: cannot record the sha256 of {name} ({err}); make its folder writable") from None
    return digest


def verify_model(
    path: str | Path,
    name: str,
    registry: dict[str, ModelSpec],
    sums_file: str | Path = SUMS_FILE,
    log: Callable[[str], None] = print,
) -> str:
    """The sha256 of the model file ``path``, after checking it against the hash known for ``name``.

    ``name`` is the value in the config: a registry file name, or a path to the user's own weights. The
    known hash is the registry's; else the line for ``name`` in ``sums_file``. A registry file without an
    official hash is trusted on first use: its hash is recorded then, and any later change is refused.
    The user's own weights must be declared there by a line. Every job that loads a model calls this,
    since a file can change between jobs and runs.
    """
    actual = sha256_file(path)
    spec = registry.get(name)
    if spec is not None and spec.sha256:
        if actual != spec.sha256:
            raise ChecksumError(
                f"{path}: sha256 {actual}, expected {spec.sha256} ({REGISTRY_FILE}, {name}): the file is damaged "
                "or not the official one and is not loaded; delete it so that it is downloaded again, or replace "
                "it with the official file"
            )
        return actual
    sums_file = Path(sums_file)
    known = read_sums(sums_file).get(name)
    if known is None and spec is not None:
        known = _record_first_use(sums_file, name, actual)
        if known == actual:
            log(
                f"{path}: first use of {name}, its sha256 {actual} is recorded in {sums_file}; a later change is refused"
            )
    if known is None:
        raise ChecksumError(
            f"{path}: no sha256 is declared for these weights ({name} is not in {REGISTRY_FILE}), so they are "
            f"not loaded; if this is the file you mean to use, declare it with the line '{actual}  {name}' "
            f"in {sums_file} (the format sha256sum writes)"
        )
    if actual != known:
        raise ChecksumError(
            f"{path}: sha256 {actual}, expected {known} ({sums_file}, {name}): the file changed since its hash "
            f"was recorded and is not loaded; replace it with the file used before, or if you changed it on "
            f"purpose, update the line for {name} in {sums_file}"
        )
    return actual


def verify_for_job(path: str | Path, name: str, workflow_dir: str | Path) -> str:
    """``verify_model`` with the workflow's registry, logged to the job's log: call it before loading ``path``."""
    registry = load_registry(Path(workflow_dir) / REGISTRY_FILE)
    return verify_model(path, name, registry, log=logging.getLogger("reidflow").info)


def _download(url: str, dest: Path, timeout: float) -> str:
    """Stream ``url`` into ``dest``; return the sha256 of what was written."""
    import urllib.request  # here, not at the top: the Snakefile imports this module for every plan

    digest = hashlib.sha256()
    request = urllib.request.Request(url, headers={"User-Agent": "reidflow"})
    written = 0
    with urllib.request.urlopen(request, timeout=timeout) as response, open(dest, "wb") as out:
        expected = response.headers.get("Content-Length")
        for block in iter(lambda: response.read(1 << 20), b""):
            digest.update(block)
            out.write(block)
            written += len(block)
    if expected is not None and written != int(expected):
        raise OSError(f"connection closed after {written} of {expected} bytes")
    return digest.hexdigest()


def fetch(
    dest: str | Path,
    url: str | None,
    sha256: str | None,
    local_copies: tuple[str, ...] = (),
    timeout: float = 60.0,
    log: Callable[[str], None] = print,
    hint: str | None = None,
) -> Path:
    """Make ``dest`` exist with the right content: copy a local file or download it, verified.

    Holds an exclusive lock beside ``dest`` so that concurrent jobs (or workflows) fetch once, and
    writes through a temporary file so that ``dest`` is either complete or absent.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    hint = (
        hint
        or f"put the file at {dest} yourself, or point {MODELS_DIR_ENV} (config: models_dir) at a directory that has it"
    )
    with open(dest.parent / f".{dest.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if dest.is_file() and (sha256 is None or sha256_file(dest) == sha256):
            log(f"{dest} already present")
            return dest
        for candidate in map(Path, local_copies):
            if candidate.is_file() and (sha256 is None or sha256_file(candidate) == sha256):
                with atomic_output(dest) as tmp:
                    shutil.copyfile(candidate, tmp)
                log(f"copied {candidate} to {dest}")
                return dest
        if not url:
            raise AssetError(f"{dest} is missing and no download URL is known; {hint}")
        log(f"downloading {url} to {dest}")
        import http.client  # only when downloading (see _download)

        with atomic_output(dest) as tmp:
            try:
                got = _download(url, tmp, timeout)
            except (OSError, http.client.HTTPException) as err:  # urllib's URLError is an OSError
                raise AssetError(f"could not download {url} ({err}); offline? {hint}") from None
            if sha256 is not None and got != sha256:
                raise AssetError(
                    f"download of {url} has sha256 {got}, expected {sha256} (truncated, or an HTML page "
                    f"instead of the file); nothing was written to {dest}; {hint}"
                )
        log(f"wrote {dest} (sha256 {got})")
        return dest
