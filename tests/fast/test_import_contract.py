"""The import contract: each package imports only packages of lower layers, and no test module
imports another (shared helpers and definitions live in tests/support/)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAYERS = [
    {"core"},
    {"browser", "workflows", "live", "store"},
    {"dispatch", "notify"},
    {"activities"},
    {"runner", "api"},
    {"devstack", "client"},
]
"""Lowest first: settings and formats; the browser, the workflows (no I/O), events and the
database, none of which knows the others; queue intake and admission, and notifications; what
workers do outside workflows; the processes' assembly; the local stack and the API's client."""
LAYER_OF = {package: index for index, layer in enumerate(LAYERS) for package in layer}


def imported_modules(path: Path) -> Iterator[str]:
    """Every absolute module name `path` imports, at any depth of its code."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def test_every_package_is_in_a_layer() -> None:
    packages = {path.parent.name for path in REPO.glob("*/__init__.py")}
    assert packages - {"tests", "bench"} == set(LAYER_OF)


def test_no_package_imports_one_of_its_own_layer_or_above() -> None:
    upward = []
    for package, layer in LAYER_OF.items():
        for path in (REPO / package).rglob("*.py"):
            for module in imported_modules(path):
                top = module.split(".")[0]
                if top in LAYER_OF and top != package and LAYER_OF[top] >= layer:
                    upward.append(f"{path.relative_to(REPO)} imports {module}")
    assert not upward, "\n".join(upward)


def test_no_test_module_imports_another() -> None:
    crossing = []
    for path in (REPO / "tests").rglob("test_*.py"):
        for module in imported_modules(path):
            if module.startswith("tests.") and module.rsplit(".", 1)[-1].startswith("test_"):
                crossing.append(f"{path.relative_to(REPO)} imports {module}")
    assert not crossing, "\n".join(crossing)
