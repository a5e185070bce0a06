"""cProfile of campaign_manager runs (`app.campaigns.manager.run`) on a kept database.

    # a kept database: bench/history_reads.py keep --dir DIR --days 5 --stop 5
    .venv/bin/python bench/manager_run_profile.py --dsn "host=DIR user=postgres \
        dbname=sim_..." --now "2026-12-05 04:45+00" --runs 30 --top 25

Runs the manager's loop (not the reconcilers) at a fixed instant with the app's transport,
graph and dry-run providers: three runs to warm up (printing their counts), then `runs`
profiled; prints ms a run and the profile by cumulative time. The runs commit, as a job run
does: give an instant a run of the kept simulation already ran (the end of its last day), or
use a database you can spare.

Not a test: it prints measured figures (bench/RESULTS.md, "Simulator", stop 25 CMRUN).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import time
from datetime import datetime

from app.campaigns import manager
from app.core.clock import ManualClock
from app.core.settings import Settings
from app.db.transport import PostgresTransport
from app.jobs.bootstrap import Overrides, bootstrap
from app.jobs.campaign_manager import manager_deps


async def _profile(dsn: str, now: datetime, runs: int, top: int) -> None:
    transport = await PostgresTransport(dsn, max_size=2).open()
    try:
        overrides = Overrides(clock=ManualClock(now), transport=transport)
        async with bootstrap(Settings(_env_file=None), overrides, sends=False) as ctx:
            deps = manager_deps(ctx)
            for _ in range(3):
                print(await manager.run(deps, ctx.rng))
            profile = cProfile.Profile()
            started = time.perf_counter()
            profile.enable()
            for _ in range(runs):
                await manager.run(deps, ctx.rng)
            profile.disable()
            print(f"ms a run (profiled): {(time.perf_counter() - started) / runs * 1000:.1f}")
            pstats.Stats(profile).sort_stats("cumulative").print_stats(top)
    finally:
        await transport.close()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dsn", required=True)
    p.add_argument("--now", required=True)
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--top", type=int, default=25)
    a = p.parse_args()
    asyncio.run(_profile(a.dsn, datetime.fromisoformat(a.now), a.runs, a.top))


if __name__ == "__main__":
    main()
