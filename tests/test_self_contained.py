"""Tests and benchmarks stand on their own: a fresh clone with nothing beside it runs them.

What they read lives in the repository (`tests/fixtures/`, `bench/data/`). The check is
static, over every `.py` file under tests/ and bench/: no path climbs out of the repository,
whether by `..` in a string, an absolute path on a machine (`/work/...`, `/home/...`), or by
going up from `__file__` past the repository root (`Path(__file__).parents[k]`, `.parent`
chains, and the same on a name bound to such a path, e.g. `ROOT.parent`). A folder beside
the checkout can only be reached in one of those ways.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = sorted(  # all but this file, whose examples of ways out are data
    p
    for p in [*(ROOT / "tests").rglob("*.py"), *(ROOT / "bench").rglob("*.py")]
    if p != Path(__file__).resolve()
)
UP = {"resolve", "absolute"}  # calls that keep a path where it is
# First folders of an absolute path on a machine (a URL path such as /webhooks/vapi is not one)
MACHINE_ROOTS = {"work", "home", "tmp", "mnt", "root", "Users", "srv", "opt"}
EVERY_PARENT = 10**6  # `.parents` iterated whole: up to `/`


def _levels_up(node: ast.expr, depth: int, names: dict[str, int]) -> int | None:
    """How many folders above the repository root `node` points, for a path built from
    `__file__` (the file being `depth` folders below the root) or from a name in `names`
    (name → its level, 0 = the root); None when `node` is no such path."""
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name) and func.id == "Path" and len(node.args) == 1:
            arg = node.args[0]
            is_file = isinstance(arg, ast.Name) and arg.id == "__file__"
            return -(depth + 1) if is_file else None  # its folder is `depth` below the root
        if isinstance(func, ast.Attribute) and func.attr in UP:
            return _levels_up(func.value, depth, names)
        return None
    if isinstance(node, ast.Attribute):
        base = _levels_up(node.value, depth, names)
        if base is None:
            return None
        if node.attr == "parent":
            return base + 1
        if node.attr == "parents":
            return EVERY_PARENT
        return None
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "parents"
        and isinstance(node.slice, ast.Constant)
        and isinstance(node.slice.value, int)
    ):
        base = _levels_up(node.value.value, depth, names)
        return None if base is None else base + node.slice.value + 1
    return None


def escapes(source: str, depth: int) -> list[str]:
    """The places in `source` (a file `depth` folders below the root) that leave the repo."""
    tree = ast.parse(source)
    names: dict[str, int] = {}
    for stmt in tree.body:  # module-level `ROOT = Path(__file__)...` and the like
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
            level = _levels_up(stmt.value, depth, names)
            if isinstance(target, ast.Name) and level is not None:
                names[target.id] = level
    indexed = {  # `x.parents` under `x.parents[k]` is judged with its index
        id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Subscript)
    }
    formatted = {  # the literal pieces of f-strings ("{a}..{b}" is a range, not a path)
        id(part)
        for node in ast.walk(tree)
        if isinstance(node, ast.JoinedStr)
        for part in node.values
    }
    found: list[str] = []
    for node in ast.walk(tree):
        text = node.value if isinstance(node, ast.Constant) else None
        path_parts = text.replace("\\", "/").split("/") if isinstance(text, str) else []
        absolute = len(path_parts) > 2 and path_parts[0] == "" and path_parts[1] in MACHINE_ROOTS
        if (".." in path_parts or absolute) and id(node) not in formatted:
            found.append(f"line {node.lineno}: {text!r}")
        if isinstance(node, ast.Attribute | ast.Subscript) and id(node) not in indexed:
            level = _levels_up(node, depth, names)
            if level is not None and level > 0:
                where = "every parent" if level >= EVERY_PARENT else f"{level} above the root"
                found.append(f"line {node.lineno}: {ast.unparse(node)} ({where})")
    return found


@pytest.mark.parametrize("path", SCANNED, ids=lambda p: str(p.relative_to(ROOT)))
def test_reads_nothing_outside_the_repository(path: Path) -> None:
    depth = len(path.relative_to(ROOT).parts) - 1
    assert escapes(path.read_text(), depth) == []


def test_the_check_sees_the_old_ways_out() -> None:
    # The readers this repository had before its fixtures and data moved in.
    old_helpers = (
        "ROOT = Path(__file__).resolve().parents[2]\n"
        "for base in (ROOT, *ROOT.parents):\n"
        "    candidate = base / 'outside' / 'fixtures'\n"
    )
    old_bench = "ROOT = Path(__file__).resolve().parents[1]\nDATA = ROOT.parent / 'x.csv'\n"
    assert len(escapes(old_helpers, depth=2)) == 1  # *ROOT.parents: every folder above
    assert escapes(old_bench, depth=1) == ["line 2: ROOT.parent (1 above the root)"]
    assert escapes("X = Path(__file__).parents[3]\n", depth=2)
    assert escapes("X = Path(__file__).parent.parent.parent.parent\n", depth=2)
    assert escapes("X = Path(__file__).parent.parent.parent\n", depth=2) == []  # the root
    assert escapes("open('../outside/data/a.csv')\n", depth=1)
    assert escapes("os.path.join(HERE, '..', '..')\n", depth=1)
    assert escapes("DATA = Path('/work/outside/data/bank.csv')\n", depth=1)
    assert escapes("URL = '/webhooks/twilio/sms'\n", depth=1) == []  # a URL path stays
    # ...and lets the in-repository ones through.
    inside = "ROOT = Path(__file__).resolve().parents[2]\nF = ROOT / 'tests' / 'fixtures'\n"
    assert escapes(inside, depth=2) == []
    assert escapes("HERE = Path(__file__).parent\nD = HERE.parent / 'data'\n", depth=1) == []


def test_the_in_repository_copies_are_there() -> None:
    for provider in ("vapi", "twilio", "resend"):
        assert (ROOT / "tests" / "fixtures" / provider / "README.md").is_file()
    data = ROOT / "bench" / "data" / "bank-marketing"
    assert (data / "bank-additional-full.csv").is_file()
    assert "CC BY 4.0" in (data / "README.md").read_text()
