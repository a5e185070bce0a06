"""The fixed cost of a job run: `start_job_run` + `finish_job_run` through the production path.

Every job run, even one with nothing to do, takes its lease and records itself
(`start_job_run`) and records how it ended (`finish_job_run`): 984 runs a virtual day in the
simulator, two round trips and two committed transactions each. This measures, on an embedded
Postgres migrated by this tree, through the app's own PostgresTransport (async pool, one call
per round trip) and JobRunRepository, with a month's worth of job_runs rows (30,000) in place
and a virtual clock moving 5 minutes a run, in alternating rounds:

- `2 pings`: two `db_ping()` calls, the floor of any two round trips here;
- `pair (row back)`: start + the finish as it was before stop 24, returning the finished
  job_runs row, parsed into the former model (a scratch copy, `finish_job_run_row`);
- `pair`: start + `finish_job_run` as migrated (returns nothing);
- `run_job, no-op body`: the whole wrapper (app/jobs/runner.py) around a body that does
  nothing: the lease keeper, the spool drain check, the log context;
- `spool check (stats)` / `spool check (1 listing)`: an empty spool's check as it was before
  stop 24 IDLE (`stats()`: the pending and aside listings) and as it is (`pending(1)`);
- `drip empty (3 calls)` / `drip empty (drip_begin)`: the drip body with nothing due, as it
  was (release_orphan_claims, a scratch copy here; claim_due_steps; webhook_due_rescue_checks)
  and as it is (one drip_begin), on a database with no campaign.

For each: wall ms a run, this process's CPU ms and the Postgres backends' CPU ms (/proc).
`synchronous_commit = off` as in the simulator's database (app/simulate/engine.py).

    .venv/bin/python bench/job_run_cost.py [--runs 2000] [--rounds 3]

Then the same cases taken in turn run by run (the drift of a shared machine falls on all
alike): wall and this process's CPU per run by case.

Not a test: it prints measured figures (bench/RESULTS.md "Simulator").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from psycopg import conninfo
from pydantic import Field

from app.campaigns import drip
from app.core import logs
from app.core.clock import ManualClock
from app.core.settings import Settings
from app.db.embedded import start_embedded
from app.db.migrate import migrate
from app.db.models import Model, RunStatus
from app.db.transport import PostgresTransport
from app.jobs import runner
from app.jobs.bootstrap import Context, Overrides, bootstrap
from app.jobs.drip import drip_deps

sys.path[:0] = [str(Path(__file__).parent)]
from webhook_ingest import cpu_seconds, postgres_pids  # noqa: E402


class JobRun(Model):
    """The finished row `finish_job_run` returned until stop 24 (app.db.models had it; no
    caller read it): parsed by the "pair (row back)" case, as the repository did."""

    id: UUID
    job: str
    status: RunStatus
    holder: str | None = None
    started_at: datetime
    finished_at: datetime | None = None
    counts: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    modal_call_id: str | None = None


START = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
HISTORY = """
insert into job_runs (id, job, status, holder, started_at, finished_at)
select gen_random_uuid(),
       (array['drip','guardian','appointments','campaign_manager','growth'])[1 + i %% 5],
       'succeeded', 'bench', %(at)s - make_interval(mins => i), %(at)s - make_interval(mins => i)
  from generate_series(1, 30000) i
"""
# release_orphan_claims as it was before 20261207122000 (public, called by the app)
RELEASE_COPY = """
create function release_orphan_claims_copy(p_now timestamptz) returns integer
language sql as $$ select internal.release_orphan_claims(p_now) $$;
"""
# finish_job_run as it was before 20261207113000 (returning the row), for the comparison
FINISH_ROW = """
create function finish_job_run_row(
  p_run_id uuid, p_status text, p_counts jsonb default '{}', p_error text default null,
  p_now timestamptz default now()
) returns setof job_runs
language plpgsql set search_path = public as $$
declare
  v_run job_runs;
begin
  update job_runs
     set status = p_status, finished_at = p_now, counts = coalesce(p_counts, '{}'), error = p_error
   where id = p_run_id
  returning * into v_run;
  delete from job_leases where job = v_run.job and run_id = p_run_id;
  return next v_run;
end
$$;
"""


@dataclass(frozen=True)
class NoOpJob:
    """A registry job's shape (name, body, no begin) whose body does nothing."""

    name: str

    def body(self) -> Callable[[Context], Awaitable[dict[str, Any]]]:
        async def nothing(context: Context) -> dict[str, Any]:
            return {}

        return nothing

    def beginner(self) -> None:
        return None  # the runner's own start (app/jobs/runner.py)


def backend_cpu(postmaster: int) -> float:
    """CPU seconds of the postmaster and its children so far (the pooled backends among
    them): webhook_ingest.py's reading of /proc."""
    return cpu_seconds(postgres_pids(postmaster))


