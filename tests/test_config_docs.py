"""config/README.md documents every key of the schema, and config/config.yaml sets only known keys."""

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def schema_keys(properties: dict, prefix: str = "") -> list[str]:
    keys = []
    for name, spec in properties.items():
        if spec.get("type") == "object" and "properties" in spec:
            keys += schema_keys(spec["properties"], f"{prefix}{name}.")
        else:
            keys.append(prefix + name)
    return keys


def documented_keys(text: str) -> set[str]:
    """Keys in the tables' first column (one or several, comma-separated); `a.{b,c}` stands for a.b and a.c."""
    keys = set()
    for first_column in re.findall(r"^\| (`[^|]+`) \|", text, flags=re.M):
        for cell in re.findall(r"`([^`]+)`", first_column):
            group = re.fullmatch(r"(.*)\{([^}]+)\}", cell)
            keys |= {group[1] + part for part in group[2].split(",")} if group else {cell}
    return keys


def test_every_config_key_is_documented():
    schema = yaml.safe_load((REPO / "config" / "schemas" / "config.schema.yaml").read_text())
    keys = schema_keys(schema["properties"])
    documented = documented_keys((REPO / "config" / "README.md").read_text())
    assert len(keys) > 40
    assert sorted(set(keys) - documented) == []
    assert sorted(documented - set(keys)) == [], "documented keys the schema does not know"
