"""Where a guardian run's database time goes, virtual day by virtual day, in the simulation.

Runs `nightshift simulate` (the production jobs on a virtual clock) with Postgres counting
every function call (`track_functions = all`, set for the simulator's connections through
PGOPTIONS) and prints, at each virtual day's end, the server's milliseconds per call of
`guardian_reads` and of each function it calls (total: with what it calls; self: its own
statements), of start_job_run, finish_job_run and the other jobs' begin functions
(drip_run_begin, manager_run_begin, appointments_begin), and the client's wall per call of
`guardian_reads` (the transport), then the day's wall seconds, its database calls' seconds
and the costliest calls. A part that grows or drops from day to day shows which read follows
the history, as it runs in the month (the same connections and plan caches).

`--analyze-from N`: autovacuum off on every table from the end of day 1 (before its first
visit: it first visits a new database after a minute or two of wall) and an ANALYZE of the
database at the end of each virtual day from day N (from the bench's own connection), so
that when the plans first have statistics does not depend on the machine's speed: a fresh
database is first analysed by autovacuum after a minute or two of wall, a week or more of a
simulated month on a quiet machine (day 8 here, day 12 in stop 27's month), and until then
every plan is made without statistics. `--analyze-from 1` is as if autovacuum kept up with
virtual time, `--analyze-from 8` as the quiet month's first week.

    .venv/bin/python bench/guardian_days.py [--leads 10000] [--days 30] [--stop 14] [--seed 7]
        [--analyze-from N]

Not a test: it prints measured figures (bench/RESULTS.md, "Simulator").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from app.core import logs
from app.core.clock import ManualClock
from app.db.transport import PostgresTransport
from app.simulate.engine import START, SimConfig, simulate

sys.path[:0] = [str(Path(__file__).parent)]
from history_reads import _stop_at  # noqa: E402
from sim_profile import CALLS, time_calls  # noqa: E402

FUNCTIONS = (
    "guardian_reads", "record_health_check", "job_status", "callback_gaps",
    "new_error_fingerprints", "alert_flush_reads", "alert_notifications_due",
    "alert_pending_messages", "alert_is_silenced", "start_job_run", "finish_job_run",
    "drip_run_begin", "manager_run_begin", "appointments_begin",
)  # fmt: skip
STATS = "select funcname, calls, total_time, self_time from pg_stat_user_functions"


def watch_days(analyze_from: int | None) -> None:
    """Print the day's per-call server ms of FUNCTIONS at each virtual day's end (with
    `analyze_from`: autovacuum off from day 1, ANALYZE from that day)."""
    state: dict[str, Any] = {"day": 0, "dsn": None, "last": {}, "at": time.perf_counter()}
    init = PostgresTransport.__init__

    def remembered(self: PostgresTransport, dsn: str, **kwargs: Any) -> None:
        state["dsn"] = state["dsn"] or dsn
        init(self, dsn, **kwargs)

    PostgresTransport.__init__ = remembered  # type: ignore[method-assign]
    advance = ManualClock.advance

    def advanced(self: ManualClock, delta: timedelta) -> datetime:
        now = advance(self, delta)
        day = int((now - START).total_seconds() // 86400)
        if day == state["day"] or state["dsn"] is None:
            return now
        wall = time.perf_counter() - state["at"]
        calls = sum(v[0] for v in CALLS.values())
        seconds = sum(v[1] for v in CALLS.values())
        costly = sorted(CALLS.items(), key=lambda kv: -kv[1][1])[:4]
        top = ", ".join(f"{name} {n:.0f}x {s:.1f}s" for name, (n, s) in costly)
        time.sleep(1.1)  # backends flush their function counts at most once a second
        with psycopg.connect(state["dsn"], autocommit=True) as conn:
            rows = {r[0]: r[1:] for r in conn.execute(STATS).fetchall()}
        shown = []
        for name in FUNCTIONS:
            made, total, own = rows.get(name, (0, 0.0, 0.0))
            was = state["last"].get(name, (0, 0.0, 0.0))
            n = made - was[0]
            if n:
                shown.append(f"{name} {n}x {(total - was[1]) / n:.3f}/{(own - was[2]) / n:.3f}")
        state["last"] = rows
        client = CALLS.get("guardian_reads", [0, 0.0])
        ms = 1000 * client[1] / max(client[0], 1)
        print(f"day {day:>2}: {wall:5.1f} s wall, {calls:.0f} db calls {seconds:5.1f} s; {top}\n"
              f"        guardian_reads client {ms:.2f} ms; server ms a call (total/self): "
              f"{', '.join(shown)}", flush=True)  # fmt: skip
        if analyze_from is not None:
            with psycopg.connect(state["dsn"], autocommit=True) as conn:
                if day == 1:
                    tables = conn.execute(
                        "select format('%I.%I', schemaname, relname) from pg_stat_user_tables"
                    ).fetchall()
                    for (table,) in tables:
                        conn.execute(f"alter table {table} set (autovacuum_enabled = off)")
                if day >= analyze_from:
                    conn.execute("analyze")
        CALLS.clear()
        state.update(day=day, at=time.perf_counter())
        return now

    ManualClock.advance = advanced  # type: ignore[method-assign]


def main(leads: int, days: float, stop: float, seed: int, analyze_from: int | None) -> None:
    os.environ["PGOPTIONS"] = (os.environ.get("PGOPTIONS", "") + " -c track_functions=all").strip()
    logs.configure("ERROR")
    time_calls()
    watch_days(analyze_from)
    _stop_at(stop)
    asyncio.run(simulate(SimConfig(leads, days, seed)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--stop", type=float, default=14)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--analyze-from", type=int)
    args = parser.parse_args()
    main(args.leads, args.days, args.stop, args.seed, args.analyze_from)
