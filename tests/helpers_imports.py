"""What running a script loads: the reidflow modules it imports, transitively, and the packages they import.

Read from the source with ``ast``, nothing is imported; every import statement counts, also one inside a
function (lazy imports run as soon as that code path does).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LIBRARY = REPO / "reidflow"


def module_file(name: str) -> Path | None:
    """``reidflow.a.b`` -> reidflow/a/b.py or reidflow/a/b/__init__.py; None when there is no such module."""
    base = REPO.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def module_name(path: Path) -> str:
    """reidflow/a/b.py -> ``reidflow.a.b``; reidflow/a/__init__.py -> ``reidflow.a``."""
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path: Path) -> set[str]:
    """Absolute names of the modules ``path`` may import; ``from m import x`` gives m and m.x (x may be a module)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: only inside the reidflow package
                package = module_name(path).split(".")
                if path.name != "__init__.py":
                    package = package[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join(package + ([node.module] if node.module else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def reidflow_files(script: Path) -> set[Path]:
    """reidflow's files that running ``script`` executes: every imported module and each package above it."""
    found: set[Path] = set()
    todo = [script]
    while todo:
        for name in imported_names(todo.pop()):
            parts = name.split(".")
            if parts[0] != "reidflow":
                continue
            for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__.py and a/b/__init__.py first
                path = module_file(".".join(parts[:i]))
                if path is not None and path not in found:
                    found.add(path)
                    todo.append(path)
    return found


def library_names(script: Path) -> set[str]:
    """``reidflow_files`` as library() in rules/common.smk names them: relative to reidflow/, without .py."""
    return {path.relative_to(LIBRARY).with_suffix("").as_posix() for path in reidflow_files(script)}


def third_party_imports(script: Path) -> set[str]:
    """Top-level non-stdlib packages imported by a script and by the reidflow modules it runs."""
    tops = set()
    for path in {script} | reidflow_files(script):
        tops.update(name.split(".")[0] for name in imported_names(path))
    return {
        top for top in tops if top and top != "reidflow" and top != "__future__" and top not in sys.stdlib_module_names
    }
