"""The drip's claim and settle (`claim_due_steps`, `complete_steps`), a git ref's text against
this tree's, on a kept database.

Their cost depends on the history (the day's messages, the tables' sizes and statistics), so
they are timed on a simulated database kept by `bench/history_reads.py keep`, at virtual
instants when steps are due. The ref's functions (read with `git show`) and this tree's (read
from supabase/schemas/) are installed beside each other under other names (`<name>_ref`,
`<name>_tree`; each side's claim calls its own copy of internal.leads_recent_attempts) and
called in alternating shuffled turns on one connection: a side claims the due steps (up to
500) with its claim, then settles them all ('advance') with its settle, each turn rolled back
(nothing stays claimed); the copies are dropped at the end. Per instant: the steps claimed,
each side's median ms of a claim and of a settle and tree/ref; and whether the two claims
returned the same rows and the two settles settled as many.

    .venv/bin/python bench/drip_claim_ab.py --dsn "host=DIR user=postgres dbname=sim_..." \
        --now "2026-12-07 14:00+00" --now "2026-12-08 00:05+00" [--ref HEAD] [--rounds 6] \
        [--calls 10] [--fresh]

--fresh: each claim + settle on a new connection, so each plans its statements as the first
call of a production drip run does (each job runs in a fresh container); without it, one
connection keeps its plans across turns, as the simulator's worker does.

Not a test: it prints measured figures (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sql_ab import ref_functions, tree_functions

SCHEMA = "supabase/schemas/02_campaigns.sql"
FUNCTIONS = ("claim_due_steps", "complete_steps")
# the helpers the claim calls that live in another file: each side's own copy, called by
# that side's claim (internal.leads_recent_attempts changed in migration 20261211110000)
HELPERS = {"internal.leads_recent_attempts": "supabase/schemas/03_outbox.sql"}


def install(admin: psycopg.Connection, ref: str) -> None:
    """The ref's and the tree's claim and settle, and their helpers, under `_ref`/`_tree`."""
    for side in SIDES:
        copies = {name: f"{name}_{side}" for name in FUNCTIONS}
        text = (
            ref_functions(ref, SCHEMA, copies) if side == "ref" else tree_functions(SCHEMA, copies)
        )
        for helper, schema in HELPERS.items():
            helper_copy = {helper: f"{helper}_{side}"}
            admin.execute(
                ref_functions(ref, schema, helper_copy)
                if side == "ref"
                else tree_functions(schema, helper_copy)
            )
            text = text.replace(f"{helper}(", f"{helper}_{side}(")
        admin.execute(text)


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


@contextmanager
def fresh_or(kept: psycopg.Connection, dsn: str, fresh: bool) -> Iterator[psycopg.Connection]:
    """`kept` (plans cached across turns, as a long-lived worker's), or with `fresh` a new
    connection for the turn (its first claim plans every statement, as a production drip
    run does: each job runs in a fresh container); connecting is outside the timings."""
    if not fresh:
        yield kept
        return
    with psycopg.connect(dsn) as conn:
        yield conn


def main(dsn: str, nows: list[str], ref: str, rounds: int, calls: int, fresh: bool) -> None:
    with psycopg.connect(dsn, autocommit=True) as admin:
        install(admin, ref)
    try:
        claim: dict[tuple[str, str], list[float]] = {}
        settle: dict[tuple[str, str], list[float]] = {}
        last: dict[tuple[str, str], tuple[list[Any], int]] = {}
        rng = random.Random(7)
        with psycopg.connect(dsn) as kept:
            for _ in range(rounds):
                for now in nows:
                    for side in rng.sample(SIDES, len(SIDES)):
                        for _ in range(calls):
                            with fresh_or(kept, dsn, fresh) as conn:
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
            for name in (*FUNCTIONS, *HELPERS):
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
    parser.add_argument(
        "--fresh", action="store_true", help="a new connection a claim + settle (no plans kept)"
    )
    args = parser.parse_args()
    main(args.dsn, args.now, args.ref, args.rounds, args.calls, args.fresh)
