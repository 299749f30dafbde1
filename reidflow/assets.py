"""Model weights and the demo video: where they are looked up, and a safe, verified download."""

from __future__ import annotations

import fcntl
import hashlib
import http.client
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from reidflow import ReidflowError
from reidflow.formats import atomic_output

MODELS_DIR_ENV = "REIDFLOW_MODELS_DIR"
DOWNLOAD_DIR = "resources/models"

# OpenCV's sample video (PETS09-S2L1), the workflow's embedded demo.
DEMO_VIDEO_URL = "https://raw.githubusercontent.com/opencv/opencv/4.x/samples/data/vtest.avi"
DEMO_VIDEO_SHA256 = "45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf"
DEMO_VIDEO_LOCAL = ("/usr/share/doc/opencv-doc/examples/data/vtest.avi",)


def demo_video_hint(dest: str | Path) -> str:
    return f"install Debian's opencv-doc (it ships vtest.avi), or copy vtest.avi to {dest} yourself"


class AssetError(ReidflowError):
    pass


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


def _download(url: str, dest: Path, timeout: float) -> str:
    """Stream ``url`` into ``dest``; return the sha256 of what was written."""
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
    hint = hint or f"put the file at {dest} yourself, or point {MODELS_DIR_ENV} (config: models_dir) at a directory that has it"
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
        with atomic_output(dest) as tmp:
            try:
                got = _download(url, tmp, timeout)
            except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
                raise AssetError(f"could not download {url} ({err}); offline? {hint}") from None
            if sha256 is not None and got != sha256:
                raise AssetError(
                    f"download of {url} has sha256 {got}, expected {sha256} (truncated, or an HTML page "
                    f"instead of the file); nothing was written to {dest}; {hint}"
                )
        log(f"wrote {dest} (sha256 {got})")
        return dest
