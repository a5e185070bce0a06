"""A quiet guardian run's `guardian_reads` with `new_error_fingerprints` planned at every call
(`plan_cache_mode = force_custom_plan`, before migration 20261210101000) and planned by the
plan cache (after), on one connection, the two in turn.

Each round sets the function's mode inside a transaction (ALTER FUNCTION, rolled back with
the run's health_checks rows at the end of the round), warms it (50 calls: the plan cache
compares its custom plans with the generic one over the first five), then times `--runs`
calls: the server backend's time on a CPU (/proc/<pid>/schedstat: the server must run on this
machine), which the load of a shared machine moves far less than the wall, and the wall.
The answers (the new fingerprints, the other reads aside) are checked to be the same first.

    .venv/bin/python bench/fingerprint_plans_ab.py --dsn "host=DIR user=postgres dbname=..." \
        --now "2026-12-28 05:00+00" [--runs 300] [--rounds 6]

Not a test: it prints measured figures (bench/RESULTS.md "Simulator").
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import psycopg

READS = (
    "select guardian_reads(%(now)s, '{drip,guardian,appointments,campaign_manager,growth}',"
    " %(now)s::timestamptz - interval '3 hours', %(now)s::timestamptz - interval '30 minutes',"
    " 20, 3, 3600, 604800, 900, 3600, 900, false, 600)"
)
FUNCTION = "new_error_fingerprints(integer, integer, integer, timestamptz)"
MODES = {
    "before (custom plans)": f"alter function {FUNCTION} set plan_cache_mode = force_custom_plan",
    "after (plan cache)": f"alter function {FUNCTION} reset plan_cache_mode",
}


def on_cpu_ns(pid: int) -> int:
    """Nanoseconds process `pid` has run on a CPU (the scheduler's own account)."""
    with open(f"/proc/{pid}/schedstat") as stat:
        return int(stat.read().split()[0])


def fingerprints(conn: psycopg.Connection[Any], now: str) -> Any:
    return conn.execute(READS, {"now": now}).fetchone()[0]["fingerprints"]  # type: ignore[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dsn", required=True, help="a kept simulation's copy")
    parser.add_argument("--now", required=True, help="its virtual instant (ISO)")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    with psycopg.connect(args.dsn) as conn:
        pid = conn.execute("select pg_backend_pid()").fetchone()[0]  # type: ignore[index]
        answers = []
        for statement in MODES.values():
            conn.execute(statement)
            answers.append(fingerprints(conn, args.now))
            conn.rollback()
        assert answers[0] == answers[1], answers
        print(f"same answers: fingerprints {answers[0]}")
        for n in range(args.rounds):
            order = list(MODES.items()) if n % 2 == 0 else list(MODES.items())[::-1]
            line = []
            for name, statement in order:
                conn.execute(statement)
                for _ in range(50):
                    conn.execute(READS, {"now": args.now}).fetchall()
                cpu, wall = on_cpu_ns(pid), time.perf_counter()
                for _ in range(args.runs):
                    conn.execute(READS, {"now": args.now}).fetchall()
                wall_ms = (time.perf_counter() - wall) * 1000 / args.runs
                line.append(f"{name} {(on_cpu_ns(pid) - cpu) / args.runs / 1000:.0f} us CPU"
                            f" {wall_ms:.2f} ms wall")  # fmt: skip
                conn.rollback()
            print(f"round {n}: {'  '.join(line)}  (load {os.getloadavg()[0]:.2f})", flush=True)


if __name__ == "__main__":
    main()
