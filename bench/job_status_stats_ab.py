"""`job_status` (read at every guardian run) on a job_runs table without statistics, with and
without the partial index of the successful runs (job_runs_succeeded_idx).

A simulated month starts on a fresh database: until autovacuum first analyses job_runs (a
minute or two of wall, a week or more of virtual time), the planner knows nothing of its
columns and takes `status = 'succeeded'` for a rare value, so job_status's "last success"
read became a bitmap scan of every run of the job and a sort, growing with the history
(bench/guardian_days.py prints it day by day in the month). With an index of the
successful runs by (job, started_at desc), the read is one index probe with or without
statistics.

On a kept database (bench/history_reads.py keep), in two scratch schemas: job_runs' rows
started before --until, its indexes as migrated before (a) and with the partial index (b),
never analysed (autovacuum off), the job_leases rows, and job_status's text as migrated
(search_path the scratch schema first). On one connection, the two copies called in turn,
shuffled per call: wall ms a call (medians per round), before and after an ANALYZE of both
tables; the plan of the "last success" read in each schema. The answers are compared first.
Then what the index costs the writes: a run's start_job_run + finish_job_run (copies in
each schema, as migrated), the two schemas in turn, shuffled per pair, a run 5 virtual
minutes after the last (synchronous_commit off, as in the simulator's database). The scratch
schemas are dropped at the end.

    .venv/bin/python bench/job_status_stats_ab.py --dsn "host=DIR user=postgres dbname=..." \
        --until "2026-12-08 05:00+00" [--calls 300] [--rounds 3]

Not a test: it prints measured figures (bench/RESULTS.md, "Simulator").
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from datetime import datetime, timedelta

import psycopg

JOBS = ["drip", "guardian", "appointments", "campaign_manager", "growth"]
SIDES = {"a": "bench_nostats_a", "b": "bench_nostats_b"}
INDEXES = (
    "create index on {s}.job_runs (job, started_at desc)",
    "create index on {s}.job_runs (job) where status = 'running'",
)
SUCCEEDED = "create index on {s}.job_runs (job, started_at desc) where status = 'succeeded'"
LAST_SUCCESS = (
    "explain (costs off) select s.finished_at from {s}.job_runs s where s.job = 'guardian'"
    " and s.status = 'succeeded' order by s.started_at desc limit 1"
)


def build(conn: psycopg.Connection, until: str) -> None:
    """The two scratch schemas: tables, indexes (the partial one in b only), rows, job_status."""
    bodies = {}
    for name in ("job_status", "start_job_run", "finish_job_run"):
        row = conn.execute(f"select pg_get_functiondef('public.{name}'::regproc)").fetchone()
        assert row is not None
        bodies[name] = str(row[0])
    for side, schema in SIDES.items():
        conn.execute(f"drop schema if exists {schema} cascade")
        conn.execute(f"create schema {schema}")
        conn.execute(f"create table {schema}.job_runs (like public.job_runs including defaults"
                     " including constraints) with (autovacuum_enabled = off)")  # fmt: skip
        conn.execute(f"alter table {schema}.job_runs add primary key (id)")
        for index in INDEXES + ((SUCCEEDED,) if side == "b" else ()):
            conn.execute(index.format(s=schema))
        conn.execute(f"create table {schema}.job_leases (like public.job_leases including all)"
                     " with (autovacuum_enabled = off)")  # fmt: skip
        conn.execute(f"insert into {schema}.job_runs select * from public.job_runs"
                     " where started_at < %s", (until,))  # fmt: skip
        conn.execute(f"insert into {schema}.job_leases select * from public.job_leases")
        for function in ("job_status", "start_job_run", "finish_job_run"):
            text = bodies[function].replace(f"public.{function}", f"{schema}.{function}")
            conn.execute(text.replace("SET search_path TO 'public'",
                                      f"SET search_path TO '{schema}', 'public'"))  # fmt: skip


def answers(conn: psycopg.Connection, now: str) -> dict[str, list[tuple[object, ...]]]:
    return {
        side: conn.execute(f"select * from {schema}.job_status(%s, %s)", (now, JOBS)).fetchall()
        for side, schema in SIDES.items()
    }


def timed(conn: psycopg.Connection, now: str, calls: int, rounds: int, label: str) -> None:
    """Both copies in turn (shuffled per call), one connection: median wall ms per round."""
    for r in range(rounds):
        took: dict[str, list[float]] = {side: [] for side in SIDES}
        for _ in range(calls):
            for side in random.sample(list(SIDES), len(SIDES)):
                started = time.perf_counter()
                conn.execute(f"select * from {SIDES[side]}.job_status(%s, %s)", (now, JOBS))
                took[side].append(1000 * (time.perf_counter() - started))
        a, b = (statistics.median(took[s]) for s in SIDES)
        print(f"{label} round {r}: job_status ms a call (median of {calls}): without the index"
              f" {a:.3f}  with it {b:.3f}  ({b / a:.2f}x)", flush=True)  # fmt: skip


def writes(conn: psycopg.Connection, until: str, pairs: int, rounds: int) -> None:
    """start_job_run + finish_job_run of one run in each schema in turn: median wall ms."""
    conn.execute("set synchronous_commit = off")
    at = datetime.fromisoformat(until)
    for r in range(rounds):
        took: dict[str, list[float]] = {side: [] for side in SIDES}
        for _ in range(pairs):
            at += timedelta(minutes=5)
            for side in random.sample(list(SIDES), len(SIDES)):
                run_id, schema = uuid.uuid4(), SIDES[side]
                started = time.perf_counter()
                conn.execute(f"select * from {schema}.start_job_run('drip', %s, 'bench', 90,"
                             " null, %s)", (run_id, at))  # fmt: skip
                conn.execute(f"select {schema}.finish_job_run(%s, 'succeeded', '{{}}', null,"
                             " %s)", (run_id, at))  # fmt: skip
                took[side].append(1000 * (time.perf_counter() - started))
        a, b = (statistics.median(took[s]) for s in SIDES)
        print(f"writes round {r}: start + finish ms a run (median of {pairs}): without the index"
              f" {a:.3f}  with it {b:.3f}  ({b / a:.2f}x)", flush=True)  # fmt: skip


def plans(conn: psycopg.Connection, label: str) -> None:
    for side, schema in SIDES.items():
        plan = [r[0].strip() for r in conn.execute(LAST_SUCCESS.format(s=schema)).fetchall()]
        print(f"{label} {'without' if side == 'a' else 'with'} the index, the last-success"
              f" read: {' / '.join(plan)}")  # fmt: skip


def main(dsn: str, until: str, calls: int, rounds: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        build(conn, until)
        try:
            rows = conn.execute(f"select count(*) from {SIDES['a']}.job_runs").fetchone()
            print(f"job_runs rows started before {until}: {rows[0] if rows else 0}")
            got = answers(conn, until)
            assert got["a"] == got["b"], "the two copies answer differently"
            print(f"same answers: {len(got['a'])} jobs")
            plans(conn, "no statistics:")
            timed(conn, until, calls, rounds, "no statistics")
            for schema in SIDES.values():
                conn.execute(f"analyze {schema}.job_runs")
            plans(conn, "analysed:")
            timed(conn, until, calls, rounds, "analysed")
            writes(conn, until, calls, rounds)
        finally:
            for schema in SIDES.values():
                conn.execute(f"drop schema if exists {schema} cascade")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--until", default="2026-12-08 05:00+00")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    main(args.dsn, args.until, args.calls, args.rounds)