def cases(ctx: Context, clock: ManualClock) -> dict[str, Callable[[], Awaitable[Any]]]:
    runs, transport = ctx.repos.job_runs, ctx.transport

    async def pings() -> None:
        await ctx.repos.health.ping()
        await ctx.repos.health.ping()

    async def pair_row() -> None:
        run_id = uuid.uuid4()
        await runs.start("drip", run_id, ctx.holder, 90, clock.now())
        rows = await transport.call("finish_job_run_row", {
            "p_run_id": run_id, "p_status": "succeeded", "p_counts": {"claimed": 0},
            "p_error": None, "p_now": clock.now()})  # fmt: skip
        JobRun.model_validate(rows[0])
        clock.advance(timedelta(minutes=5))

    async def pair() -> None:
        run_id = uuid.uuid4()
        await runs.start("guardian", run_id, ctx.holder, 90, clock.now())
        await runs.finish(run_id, "succeeded", clock.now(), counts={"claimed": 0})
        clock.advance(timedelta(minutes=5))

    async def run_job() -> None:
        await runner.run_job(ctx, "appointments", reraise=False)
        clock.advance(timedelta(minutes=5))

    spool = ctx.spool
    assert spool is not None

    async def spool_stats() -> None:
        assert (await spool.stats()).pending == 0

    async def spool_pending() -> None:
        assert not await spool.pending(1)

    async def drip_before() -> None:
        await transport.call("release_orphan_claims_copy", {"p_now": clock.now()})
        assert await drip.run(drip_deps(ctx)) == {}

    async def drip_after() -> None:
        assert await drip.run(drip_deps(ctx, release_orphans=True)) == {}

    return {"2 pings": pings, "pair (row back)": pair_row, "pair": pair,
            "run_job, no-op body": run_job, "spool check (stats)": spool_stats,
            "spool check (1 listing)": spool_pending, "drip empty (3 calls)": drip_before,
            "drip empty (drip_begin)": drip_after}  # fmt: skip


async def measure(dsn: str, postmaster: int, runs: int, rounds: int) -> None:
    clock = ManualClock(START)
    transport = await PostgresTransport(dsn, max_size=10).open()
    settings = Settings(_env_file=None, nightshift_env="development", nightshift_dry_run=True)

    runner.get_job = NoOpJob  # type: ignore[attr-defined,assignment]  # the wrapper only
    try:
        async with bootstrap(settings, Overrides(clock=clock, transport=transport)) as ctx:
            chosen = cases(ctx, clock)
            for call in chosen.values():  # warm: the pool, each function's cached plans
                for _ in range(200):
                    await call()
            seen: dict[str, list[tuple[float, float, float]]] = {name: [] for name in chosen}
            for n in range(rounds):
                order = list(chosen.items()) if n % 2 == 0 else list(chosen.items())[::-1]
                for name, call in order:
                    wall, cpu, pg = (
                        time.perf_counter(),
                        time.process_time(),
                        backend_cpu(postmaster),
                    )
                    for _ in range(runs):
                        await call()
                    seen[name].append(((time.perf_counter() - wall) * 1000 / runs,
                                       (time.process_time() - cpu) * 1000 / runs,
                                       (backend_cpu(postmaster) - pg) * 1000 / runs))  # fmt: skip
                    print(f"round {n}  {name:20} wall {seen[name][-1][0]:.3f} ms  this process "
                          f"{seen[name][-1][1]:.3f} ms  postgres {seen[name][-1][2]:.3f} ms  "
                          f"(load {os.getloadavg()[0]:.2f})", flush=True)  # fmt: skip
            print(f"medians of {rounds} rounds of {runs} runs:")
            for name, values in seen.items():
                wall, cpu, pg = (statistics.median(v[i] for v in values) for i in range(3))
                print(f"  {name:20} wall {wall:.3f} ms  this process {cpu:.3f} ms  "
                      f"postgres {pg:.3f} ms")  # fmt: skip
            await interleaved(chosen, runs, rounds)
    finally:
        await transport.close()


async def interleaved(
    chosen: dict[str, Callable[[], Awaitable[Any]]],
    runs: int,
    rounds: int,
    rng: random.Random | None = None,
) -> None:
    """The cases taken in turn run by run (the machine's drift falls on all alike): wall and
    this process's CPU per run, summed by case (Postgres's CPU cannot be split per call).
    Without `rng` each turn rotates the cases; with it each turn is a new random order (a
    fixed rotation makes a case always follow the same one and pay for its background work,
    the WAL writer woken by a write: bench/quiet_tick_ab.py)."""
    if rng is None:
        print(f"interleaved run by run, {rounds} rounds of {runs} runs each case:")
    else:
        print(f"through the transport, shuffled turns, {rounds} rounds of {runs} calls a case:")
    names = list(chosen)
    for n in range(rounds):
        wall, cpu = dict.fromkeys(chosen, 0.0), dict.fromkeys(chosen, 0.0)
        for i in range(runs):
            if rng is None:
                turn = names[i % len(names) :] + names[: i % len(names)]
            else:
                rng.shuffle(names)
                turn = names
            for name in turn:
                w, c = time.perf_counter(), time.process_time()
                await chosen[name]()
                wall[name] += time.perf_counter() - w
                cpu[name] += time.process_time() - c
        line = "  ".join(f"{k} {1000 * wall[k] / runs:.3f}/{1000 * cpu[k] / runs:.3f}"
                         for k in chosen)  # fmt: skip
        print(f"round {n} (wall/this process ms): {line}  (load {os.getloadavg()[0]:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=2000, help="runs per case and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logs.configure("ERROR")
    with history_database("nightshift-job-run-", FINISH_ROW, RELEASE_COPY) as (dsn, pid):
        asyncio.run(measure(dsn, pid, args.runs, args.rounds))


@contextmanager
def history_database(prefix: str, *extra: str) -> Iterator[tuple[str, int]]:
    """An embedded server in a temporary directory with a migrated database `bench`
    (synchronous_commit off) holding HISTORY's job runs and the `extra` statements; yields
    its dsn and the server's pid; removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        server = start_embedded(Path(tmp) / "pg")
        try:
            with psycopg.connect(server.get_uri(), autocommit=True) as conn:
                conn.execute("create database bench")
                conn.execute("alter database bench set synchronous_commit = off")
            dsn = conninfo.make_conninfo(server.get_uri(), dbname="bench")
            migrate(dsn)
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(HISTORY, {"at": START})
                for statement in extra:
                    conn.execute(statement.encode())
                conn.execute("analyze job_runs")
            yield dsn, server.get_pid()
        finally:
            server.cleanup()


if __name__ == "__main__":
    main()
