"""What every file format shares: its error, the rebuild hint, and the codec of the JSON records.

JSON records (similarity.json, clusters.json, evaluation.json): track ids are the tracker's ids within one
video, and new ids for the later pieces of tracks cut at identity switches (``cuts``, reidflow.pieces);
matrices are lists of rows in ``track_ids`` order.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from reidflow import ReidflowError
from reidflow.files import atomic_output


class FormatError(ReidflowError):
    """A file is not of the expected reidflow format or version."""


# Every stage file of every video is a target of rule ``all``, so a plain run rebuilds a deleted one.
REBUILD = "delete it and run `snakemake` again, which rebuilds it"


def plain(value: Any) -> Any:
    """HDF5 attributes come back as NumPy scalars; the dataclasses hold plain Python values."""
    return value.item() if isinstance(value, np.generic) else value


def plain_json(value: Any) -> Any:
    """Records (dataclasses), NumPy arrays and scalars as JSON values; a field walk, not asdict's deep copy."""
    if hasattr(value, "__dataclass_fields__"):
        return {name: plain_json(getattr(value, name)) for name in value.__dataclass_fields__}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_json(v) for v in value]
    return value


def write_json(path: str | os.PathLike, record: Any, indent: int | None = 1) -> None:
    separators = (",", ":") if indent is None else None
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(plain_json(record), indent=indent, separators=separators, allow_nan=False) + "\n")


def read_json(path: str | os.PathLike, rule: str, version: int) -> dict[str, Any]:
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise FormatError(f"{path}: file not found; run the workflow's '{rule}' rule to create it") from None
    except (ValueError, OSError) as err:
        raise FormatError(f"{path}: not a JSON file ({err}); {REBUILD}") from None
    if not isinstance(raw, dict) or raw.get("format_version") != version:
        found = raw.get("format_version") if isinstance(raw, dict) else None
        raise FormatError(f"{path}: format version {found}, this reidflow reads version {version}; {REBUILD}")
    return raw


def build_record(path: str | os.PathLike, rule: str, build: Any) -> Any:
    """``build()`` turns the checked JSON into its record; a missing or odd field is a damaged file."""
    try:
        return build()
    except (KeyError, TypeError, ValueError) as err:
        raise FormatError(f"{path}: damaged file ({type(err).__name__}: {err}); {REBUILD}") from None
