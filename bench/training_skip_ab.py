"""growth's training step: a git ref's build (every hour: read every answered call of 90 days,
build both documents, record) against this tree's (key what it would read; build only when
the key is not the latest build's).

On a kept simulation database (bench/history_reads.py `keep`), in alternating rounds on one
connection, each round inside its own transaction, rolled back. Two instants:

- quiet: the latest build's `built_at` + 1 hour (the next hourly run; in a kept month's
  database at the end of a day, no call ended since);
- build: the latest build's `built_at` (calls ended in the hour before it), that build
  first deleted (in the round's transaction): both sides build it again.

Both sides first have the tree's `calls_talked_ended_idx` (06_scoring.sql, stop 26's
GROWSTEPS: the reads of calls by end), so the difference is this step's alone. The tree's
side then installs its objects (`training_builds.inputs`, `training_inputs`,
`training_build_record` from supabase/schemas/12_agents.sql) and runs its step, untimed, one
hour before the instant (so the latest build holds the key an hourly run left); then times
its step at the instant. The ref's side times the ref's step (its `training_build_record`,
as installed in the database). Both answers are printed: the recorded build's sha256, or
None (no new version); they must be the same.

    .venv/bin/python bench/training_skip_ab.py --dsn "host=DIR user=postgres dbname=..." \
        [--rounds 6]

Not a test: it prints measured figures (bench/RESULTS.md, "Simulator").
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.agents.training import TrainingDeps, build_training, documents_hash  # noqa: E402
from app.core.clock import ManualClock  # noqa: E402
from app.db.agents import AgentRepository  # noqa: E402
from app.db.transport import _adapt, _configure, call_text  # noqa: E402
from app.scoring.playbook import training_documents  # noqa: E402


class OneConnection:
    """The Transport protocol on one connection, inside the caller's transaction."""

    name = "postgres"

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn

    async def call(self, function: str, args: Mapping[str, Any] | None = None) -> list[Any]:
        args = dict(args or {})
        async with self.conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(call_text(function, tuple(args)),
                              {k: _adapt(v) for k, v in args.items()})  # fmt: skip
            return list(await cur.fetchall()) if cur.description else []

    async def close(self) -> None:
        return None


def statement(text: str, header: str, end: str) -> str:
    start = text.index(header)
    return text[start : text.index(end, start) + len(end)]


def index_sql() -> list[str]:
    text = (ROOT / "supabase/schemas/06_scoring.sql").read_text()
    index = "create index calls_talked_ended_idx "
    return [statement(text, index, ";"), "analyze calls"] if index in text else []


def tree_sql() -> list[str]:
    text = (ROOT / "supabase/schemas/12_agents.sql").read_text()
    return [
        "alter table training_builds add column inputs text",
        "drop function training_build_record(text, jsonb, integer, timestamptz)",
        statement(text, "create or replace function training_inputs(", "$$;"),
        statement(text, "create or replace function training_build_record(", "$$;"),
    ]


async def ref_step(repo: AgentRepository, now: datetime, tz: str) -> str | None:
    """The ref's build_training (stop 26's HEAD): read, build, record."""
    documents, count = await training_documents(repo, now, tz)
    rows = await repo.transport.call("training_build_record", {
        "p_sha256": documents_hash(documents), "p_documents": documents, "p_calls": count,
        "p_now": now,
    })  # fmt: skip
    return str(rows[0]["sha256"]) if rows else None


async def tree_step(repo: AgentRepository, now: datetime, tz: str) -> str | None:
    build = await build_training(TrainingDeps(repo, ManualClock(now), tz))
    return build.sha256 if build else None


async def one(conn: psycopg.AsyncConnection[Any], side: str, at: datetime, tz: str,
              rebuild: bool) -> tuple[float, str | None]:  # fmt: skip
    repo = AgentRepository(OneConnection(conn))
    try:
        for sql in index_sql():
            await conn.execute(sql)  # statements of the schema file
        if rebuild:
            await conn.execute(
                "delete from training_builds where version ="
                " (select max(version) from training_builds)"
            )
        if side == "tree":
            for sql in tree_sql():
                await conn.execute(sql)  # statements of the schema file
            await tree_step(repo, at - timedelta(hours=1), tz)  # the run an hour before
        started = time.perf_counter()
        answer = await (tree_step if side == "tree" else ref_step)(repo, at, tz)
        return time.perf_counter() - started, answer
    finally:
        await conn.rollback()


async def main(dsn: str, rounds: int) -> None:
    conn = await psycopg.AsyncConnection.connect(dsn, prepare_threshold=None)
    await _configure(conn)
    async with conn.cursor() as cur:
        await cur.execute(
            "select (select tz from status_cache order by computed_at desc limit 1),"
            " (select built_at from training_builds order by version desc limit 1),"
            " (select count(*) from calls where outcome in ('answered', 'booked'))"
        )
        row = await cur.fetchone()
    await conn.rollback()
    assert row is not None and row[1] is not None, "no training build: not a kept month"
    tz, built, answered = row
    print(f"latest build {built} ({tz}), {answered} answered calls")
    for name, at in (("quiet", built + timedelta(hours=1)), ("build", built)):
        rebuild = name == "build"
        took: dict[str, list[float]] = {"ref": [], "tree": []}
        answers: dict[str, set[str | None]] = {"ref": set(), "tree": set()}
        for n in range(rounds):
            for side in ("ref", "tree") if n % 2 == 0 else ("tree", "ref"):
                seconds, answer = await one(conn, side, at, tz, rebuild)
                took[side].append(seconds)
                answers[side].add(answer)
        for side in took:
            print(
                f"{name} {at}: {side:4s} median {1000 * statistics.median(took[side]):7.2f} ms"
                f"  min {1000 * min(took[side]):7.2f}  answer {sorted(map(str, answers[side]))}"
            )
        same = answers["ref"] == answers["tree"] and len(answers["ref"]) == 1
        print(f"{name}: same answer both sides: {same}")
    await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    asyncio.run(main(args.dsn, args.rounds))
