"""The due rescue texts' read (`webhook_due_rescue_checks`), a git ref's text against this
tree's, on one database (migration 20261209180000_rescue_checks_plpgsql).

Every drip run reads it (an empty one inside drip_begin, one that claimed steps inside
drip_settle). It was a SQL function with `set search_path`: never inlined, so its query was
parsed and planned at every call; it is plpgsql now (planned once per connection).

`--ref`'s text is created beside the migrated function as a scratch copy
(`webhook_due_rescue_checks_before`) inside one transaction that is rolled back at the end
(nothing stays in the database). Two states are timed, both sides in turn block by block:
- `empty`: the database as it is (at `--now`, no rescue text due in a kept simulated month);
- `due`: `--due` rescue texts of the database set back to 'queued' (in the same transaction),
  as a drip run finds them after missed calls.
In each state both sides must return the same rows (checked before timing). Printed: the
time the server backend spent on a CPU (/proc/<pid>/schedstat: the server must run on this
machine; the machine's load moves it far less than the wall) and the wall, us a call.

    # a kept simulated database (bench/history_reads.py keep) with this tree's migrations
    .venv/bin/python bench/rescue_checks_ab.py --dsn "host=DIR user=postgres dbname=..." \\
        --now "2026-12-28 13:05+00" [--ref HEAD] [--calls 2000] [--block 100] [--due 3]

Not a test: it prints measured figures (bench/RESULTS.md "Simulator").
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

import psycopg

sys.path[:0] = [str(Path(__file__).parent)]
from sql_ab import ref_functions  # noqa: E402

SCHEMA = "supabase/schemas/04_webhooks.sql"
NAME = "webhook_due_rescue_checks"
SIDES = {"before": f"{NAME}_before", "after": NAME}


def backend_ns(pid: int) -> int:
    """CPU ns the server backend `pid` has run so far (Linux schedstat)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def answers(conn: psycopg.Connection, now: datetime) -> dict[str, list[tuple[object, ...]]]:
    return {
        side: conn.execute(f"select * from {name}(%s, 100)", (now,)).fetchall()
        for side, name in SIDES.items()
    }


def time_state(conn: psycopg.Connection, now: datetime, calls: int, block: int) -> str:
    """Both sides in turn, `block` calls at a time (ABBA): us a call, CPU then wall."""
    pid = conn.info.backend_pid
    cpu: dict[str, list[float]] = {side: [] for side in SIDES}
    wall: dict[str, list[float]] = {side: [] for side in SIDES}
    order = list(SIDES)
    for n in range(calls // block):
        for side in order if n % 2 == 0 else order[::-1]:
            sql = f"select * from {SIDES[side]}(%s, 100)"
            c0, w0 = backend_ns(pid), time.perf_counter()
            for _ in range(block):
                conn.execute(sql, (now,)).fetchall()
            wall[side].append((time.perf_counter() - w0) * 1e6 / block)
            cpu[side].append((backend_ns(pid) - c0) / 1e3 / block)
    ratio = [a / b for a, b in zip(cpu["after"], cpu["before"], strict=True)]
    return (
        f"  server CPU us a call: before {statistics.median(cpu['before']):.0f},"
        f" after {statistics.median(cpu['after']):.0f} (medians of blocks);"
        f" after/before per block pair: median {statistics.median(ratio):.2f},"
        f" range {min(ratio):.2f}-{max(ratio):.2f}\n"
        f"  wall us a call: before {statistics.median(wall['before']):.0f},"
        f" after {statistics.median(wall['after']):.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--now", required=True, type=datetime.fromisoformat)
    parser.add_argument("--ref", default="HEAD")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--block", type=int, default=100)
    parser.add_argument("--due", type=int, default=3)
    args = parser.parse_args()
    with psycopg.connect(args.dsn) as conn:
        language = conn.execute(
            "select l.lanname from pg_proc p join pg_language l on l.oid = p.prolang"
            " where p.proname = %s",
            (NAME,),
        ).fetchone()
        print(f"{NAME} in this database: {language and language[0]}; before: {args.ref}'s text")
        conn.execute(ref_functions(args.ref, SCHEMA, {NAME: SIDES["before"]}))
        try:
            for state in ("empty", "due"):
                if state == "due":
                    conn.execute(
                        "update messages set status = 'queued', payload = payload - 'not_before'"
                        " where id in (select id from messages where kind = 'rescue'"
                        " and created_at <= %s order by id desc limit %s)",
                        (args.now, args.due),
                    )
                found = answers(conn, args.now)
                assert found["before"] == found["after"], "the two texts disagree"
                print(f"{state}: {len(found['after'])} rows, the same from both texts")
                print(time_state(conn, args.now, args.calls, args.block))
        finally:
            conn.rollback()


if __name__ == "__main__":
    main()
