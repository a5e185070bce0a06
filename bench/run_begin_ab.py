"""Whole quiet runs of the guardian, appointments, drip and campaign_manager through the
runner, with and without their begin functions (app/jobs/runner.py `Begin`), taken in turn
run by run; with --busy, whole busy runs of drip and campaign_manager on two copies of one
database, one with and one without.

- `appointments`: start_job_run, appointments_next, finish_job_run (three round trips) ->
  appointments_begin (start and read in one), finish_job_run;
- `guardian`: start_job_run, db_ping, guardian_reads, finish_job_run -> the start timed as
  the database probe (no db_ping), guardian_reads, finish_job_run;
- `drip`: start_job_run, drip_begin, ... -> drip_run_begin (start and first claim), ...;
- `campaign_manager`: start_job_run, manager_begin, ... -> manager_run_begin, ....

Each case is `run_job(ctx, job)` of the production path (app.jobs.runner), the webhook spool
a DirectorySpool in a temporary directory (empty, as in the simulator), the job's registry
entry with its `begin` or with `begin=None` (the former path); the virtual clock moves 10 ms
after each run (runs at one instant would tie on started_at, and job_status would sort the
tied rows: a cost the simulator never pays; minutes would make the other jobs late and the
guardian's runs not quiet). The counts of the two paths are
checked to be the same before timing (database_ms aside: a measured latency). Printed: wall
and this process's CPU, ms a run, per case and round, the cases in a new random order at
each turn (bench/job_run_cost.interleaved), and the calls each run made.

    # a kept simulated database (bench/history_reads.py keep) with this tree's migrations
    # (writes job_runs, health_checks rows there, as the runs do: use a copy)
    .venv/bin/python bench/run_begin_ab.py --dsn "host=DIR user=postgres dbname=..." \
        --now "2026-12-28 05:00+00" [--runs 300] [--rounds 3]
    # busy runs: two copies of one kept database (A runs without begin, B with), the clock
    # moving 5 minutes a tick from --now: drip every tick, campaign_manager every third, the
    # two sides of each tick in random order; their counts checked equal tick by tick
    .venv/bin/python bench/run_begin_ab.py --dsn "...dbname=A" --busy "...dbname=B" \
        --now "2026-12-28 13:00+00" --ticks 24
    # or an embedded Postgres migrated by this tree, 30,000 job_runs rows in place
    .venv/bin/python bench/run_begin_ab.py

Not a test: it prints measured figures (bench/RESULTS.md "Simulator").
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from app.core import logs
from app.core.clock import ManualClock
from app.core.settings import Settings
from app.db.transport import PostgresTransport, Row
from app.jobs import get_job, runner
from app.jobs.bootstrap import Context, Overrides, bootstrap
from app.providers.spool import DirectorySpool

sys.path[:0] = [str(Path(__file__).parent)]
from job_run_cost import START, history_database, interleaved  # noqa: E402

JOBS = ("appointments", "guardian", "drip", "campaign_manager")
BUSY_JOBS = ("drip", "campaign_manager")


class Counting:
    """The transport, counting the functions called through it."""

    def __init__(self, inner: PostgresTransport) -> None:
        self.inner, self.calls, self.name = inner, Counter[str](), inner.name

    async def call(self, function: str, args: Mapping[str, Any] | None = None) -> list[Row]:
        self.calls[function] += 1
        return await self.inner.call(function, args)

    async def close(self) -> None:
        return None


def choose(begin: bool) -> None:
    """The runner sees each job with its registry `begin` (True) or without (the former)."""
    runner.get_job = (  # type: ignore[attr-defined]
        get_job if begin else lambda name: dataclasses.replace(get_job(name), begin=None)
    )


def cases(ctx: Context, clock: ManualClock) -> dict[str, Callable[[], Awaitable[Any]]]:
    def case(job: str, begin: bool) -> Callable[[], Awaitable[Any]]:
        async def one() -> dict[str, Any]:
            choose(begin)
            outcome = await runner.run_job(ctx, job)
            clock.advance(timedelta(milliseconds=10))
            assert outcome.status == "succeeded", outcome
            return dict(outcome.counts)

        return one

    return {
        f"{job} {'begin' if begin else 'before'}": case(job, begin)
        for job in JOBS
        for begin in (False, True)
    }


async def check(ctx: Context, counting: Counting, chosen: Mapping[str, Any]) -> None:
    """The same counts on both paths (after one run of each: the first may still change
    something, e.g. the guardian's first flush); the calls each made."""
    for job in JOBS:
        counts = {}
        for name in (f"{job} before", f"{job} begin") * 2:
            counting.calls.clear()
            counts[name] = await chosen[name]()
            counts[name].pop("database_ms", None)
            print(f"{name:20} calls: {dict(counting.calls)}")
        assert counts[f"{job} before"] == counts[f"{job} begin"], counts


async def measure(dsn: str, now: datetime, runs: int, rounds: int) -> None:
    clock = ManualClock(now)
    transport = await PostgresTransport(dsn, max_size=10).open()
    counting = Counting(transport)
    settings = Settings(_env_file=None, nightshift_env="development", nightshift_dry_run=True)
    with tempfile.TemporaryDirectory(prefix="nightshift-run-begin-") as tmp:
        spool = DirectorySpool(Path(tmp) / "spool")
        overrides = Overrides(clock=clock, transport=counting, spool=spool)
        try:
            async with bootstrap(settings, overrides) as ctx:
                chosen = cases(ctx, clock)
                await check(ctx, counting, chosen)
                for call in chosen.values():  # warm: the pool, each function's cached plans
                    for _ in range(50):
                        await call()
                await interleaved(chosen, runs, rounds, random.Random(27))
        finally:
            choose(True)
            await transport.close()


async def busy(dsn_a: str, dsn_b: str, now: datetime, ticks: int) -> None:
    """Ticks of drip (each) and campaign_manager (every third) on copy A without their begin
    and on copy B with it, each side's clock at the same instant; the sides of a tick in
    random order. Prints the ms a run of each job and side (the first three ticks untimed:
    they warm each side's pool and plans), and checks equal counts."""
    settings = Settings(_env_file=None, nightshift_env="development", nightshift_dry_run=True)
    rng = random.Random(27)
    wall: dict[str, float] = {}
    runs: Counter[str] = Counter()
    with tempfile.TemporaryDirectory(prefix="nightshift-run-begin-") as tmp:
        async with AsyncExitStack() as stack:
            sides = {}
            for side, dsn in (("before", dsn_a), ("begin", dsn_b)):
                clock = ManualClock(now)
                transport = await PostgresTransport(dsn, max_size=10).open()
                stack.push_async_callback(transport.close)
                spool = DirectorySpool(Path(tmp) / side)
                overrides = Overrides(clock=clock, transport=transport, spool=spool,
                                      rng=np.random.default_rng(7))  # fmt: skip
                ctx = await stack.enter_async_context(bootstrap(settings, overrides))
                sides[side] = (ctx, clock)
            try:
                for tick in range(ticks):
                    jobs = BUSY_JOBS if tick % 3 == 0 else BUSY_JOBS[:1]
                    for job in jobs:
                        counts = {}
                        turn = list(sides)
                        rng.shuffle(turn)
                        for side in turn:
                            ctx, clock = sides[side]
                            choose(side == "begin")
                            started = time.perf_counter()
                            outcome = await runner.run_job(ctx, job)
                            if tick >= 3:  # the first runs warm each side's connections
                                seconds = time.perf_counter() - started
                                case = f"{job} {side}"
                                wall[case] = wall.get(case, 0.0) + seconds
                                runs[case] += 1
                            assert outcome.status == "succeeded", outcome
                            counts[side] = dict(outcome.counts)
                        assert counts["before"] == counts["begin"], (tick, job, counts)
                        print(f"tick {tick:3} {job:17} {counts['begin']}")
                    for _, clock in sides.values():
                        clock.advance(timedelta(minutes=5))
            finally:
                choose(True)
    for job in BUSY_JOBS:
        a, b = (1000 * wall[f"{job} {s}"] / runs[f"{job} {s}"] for s in ("before", "begin"))
        print(f"{job:17} {runs[f'{job} begin']} runs a side: before {a:.2f} ms, begin {b:.2f} "
              f"ms a run (begin/before {b / a:.3f}); same counts every tick")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=300, help="runs per case and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dsn", help="an existing database (a kept simulation's copy)")
    parser.add_argument("--now", help="its virtual instant (ISO), with --dsn")
    parser.add_argument("--busy", help="a second copy of --dsn's database: busy runs")
    parser.add_argument("--ticks", type=int, default=24, help="5-minute ticks, with --busy")
    args = parser.parse_args()
    logs.configure("ERROR")
    if args.busy:
        asyncio.run(busy(args.dsn, args.busy, datetime.fromisoformat(args.now), args.ticks))
        return
    if args.dsn:
        asyncio.run(measure(args.dsn, datetime.fromisoformat(args.now), args.runs, args.rounds))
        return
    with history_database("nightshift-run-begin-") as (dsn, _):
        asyncio.run(measure(dsn, START + timedelta(minutes=1), args.runs, args.rounds))


if __name__ == "__main__":
    main()
