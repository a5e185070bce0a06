"""campaign_manager's reads against the history: a simulated database kept, its reads timed.

    # the database of --leads 10000 --days 8 --seed 7 kept at the end of day STOP, on an
    # embedded server of its own under DIR (left running; prints the database's name)
    .venv/bin/python bench/history_reads.py keep --dir /tmp/hist/pg --stop 8
    # ms a call of each read on a kept database at a virtual instant (rolled back)
    .venv/bin/python bench/history_reads.py reads --dsn "host=/tmp/hist/pg user=postgres \
        dbname=sim_..." --now "2026-12-08 05:00+00"
    # a simulation with or without one migration (the same tree otherwise): ms a call of
    # the reads per virtual day, db_ping as the load's yardstick (--stop: the first days of
    # a --days month)
    .venv/bin/python bench/history_reads.py run --without 20261207111000 --days 5
    .venv/bin/python bench/history_reads.py run --without 20261210110000 --days 30 --stop 6

Not a test: it prints measured figures (bench/RESULTS.md, "campaign_manager's reads that grew
with the history").
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from app.core import logs
from app.core.clock import ManualClock
from app.db import migrate
from app.simulate import engine
from app.simulate.engine import START, SimConfig, simulate

sys.path[:0] = [str(Path(__file__).parent)]
from sim_profile import CALLS, time_calls  # noqa: E402

JOBS = "{drip,guardian,appointments,campaign_manager,growth}"
READS = {  # as the jobs call them (campaign_manager, guardian, drip), at %(now)s
    "call_queue": "select count(*) from call_queue(200, %(now)s, 'score')",
    "deliverability_check": "select count(*) from deliverability_check(%(now)s)",
    "requeue_unanswered_calls": "select requeue_unanswered_calls(3, 14400, %(now)s)",
    "messages_awaiting_status": "select count(*) from messages_awaiting_status("
    "%(now)s::timestamptz - interval '1 day', %(now)s::timestamptz - interval '7 days', 50, 3)",
    "calls_awaiting_report": "select count(*) from calls_awaiting_report("
    "%(now)s::timestamptz - interval '1500 seconds', %(now)s::timestamptz - interval '7 days', 20)",
    "webhook_due_rescue_checks": "select count(*) from webhook_due_rescue_checks(%(now)s, 100)",
    "guardian_reads": f"select guardian_reads(%(now)s, '{JOBS}', %(now)s::timestamptz"
    " - interval '3 hours', %(now)s::timestamptz - interval '30 minutes', 20, 3)",
    "alert_flush_reads": "select alert_flush_reads(900, 3600, 900, false, 600, %(now)s)",
}
IN_RUN = ("deliverability_check", "messages_awaiting_status", "calls_awaiting_report",
          "requeue_unanswered_calls", "call_queue", "manager_begin", "manager_run_begin",
          "db_ping")  # fmt: skip


def keep(directory: str, leads: int, days: float, stop: float, seed: int) -> None:
    """Run the simulation to the end of day `stop` and keep its database (not dropped)."""
    import pgserver  # type: ignore[import-untyped]

    server = pgserver.get_server(directory, cleanup_mode=None)  # left running
    admin_dsn = str(server.get_uri())
    admin = engine._admin

    def no_drop(dsn: str, statement: sql.Composed) -> None:
        if "drop database" in statement.as_string(None):
            print("kept:", statement.as_string(None), "on", admin_dsn, flush=True)
            return
        admin(dsn, statement)

    engine._admin = no_drop  # type: ignore[assignment]
    _stop_at(stop)
    asyncio.run(simulate(SimConfig(leads, days, seed, admin_dsn=admin_dsn)))


def _stop_at(stop: float) -> None:
    """The simulation ends at the end of day `stop` (its leads and their arrivals those of
    its whole --days: the month's first days, not a shorter month's)."""
    drive = engine._drive

    async def until_stop(ctx: Any, world: Any, end: datetime, *rest: Any) -> Any:
        return await drive(ctx, world, min(end, START + timedelta(days=stop)), *rest)

    engine._drive = until_stop  # type: ignore[assignment]


def reads(dsn: str, now: str, reps: int) -> None:
    """ms a call of each read (median and min of `reps`, one connection, rolled back)."""
    with psycopg.connect(dsn) as conn:
        for name, query in READS.items():
            took = []
            for _ in range(reps):
                started = time.perf_counter()
                conn.execute(query, {"now": now}).fetchall()  # type: ignore[arg-type]
                took.append(time.perf_counter() - started)
                conn.rollback()
            took.sort()
            print(f"{name:28s} median {1000 * took[len(took) // 2]:7.2f} ms"
                  f"  min {1000 * took[0]:7.2f}")  # fmt: skip


def run(without: str | None, leads: int, days: float, stop: float, seed: int) -> None:
    """A simulation (migration `without` left out when given) to the end of day `stop`: ms a
    call a virtual day."""
    discover = migrate.discover
    migrate.discover = lambda directory=migrate.MIGRATIONS_DIR: [  # type: ignore[misc]
        m for m in discover(directory) if m.version != without
    ]
    calls = CALLS  # every transport call timed into it (sim_profile.time_calls)
    advance, state = ManualClock.advance, {"day": 0}

    def advanced(self: ManualClock, delta: timedelta) -> None:
        advance(self, delta)
        day = int((self.now() - START).total_seconds() // 86400)
        if day != state["day"]:
            state["day"] = day
            shown = ", ".join(f"{f} {1000 * calls[f][1] / max(calls[f][0], 1):.2f}" for f in IN_RUN)
            print(f"{'without ' + without if without else 'all'} day {day}: {shown} (ms a call)",
                  flush=True)  # fmt: skip
            calls.clear()

    time_calls()
    ManualClock.advance = advanced  # type: ignore[method-assign]
    _stop_at(stop)
    asyncio.run(simulate(SimConfig(leads, days, seed)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=("keep", "reads", "run"))
    parser.add_argument("--dir", default=f"{tempfile.gettempdir()}/history-reads-pg")
    parser.add_argument("--dsn")
    parser.add_argument("--now", default="2026-12-08 05:00+00")
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--without")
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--days", type=float, default=8)
    parser.add_argument("--stop", type=float, default=8)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logs.configure("WARNING")
    if args.what == "keep":
        keep(args.dir, args.leads, args.days, args.stop, args.seed)
    elif args.what == "reads":
        reads(args.dsn, args.now, args.reps)
    else:
        run(args.without, args.leads, args.days, args.stop, args.seed)
