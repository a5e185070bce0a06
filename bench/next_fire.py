"""A scheduler's `next_fire` (app/core/schedule.py) against a fresh croniter per call.

The simulator (and the dev server) asks each job's next fire after the one it just ran: 984
times a virtual day, 29,520 in a simulated month. `next_fire` keeps each job's iterator and
skips croniter's parse and expansion when asked after its last answer. This prints both, in
alternating rounds, over a virtual month of the registry's jobs, and checks the answers match.

    .venv/bin/python bench/next_fire.py [--days 30] [--rounds 4]

Not a test: it prints measured figures (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from croniter import croniter

from app.core.schedule import Job, next_fire
from app.jobs.registry import JOBS

START = datetime(2026, 12, 1, tzinfo=UTC)


def fresh(job: Job, after: datetime) -> datetime:
    fire: datetime = croniter(job.cron, after).get_next(datetime)
    return fire


def month(ask: Callable[[Job, datetime], datetime], days: int) -> list[datetime]:
    """Every job's fires over `days`, asked as the simulator asks (after the last fire)."""
    end = START + timedelta(days=days)
    fires: list[datetime] = []
    for job in JOBS:
        at = ask(job, START)
        while at < end:
            fires.append(at)
            at = ask(job, at)
    return fires


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    assert month(next_fire, args.days) == month(fresh, args.days), "different answers"
    for r in range(args.rounds):
        for name, ask in (("fresh croniter", fresh), ("next_fire", next_fire)):
            started = time.perf_counter()
            n = len(month(ask, args.days))
            took = time.perf_counter() - started
            print(f"round {r + 1}: {name:15} {n} fires in {took:.2f} s, "
                  f"{took / n * 1e6:.1f} µs a fire")  # fmt: skip


if __name__ == "__main__":
    main()
