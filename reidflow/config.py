"""The workflow config beyond its JSON schema, handled when the Snakefile is parsed (before any job).

- ``typed_cli_config``: Snakemake reads the nested values of ``--config`` as text (``track='{conf: 0.3}'``
  gives ``conf: '0.3'``); they get the types the schema asks for, as if written in a config file.
- ``check_config``: what the schema cannot express: finite numbers (YAML ``.nan``/``.inf`` pass JSON
  Schema's ``number``), the ranges of ``track.tracker_params`` (reidflow.trackers owns them) and what the
  stages' settings classes refuse, e.g. ``crops.weights`` all 0 (reidflow.settings owns them).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import yaml

from reidflow import trackers
from reidflow.settings import ConfigError, check_settings

__all__ = ["ConfigError", "check_config", "non_finite", "typed_cli_config"]


_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "object": lambda v: isinstance(v, Mapping),
    "array": lambda v: isinstance(v, list),
}


def _allows(schema: Mapping[str, Any], value: Any) -> bool:
    types = schema.get("type")
    if types is None:  # e.g. the entries of track.tracker_params: anything YAML gives
        return True
    return any(_JSON_TYPES[t](value) for t in ([types] if isinstance(types, str) else types))


def _member(schema: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    extra = schema.get("additionalProperties", {})
    return schema.get("properties", {}).get(key, extra if isinstance(extra, Mapping) else {})


def _typed(value: Any, schema: Mapping[str, Any]) -> Any:
    if isinstance(value, Mapping):
        return typed_cli_config(value, schema)
    if not isinstance(value, str):
        return value
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    # text stays text where the schema takes the YAML reading for something else: device '0' is no int
    return parsed if not isinstance(parsed, str) and _allows(schema, parsed) else value


def typed_cli_config(overrides: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """The ``--config`` values ``overrides`` with each text read as YAML where ``schema`` wants a number,
    a boolean or null there; apply the result on top of the config before validating it."""
    return {key: _typed(value, _member(schema, key)) for key, value in overrides.items()}


def non_finite(config: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, float]]:
    """(dotted key, value) of every NaN or infinite number in ``config``."""
    for key, value in config.items():
        if isinstance(value, Mapping):
            yield from non_finite(value, f"{prefix}{key}.")
        elif isinstance(value, float) and not math.isfinite(value):
            yield f"{prefix}{key}", value


def check_config(config: Mapping[str, Any]) -> None:
    """Refuse, naming the key, what would only fail inside a job (``config`` validated, defaults set)."""
    bad = list(non_finite(config))
    if bad:
        keys = ", ".join(f"{key} = {value}" for key, value in bad)
        raise ConfigError(f"config: {keys}: must be a finite number (YAML .nan/.inf are not); set a real value")
    trackers.check_tracker_params(config["track"]["tracker"], config["track"]["tracker_params"])
    check_settings(config)
