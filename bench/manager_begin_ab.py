"""campaign_manager's opening: four round trips (enroll_leads, deliverability_check,
requeue_unanswered_calls, call_queue, as a run made them before manager_begin) beside one
(manager_begin), on a kept database.

    # a kept database: bench/history_reads.py keep --dir DIR --days 5 --stop 5
    .venv/bin/python bench/manager_begin_ab.py --dsn "host=DIR user=postgres \
        dbname=sim_..." --now "2026-12-04 17:00+00" --reps 40

One connection; every rep of A and B in a transaction of its own that is rolled back (the
kept database is left as it was), A and B interleaved, B first on odd reps; the tree's
manager_begin is created (or replaced) in a rolled-back transaction of each rep. First
checks that both answer the same (the retries' ids aside: sequences are not rolled back).
Prints ms an opening (median, min) and the saving per virtual day (96 runs). Then the same
through the app's path (PostgresTransport, a pooled autocommit connection a call, the
repositories' decoding): `CampaignRepository.enroll` and the three ManagerRepository reads
beside `ManagerRepository.begin`; these commit, as a run does: give an instant a run of the
kept simulation already ran (the end of its last day), when they write nothing.

Not a test: it prints measured figures (bench/RESULTS.md, "Simulator", stop 25 CMRUN).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from app.db.repositories import Repositories
from app.db.transport import PostgresTransport

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "supabase" / "schemas" / "02_campaigns.sql"
ARGS = {"max": 3, "spacing": 14400, "limit": 200}  # the defaults: CALL_MAX_ATTEMPTS, ...
FOUR = (
    "select * from enroll_leads(%(now)s)",
    "select * from deliverability_check(%(now)s)",
    "select requeue_unanswered_calls(%(max)s, %(spacing)s, %(now)s) n",
    "select call, in_flight from call_queue(%(limit)s, %(now)s, 'score')",
)
ONE = "select tick from manager_begin(%(now)s, %(max)s, %(spacing)s, %(limit)s, 'score')"


def _function(text: str, name: str) -> str:
    start = text.index(f"create or replace function {name}(")
    return text[start : text.index("$$;", text.index("$$", start) + 2) + 3]


def _timed(conn: psycopg.Connection[Any], create: str, queries: tuple[str, ...],
           params: dict[str, Any]) -> tuple[float, list[list[Any]]]:  # fmt: skip
    """ms of `queries` (each executed and fetched), in a transaction rolled back."""
    with conn.transaction(force_rollback=True), conn.cursor(row_factory=dict_row) as cur:
        cur.execute(create.encode())
        started = time.perf_counter()
        answers = []
        for q in queries:
            cur.execute(q, params)
            answers.append(cur.fetchall())
        return (time.perf_counter() - started) * 1000, answers


def _same(four: list[list[Any]], one: list[list[Any]]) -> bool:
    enrolled, paused, requeued, queue = four
    tick = one[0][0]["tick"]
    calls = [r["call"] for r in queue]

    def out(cs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in c.items() if k != "id"} for c in cs]

    return (
        tick["enrolled"] == [dict(r) for r in enrolled]
        and len(tick["paused"]) == len(paused)
        and tick["requeued"] == requeued[0]["n"]
        and out(tick["queue"]) == out(calls)
        and tick["in_flight"] == (queue[0]["in_flight"] if queue else 0)
    )


async def _app(dsn: str, now: datetime, reps: int) -> tuple[list[float], list[float]]:
    """ms an opening through the app's transport and repositories: A four calls, B one."""
    transport = await PostgresTransport(dsn, max_size=2).open()
    repos = Repositories(transport)
    m = repos.manager

    async def four() -> None:
        await repos.campaigns.enroll(now)
        await m.deliverability_check(now)
        await m.requeue_unanswered(ARGS["max"], ARGS["spacing"], now)
        await m.call_queue(ARGS["limit"], now)

    async def one() -> None:
        await m.begin(now, ARGS["max"], ARGS["spacing"], ARGS["limit"])

    ta: list[float] = []
    tb: list[float] = []
    try:
        for rep in range(reps + 2):  # the first two warm the pool
            order = ((four, ta), (one, tb))
            for opening, into in order if rep % 2 == 0 else order[::-1]:
                started = time.perf_counter()
                await opening()
                if rep >= 2:
                    into.append((time.perf_counter() - started) * 1000)
    finally:
        await transport.close()
    return ta, tb


def _print(label: str, ta: list[float], tb: list[float]) -> None:
    ma, mb = statistics.median(ta), statistics.median(tb)
    print(f"{label} ms an opening: A (four calls) median {ma:.2f} min {min(ta):.2f} |"
          f" B (manager_begin) median {mb:.2f} min {min(tb):.2f} | {ma - mb:.2f} ms a run,"
          f" {96 * (ma - mb) / 1000:.3f} s a virtual day (96 runs)")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dsn", required=True)
    p.add_argument("--now", required=True)
    p.add_argument("--reps", type=int, default=40)
    a = p.parse_args()
    now = datetime.fromisoformat(a.now)
    params: dict[str, Any] = {**ARGS, "now": now}
    create = _function(SCHEMA.read_text(), "manager_begin")
    with psycopg.connect(a.dsn) as conn:
        _, four = _timed(conn, create, FOUR, params)
        _, one = _timed(conn, create, (ONE,), params)
        enrolled = sum(r["enrolled"] for r in four[0])
        print(f"answers the same: {_same(four, one)} (enrolled {enrolled}, paused"
              f" {len(four[1])}, requeued {four[2][0]['n']}, queue {len(four[3])})")  # fmt: skip
        ta: list[float] = []
        tb: list[float] = []
        for rep in range(a.reps):
            order = ((FOUR, ta), ((ONE,), tb))
            for queries, into in order if rep % 2 == 0 else order[::-1]:
                into.append(_timed(conn, create, queries, params)[0])
    _print("SQL (rolled back)", ta, tb)
    _print("app path", *asyncio.run(_app(a.dsn, now, a.reps)))


if __name__ == "__main__":
    main()
