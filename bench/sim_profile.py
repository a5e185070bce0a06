"""Where a simulation's time goes: per virtual day, the wall seconds and the database calls.

Runs `nightshift simulate` (app.simulate.engine.simulate) with the transport's calls timed by
function name and prints one line per virtual day: its wall seconds, the number of database
calls and their seconds, and the costliest functions (calls, seconds); then a second line
with the day's seconds per job (`run_job`), per growth step and in the simulator's own
hourly score read (`sim_scores`). A cost that grows from day to day is work that follows the
history instead of the change. Then the report's audit, scoring and `run` sections, the
report's own seconds and the peak RSS.

    .venv/bin/python bench/sim_profile.py [--leads 10000] [--days 30] [--seed 7] [--top 6]

Not a test: it prints measured figures (docs/simulation.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from collections import defaultdict
from datetime import timedelta
from typing import Any

from app.core import logs
from app.core.clock import ManualClock
from app.db.simulate import SimulateRepository
from app.db.transport import PostgresTransport
from app.jobs import growth, runner
from app.simulate import engine, report
from app.simulate.engine import START, SimConfig, simulate

CALLS: defaultdict[str, list[float]] = defaultdict(lambda: [0, 0.0])
PARTS: defaultdict[str, float] = defaultdict(float)


def timed_part(name: str, inner: Any) -> Any:
    """`inner` (a coroutine function) with its seconds added to PARTS[name]."""

    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await inner(*args, **kwargs)
        finally:
            PARTS[name] += time.perf_counter() - started

    return timed


def time_parts() -> None:
    """Seconds per job run, per growth step, in the simulator's score read and the report."""
    run_job = runner.run_job

    async def job(ctx: Any, name: str, **kwargs: Any) -> Any:
        return await timed_part(name, run_job)(ctx, name, **kwargs)

    engine.run_job = job  # type: ignore[assignment]
    growth.STEPS = tuple((n, timed_part(f"growth.{n}", f)) for n, f in growth.STEPS)
    SimulateRepository.scores = timed_part(  # type: ignore[method-assign]
        "sim_scores", SimulateRepository.scores
    )
    engine.build_report = timed_part("report", report.build_report)  # type: ignore[assignment]


def time_calls() -> None:
    """Wrap PostgresTransport.call so every call adds to CALLS[function]."""
    inner = PostgresTransport.call

    async def timed(self: PostgresTransport, function: str, args: Any = None) -> Any:
        started = time.perf_counter()
        try:
            return await inner(self, function, args)
        finally:
            CALLS[function][0] += 1
            CALLS[function][1] += time.perf_counter() - started

    PostgresTransport.call = timed  # type: ignore[method-assign]


def print_days(top: int) -> None:
    """Wrap ManualClock.advance so crossing a virtual day prints the day's line."""
    advance, state = ManualClock.advance, {"day": 0, "at": time.perf_counter()}

    def advanced(self: ManualClock, delta: timedelta) -> None:
        advance(self, delta)
        day = int((self.now() - START).total_seconds() // 86400)
        if day == state["day"]:
            return
        now = time.perf_counter()
        costly = sorted(CALLS.items(), key=lambda kv: -kv[1][1])[:top]
        calls, seconds = sum(v[0] for v in CALLS.values()), sum(v[1] for v in CALLS.values())
        shown = ", ".join(f"{name} {n:.0f}x {s:.1f}s" for name, (n, s) in costly)
        print(f"day {day:>2}: {now - state['at']:6.1f} s wall, {calls:.0f} db calls "
              f"{seconds:5.1f} s; {shown}", flush=True)  # fmt: skip
        parts = ", ".join(f"{k} {v:.1f}" for k, v in sorted(PARTS.items(), key=lambda kv: -kv[1]))
        print(f"        s by part: {parts}", flush=True)
        CALLS.clear()
        PARTS.clear()
        state.update(day=day, at=now)

    ManualClock.advance = advanced  # type: ignore[method-assign]


def main(leads: int, days: float, seed: int, top: int) -> None:
    logs.configure("WARNING")
    time_calls()
    time_parts()
    print_days(top)
    out = asyncio.run(simulate(SimConfig(leads, days, seed))).as_dict()
    print(json.dumps({k: out[k] for k in ("audit", "scoring", "run")}, indent=1))
    top_calls = sorted(CALLS.items(), key=lambda kv: -kv[1][1])[:top]
    print(
        f"report: {PARTS['report']:.1f} s; calls since the last day line: "
        + ", ".join(f"{name} {n:.0f}x {s:.1f}s" for name, (n, s) in top_calls)
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS (this process): {peak:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--top", type=int, default=6)
    args = parser.parse_args()
    main(args.leads, args.days, args.seed, args.top)
