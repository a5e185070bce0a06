"""Shared by the benches that time SQL functions against their earlier text in one database
(bench/webhook_store_ab.py, bench/sqlplan_ab.py, bench/messages_insert_triggers.py).

- `scratch_database(prefix)`: an embedded Postgres in a temporary directory, migrated to
  the tree's schema; yields an autocommit connection; removed afterwards.
- `ref_functions(ref, schema, copies)`: a git ref's `create or replace function` statements
  of the named functions in `schema`, each renamed to its copy's name (the "before" side);
  `tree_functions(schema, copies)` the same from this tree's file (the "after" side).
- `server_ms(conn)`: total ms each function has run (track_functions), pending counts flushed.
- `quarters(cpu, name, blocks)`: after/before backend CPU by quarter of the blocks (drift).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import psycopg

from app.db.embedded import start_embedded
from app.db.migrate import migrate

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def scratch_database(prefix: str) -> Iterator[psycopg.Connection]:
    scratch = Path(tempfile.mkdtemp(prefix=prefix))
    server = start_embedded(scratch / "pg")
    try:
        migrate(server.get_uri())
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            yield conn
    finally:
        server.cleanup()
        shutil.rmtree(scratch, ignore_errors=True)


def ref_functions(ref: str, schema: str, copies: Mapping[str, str]) -> str:
    """`ref`'s statements of `copies`' keys (names as the schema file writes them), each
    created under its value's name."""
    text = subprocess.run(["git", "show", f"{ref}:{schema}"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout  # fmt: skip
    return renamed_functions(text, copies)


def tree_functions(schema: str, copies: Mapping[str, str]) -> str:
    """As `ref_functions`, from this tree's `schema` file (the "after" side)."""
    return renamed_functions((ROOT / schema).read_text(), copies)


def renamed_functions(text: str, copies: Mapping[str, str]) -> str:
    """The `create or replace function` statements of `copies`' keys in a schema file's
    `text`, each created under its value's name."""
    found = []
    for name, copy in copies.items():
        header = f"create or replace function {name}("
        start = text.index(header)
        statement = text[start : text.index("\n$$;\n", start) + 5]
        found.append(statement.replace(header, f"create function {copy}(", 1))
    return "\n".join(found)


def server_ms(conn: psycopg.Connection) -> dict[str, float]:
    """Total ms each function has run in this database (track_functions): this session's
    pending counts flushed first (they are otherwise sent at most once a second)."""
    conn.execute("select pg_stat_force_next_flush()")  # done as the session goes idle
    conn.execute("select pg_stat_clear_snapshot()")
    rows = conn.execute("select funcname, total_time from pg_stat_user_functions").fetchall()
    return {name: float(total) for name, total in rows}


def quarters(cpu: Mapping[tuple[str, str], list[float]], name: str, blocks: int) -> str:
    """after/before of the backend CPU by quarter of the blocks."""
    size = max(blocks // 4, 1)
    ratios = [
        sum(cpu["after", name][q * size : (q + 1) * size])
        / max(sum(cpu["before", name][q * size : (q + 1) * size]), 1e-9)
        for q in range(min(4, blocks))
    ]
    return "after/before CPU by quarter: " + " ".join(f"{x:.2f}" for x in ratios)
