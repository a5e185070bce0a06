"""The drip's claim and settle (`claim_due_steps`, `complete_steps`), a git ref's text against
this tree's, on a kept database.

Their cost depends on the history (the day's messages, the tables' sizes and statistics), so
they are timed on a simulated database kept by `bench/history_reads.py keep`, at virtual
instants when steps are due. The ref's functions (read with `git show`) and this tree's (read
from supabase/schemas/) are installed beside each other under other names (`<name>_ref`,
`<name>_tree`) and called in alternating shuffled turns on one connection: a side claims the
due steps (up to 500) with its claim, then settles them all ('advance') with its settle, each
turn rolled back (nothing stays claimed); the copies are dropped at the end. Per instant: the
steps claimed, each side's median ms of a claim and of a settle and tree/ref; and whether the
two claims returned the same rows and the two settles settled as many.

    .venv/bin/python bench/drip_claim_ab.py --dsn "host=DIR user=postgres dbname=sim_..." \
        --now "2026-12-07 14:00+00" --now "2026-12-08 00:05+00" [--ref HEAD] [--rounds 6] \
        [--calls 10]

Not a test: it prints measured figures (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sql_ab import ref_functions, tree_functions

SCHEMA = "supabase/schemas/02_campaigns.sql"
FUNCTIONS = ("claim_due_steps", "complete_steps")
SIDES = ("ref", "tree")


def turn(conn: psycopg.Connection, side: str, now: str) -> tuple[float, float, list[Any], int]:
    """`side`'s claim of up to 500 steps at `now`, then its settle of them all ('advance'):
    (claim seconds, settle seconds, the claim's rows, the enrollments settled), rolled back."""
    started = time.perf_counter()
    rows = [
        row[0]
        for row in conn.execute(
            f"select step from claim_due_steps_{side}('bench:ab', 500, 600, %(now)s)",
            {"now": now},
        ).fetchall()
    ]
    claimed = time.perf_counter()
    results = Jsonb([
        {"enrollment_id": r["enrollment_id"], "action": "advance", "at": None, "reason": None}
        for r in rows
    ])  # fmt: skip
    settled = conn.execute(
        f"select count(*) from complete_steps_{side}('bench:ab', %(results)s, %(now)s)",
        {"results": results, "now": now},
    ).fetchone()
    done = time.perf_counter()
    conn.rollback()
    return claimed - started, done - claimed, rows, int(settled[0]) if settled else 0


def main(dsn: str, nows: list[str], ref: str, rounds: int, calls: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(ref_functions(ref, SCHEMA, {name: f"{name}_ref" for name in FUNCTIONS}))
        admin.execute(tree_functions(SCHEMA, {name: f"{name}_tree" for name in FUNCTIONS}))
    try:
        claim: dict[tuple[str, str], list[float]] = {}
        settle: dict[tuple[str, str], list[float]] = {}
        last: dict[tuple[str, str], tuple[list[Any], int]] = {}
        rng = random.Random(7)
        with psycopg.connect(dsn) as conn:
            for _ in range(rounds):
                for now in nows:
                    for side in rng.sample(SIDES, len(SIDES)):
                        for _ in range(calls):
                            claim_s, settle_s, rows, settled = turn(conn, side, now)
                            claim.setdefault((now, side), []).append(claim_s)
                            settle.setdefault((now, side), []).append(settle_s)
                            last[now, side] = rows, settled
        for now in nows:
            c_ref, c_tree = (1000 * statistics.median(claim[now, side]) for side in SIDES)
            s_ref, s_tree = (1000 * statistics.median(settle[now, side]) for side in SIDES)
            (rows, settled), (rows_tree, settled_tree) = last[now, "ref"], last[now, "tree"]
            print(f"{now}: {len(rows_tree):4d} steps  claim ref {c_ref:7.2f} ms tree "
                  f"{c_tree:7.2f} tree/ref {c_tree / c_ref:.2f}  settle ref {s_ref:6.2f} ms "
                  f"tree {s_tree:6.2f} tree/ref {s_tree / s_ref:.2f}  same rows: "
                  f"{rows == rows_tree and settled == settled_tree}")  # fmt: skip
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            for name in FUNCTIONS:
                for side in SIDES:
                    admin.execute(f"drop function if exists {name}_{side}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dsn", required=True, help="a database kept by history_reads.py keep")
    parser.add_argument("--now", action="append", required=True, help="a virtual instant")
    parser.add_argument("--ref", default="HEAD")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--calls", type=int, default=10, help="calls a side a turn")
    args = parser.parse_args()
    main(args.dsn, args.now, args.ref, args.rounds, args.calls)
