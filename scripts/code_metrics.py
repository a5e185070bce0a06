"""Print the structure figures the closing notes cite: module sizes, function lengths,
functions that take the whole graph, and the package import graph (cycles, hidden imports).

    .venv/bin/python scripts/code_metrics.py [CHECKOUT]   (default: this repository)
"""

from __future__ import annotations

import ast
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

from tests import test_architecture as arch  # noqa: E402  (the same graph the test builds)


def main(root: Path) -> None:
    app = root / "app"
    sizes: list[tuple[int, str]] = []
    lengths: list[tuple[int, str]] = []
    takes_graph = 0
    for path in sorted(app.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        name = str(path.relative_to(root))
        sizes.append((len(text.splitlines()), name))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lengths.append(((node.end_lineno or node.lineno) - node.lineno + 1, name))
                params = node.args.args + node.args.kwonlyargs
                annotations = {ast.unparse(a.annotation) for a in params if a.annotation}
                takes_graph += bool(annotations & {"Context", "'Context'"})
    sizes.sort(reverse=True)
    lengths.sort(reverse=True)
    print(f"modules {len(sizes)}, lines {sum(n for n, _ in sizes)}")
    print("  over 300 lines:", ", ".join(f"{name} ({n})" for n, name in sizes if n > 300) or "none")
    values = [n for n, _ in lengths]
    longest, where = lengths[0]
    over = sum(v > 50 for v in values)
    print(f"functions {len(values)}, median {statistics.median(values)} lines, "
          f"longest {longest} ({where}), over 50 lines: {over}")  # fmt: skip
    print(f"functions taking the whole graph (Context): {takes_graph}")
    arch.ROOT, arch.APP = root, app
    graph = arch.package_graph()
    packages = {*graph, *(p for targets in graph.values() for p in targets)}
    hidden = sum(inside for path in app.rglob("*.py") for _, inside in arch._imports(path))
    cycle = arch.find_cycle(graph)
    shown = " -> ".join(cycle) if cycle else "none"
    edges = sum(map(len, graph.values()))
    print(f"packages {len(packages)}, package edges {edges}, a cycle: {shown}, "
          f"app imports inside functions: {hidden}")  # fmt: skip


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else HERE)
