"""`callback_gaps` (read at every guardian run) on tables without statistics, before and after
its week bound moved behind `offset 0` (migration 20261211131000).

Without statistics (a fresh database: a simulated month's first week or more, until
autovacuum first analyses messages) the planner took `created_at >= p_from - 7 days` for a
second index range and ANDed messages_created_idx over the whole week with the window of
messages_sent_idx at every call; checked on the window's rows instead, the read is the window
alone, as it is once analysed.

On a kept database (bench/history_reads.py keep) with the migration applied: in two scratch
schemas, messages, calls and webhook_events rows before --until with their indexes, never
analysed (autovacuum off), and callback_gaps as it was (a) and as migrated (b), search_path
the scratch schema first. On one connection, the two called in turn (shuffled per call) over
a 3-hour window moving a minute a call, as the guardian reads it: wall ms a call (medians per
round), before and after an ANALYZE of the tables; the answers are compared first, and each
side's plan of the messages read printed. The scratch schemas are dropped at the end.

    .venv/bin/python bench/callback_gaps_stats_ab.py --dsn "host=DIR user=postgres dbname=..." \
        --until "2026-12-08 05:00+00" [--calls 300] [--rounds 3]

Not a test: it prints measured figures (bench/RESULTS.md, "Simulator").
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import datetime, timedelta

import psycopg

SIDES = {"a": "bench_gaps_a", "b": "bench_gaps_b"}
TABLES = ("messages", "calls", "webhook_events")
BEFORE_SENDS = """    select m.provider, count(*) as n from messages m
     where m.provider in ('twilio', 'resend') and m.sent_at >= p_from and m.sent_at < p_to
       and m.created_at >= p_from - interval '7 days'
     group by m.provider"""
AFTER_SENDS = """    select sent.provider, count(*) as n
      from (select m.provider, m.created_at from messages m
             where m.provider in ('twilio', 'resend') and m.sent_at >= p_from and m.sent_at < p_to
            offset 0) sent
     where sent.created_at >= p_from - interval '7 days'
     group by sent.provider"""
EXPLAIN = {
    "a": "explain (costs off) select count(*) from {s}.messages m where m.provider in"
    " ('twilio', 'resend') and m.sent_at >= %(f)s and m.sent_at < %(t)s"
    " and m.created_at >= %(f)s::timestamptz - interval '7 days'",
    "b": "explain (costs off) select count(*) from (select m.provider, m.created_at from"
    " {s}.messages m where m.provider in ('twilio', 'resend') and m.sent_at >= %(f)s and"
    " m.sent_at < %(t)s offset 0) sent where sent.created_at >= %(f)s::timestamptz"
    " - interval '7 days'",
}


def build(conn: psycopg.Connection, until: str) -> None:
    row = conn.execute("select pg_get_functiondef('public.callback_gaps'::regproc)").fetchone()
    assert row is not None and AFTER_SENDS in str(row[0]), "apply migration 20261211131000 first"
    after = str(row[0])
    for side, schema in SIDES.items():
        conn.execute(f"drop schema if exists {schema} cascade")
        conn.execute(f"create schema {schema}")
        for table in TABLES:
            conn.execute(f"create table {schema}.{table} (like public.{table} including defaults"
                         " including indexes) with (autovacuum_enabled = off)")  # fmt: skip
        conn.execute(f"insert into {schema}.messages select * from public.messages"
                     " where created_at < %s", (until,))  # fmt: skip
        conn.execute(f"insert into {schema}.calls select * from public.calls"
                     " where created_at < %s", (until,))  # fmt: skip
        conn.execute(f"insert into {schema}.webhook_events select * from public.webhook_events"
                     " where received_at < %s", (until,))  # fmt: skip
        text = after if side == "b" else after.replace(AFTER_SENDS, BEFORE_SENDS)
        text = text.replace("public.callback_gaps", f"{schema}.callback_gaps")
        conn.execute(text.replace("SET search_path TO 'public'",
                                  f"SET search_path TO '{schema}', 'public'"))  # fmt: skip


def window(until: datetime, i: int) -> tuple[datetime, datetime]:
    """The guardian's window (3 h back, the last 15 minutes left out) i minutes before until."""
    now = until - timedelta(minutes=i)
    return now - timedelta(hours=3), now - timedelta(minutes=15)


def timed(conn: psycopg.Connection, until: datetime, calls: int, rounds: int, label: str) -> None:
    for r in range(rounds):
        took: dict[str, list[float]] = {side: [] for side in SIDES}
        for i in range(calls):
            since, to = window(until, i)
            for side in random.sample(list(SIDES), len(SIDES)):
                started = time.perf_counter()
                conn.execute(f"select * from {SIDES[side]}.callback_gaps(%s, %s)", (since, to))
                took[side].append(1000 * (time.perf_counter() - started))
        a, b = (statistics.median(took[s]) for s in SIDES)
        print(f"{label} round {r}: callback_gaps ms a call (median of {calls}): before {a:.3f}"
              f"  after {b:.3f}  ({b / a:.2f}x)", flush=True)  # fmt: skip


def plans(conn: psycopg.Connection, until: datetime, label: str) -> None:
    since, to = window(until, 0)
    for side, schema in SIDES.items():
        rows = conn.execute(EXPLAIN[side].format(s=schema), {"f": since, "t": to}).fetchall()
        plan = " / ".join(r[0].strip() for r in rows if "Scan" in r[0] or "BitmapAnd" in r[0])
        print(f"{label} {'before' if side == 'a' else 'after'}: {plan}")


def main(dsn: str, until: datetime, calls: int, rounds: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        build(conn, until.isoformat())
        try:
            rows = conn.execute(f"select count(*) from {SIDES['a']}.messages").fetchone()
            print(f"messages created before {until}: {rows[0] if rows else 0}")
            for i in range(0, calls, 7):
                since, to = window(until, i)
                got = [
                    conn.execute(f"select * from {s}.callback_gaps(%s, %s)", (since, to)).fetchall()
                    for s in SIDES.values()
                ]
                assert got[0] == got[1], (since, got)
            print("same answers over the windows")
            plans(conn, until, "no statistics:")
            timed(conn, until, calls, rounds, "no statistics")
            for schema in SIDES.values():
                for table in TABLES:
                    conn.execute(f"analyze {schema}.{table}")
            plans(conn, until, "analysed:")
            timed(conn, until, calls, rounds, "analysed")
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
    main(args.dsn, datetime.fromisoformat(args.until), args.calls, args.rounds)
