"""The layers stay one-way: no package import cycle, the import-linter contract holds, and no
import hides inside a function to dodge a cycle.

The package graph is built from the source with `ast` (every `import` and `from … import`,
wherever it stands), so it sees what a reader sees, including imports under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
import tomllib
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app"

# Imports deliberately left inside a function, each for a reason other than a cycle:
# heavy or optional libraries that a cold start or a code path should not pay for.
LAZY_ALLOWED = {
    ("app.jobs.bootstrap", "app.db.supabase"),  # supabase-py only when configured
    ("app.modal_entry", "app.webhooks"),  # the web function imports FastAPI, crons do not
}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package(module: str) -> str:
    """`app.campaigns.drip` → `app.campaigns`; top-level modules stand for themselves."""
    return ".".join(module.split(".")[:2])


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported app module, inside a function?) for every import of `path`."""
    module = _module(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    inner: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            inner.update(id(sub) for sub in ast.walk(node) if sub is not node)
    found: list[tuple[str, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")
                if path.name != "__init__.py":
                    package = package[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join([*package, base] if base else package)
            names = [base]
        else:
            continue
        found += [(name, id(node) in inner) for name in names if name.startswith("app")]
    return found


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in APP.rglob("*.py"):
        source = _package(_module(path))
        for target, _ in _imports(path):
            if _package(target) not in {source, "app"}:
                graph[source].add(_package(target))
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as a path (first node repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_package_graph_has_no_cycle() -> None:
    graph = package_graph()
    assert graph, "the scan found no imports at all"
    assert find_cycle(graph) is None, " → ".join(find_cycle(graph) or [])


def test_the_cycle_finder_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}}) is None


def test_no_app_import_hides_inside_a_function() -> None:
    hidden = sorted(
        (_module(path), target)
        for path in APP.rglob("*.py")
        for target, inside in _imports(path)
        if inside and (_module(path), target) not in LAZY_ALLOWED
    )
    assert hidden == []


def test_the_import_linter_contract_is_kept() -> None:
    lint = pytest.importorskip("importlinter.cli")
    assert lint.lint_imports(config_filename=str(ROOT / "pyproject.toml")) == 0


def test_the_contract_covers_every_package_under_app() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    [contract] = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    layered = {
        name.strip() for layer in contract["layers"] for name in layer.replace(":", "|").split("|")
    }
    packages = {_package(_module(path)) for path in APP.rglob("*.py")} - {"app"}
    assert packages - layered == set(), "add the new room to a layer in pyproject.toml"
