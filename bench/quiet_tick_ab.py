"""A quiet guardian run's and a quiet appointments run's reads, before and after migration
20261209150000 (the same calls, taken in turn call by call).

- `guardian_reads` planned every read it makes at every call (`plan_cache_mode =
  force_custom_plan` on the function, inherited by every read inside); now only
  callback_gaps and new_error_fingerprints do (their own setting), the other reads are
  planned by the plan cache as when they are called alone;
- `appointments_next` called appointments_claim_due (two updates and a claim, each planned)
  at every tick with nothing to plan; now only when a reminder is due.

The former functions are created as scratch copies (`guardian_reads_before`,
`appointments_next_before`: their text as it was), checked to return what the migrated ones
return (but the probe row's id and time), and dropped at the end. Printed, for each case:
- through the app's PostgresTransport, the cases in a new random order at each turn: wall
  and this process's CPU, ms a call (`2 pings`: two db_ping calls, the floor of a round trip);
- on one connection, in the same way: the time its server backend spent on a CPU,
  us a call (/proc/<pid>/schedstat: the server must run on this machine), which the load of
  a shared machine moves far less than the wall.

    # an embedded Postgres migrated by this tree, 30,000 job_runs rows in place
    .venv/bin/python bench/quiet_tick_ab.py [--runs 1000] [--rounds 3]
    # a kept simulated database (bench/history_reads.py keep) with this tree's migrations,
    # at a virtual instant just after its last runs (each guardian_reads call writes its
    # probe's health_checks row there, as a run does)
    .venv/bin/python bench/quiet_tick_ab.py --dsn "host=DIR user=postgres dbname=..." \
        --now "2026-12-28 05:00+00"

Not a test: it prints measured figures (bench/RESULTS.md "Simulator").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from app.alerts import flush_params
from app.core import logs
from app.core.clock import ManualClock
from app.core.settings import Settings
from app.db.transport import PostgresTransport
from app.jobs.bootstrap import Context, Overrides, bootstrap

sys.path[:0] = [str(Path(__file__).parent)]
from job_run_cost import START, history_database, interleaved  # noqa: E402

BEFORE = r"""
create or replace function guardian_reads_before(
  p_now timestamptz, p_jobs text[], p_gaps_from timestamptz, p_gaps_to timestamptz,
  p_min_count integer, p_database_ms integer, p_window_seconds integer default 3600,
  p_lookback_seconds integer default 604800, p_hold_seconds integer default null,
  p_repeat_warning_seconds integer default null, p_repeat_critical_seconds integer default null,
  p_escalate boolean default null, p_reclaim_after_seconds integer default 600
) returns jsonb
language plpgsql set search_path = public set plan_cache_mode = force_custom_plan as $$
declare
  v_probe jsonb;
begin
  select to_jsonb(h) into v_probe
    from record_health_check('database', true, p_database_ms, null, null, p_now) h;
  return jsonb_build_object(
    'database', v_probe,
    'firing', coalesce((select jsonb_agg(a.key) from alerts a where a.status = 'firing'), '[]'),
    'jobs', coalesce((select jsonb_agg(to_jsonb(j)) from job_status(p_now, p_jobs) j), '[]'),
    'gaps', coalesce((select jsonb_agg(to_jsonb(g))
                        from callback_gaps(p_gaps_from, p_gaps_to) g), '[]'),
    'fingerprints', coalesce((select jsonb_agg(to_jsonb(f))
                                from new_error_fingerprints(p_window_seconds, p_min_count,
                                                            p_lookback_seconds, p_now) f), '[]'),
    'flush', case when p_escalate is not null then
               alert_flush_reads(p_hold_seconds, p_repeat_warning_seconds,
                                 p_repeat_critical_seconds, p_escalate,
                                 p_reclaim_after_seconds, p_now) end);
end
$$;

create or replace function appointments_next_before(
  p_holder text, p_limit integer, p_lease_seconds integer, p_now timestamptz
) returns jsonb
language plpgsql set search_path = public as $$
declare
  v_pending jsonb;
begin
  select coalesce(jsonb_agg(t.x), '[]') into v_pending
    from appointments_to_schedule(p_limit, p_now) as t(x);
  if jsonb_array_length(v_pending) > 0 then
    return jsonb_build_object('pending', v_pending, 'due', null);
  end if;
  return jsonb_build_object('pending', v_pending, 'due', coalesce(
    (select jsonb_agg(jsonb_build_object('reminder', d.reminder, 'appointment', d.appointment))
       from appointments_claim_due(p_holder, p_limit, p_lease_seconds, p_now) d), '[]'));
end
$$;
"""
DROP = "drop function if exists guardian_reads_before, appointments_next_before"
JOBS = ["drip", "guardian", "appointments", "campaign_manager", "growth"]


def call_args(ctx: Context, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """A quiet guardian run's `guardian_reads` arguments (the flush's included, as
    app/guardian/loop.py sends them) and an appointments tick's, at `now`."""
    reads = {
        "p_now": now,
        "p_jobs": JOBS,
        "p_gaps_from": now - timedelta(hours=3),
        "p_gaps_to": now - timedelta(minutes=15),
        "p_min_count": 20,
        "p_database_ms": 1,
        **flush_params(ctx.alerts.policy, hold=False).args(),
    }
    appointments = {"p_holder": "bench", "p_limit": 200, "p_lease_seconds": 300, "p_now": now}
    return reads, appointments


async def same_answers(ctx: Context, now: datetime) -> None:
    """Each migrated function returns what its former text returns (the probe's row aside:
    each call writes its own)."""
    reads, appointments = call_args(ctx, now)
    answers = {}
    for function, args in (("guardian_reads", reads), ("appointments_next", appointments)):
        for name in (function, f"{function}_before"):
            [row] = await ctx.transport.call(name, args)
            value = dict(row[name])
            value.pop("database", None)
            answers[name] = value
        assert answers[function] == answers[f"{function}_before"], (function, answers)
    print(f"same answers: guardian_reads {sorted(answers['guardian_reads'])}, "
          f"appointments_next {answers['appointments_next']}")  # fmt: skip


def cases(ctx: Context, now: datetime) -> dict[str, Callable[[], Awaitable[Any]]]:
    reads, appointments = call_args(ctx, now)

    def call(function: str, args: dict[str, Any]) -> Callable[[], Awaitable[Any]]:
        async def one() -> None:
            await ctx.transport.call(function, args)

        return one

    async def pings() -> None:
        await ctx.repos.health.ping()
        await ctx.repos.health.ping()

    return {"2 pings": pings,
            "guardian_reads before": call("guardian_reads_before", reads),
            "guardian_reads": call("guardian_reads", reads),
            "appointments_next before": call("appointments_next_before", appointments),
            "appointments_next": call("appointments_next", appointments)}  # fmt: skip


def on_cpu_ns(pid: int) -> int:
    """Nanoseconds process `pid` has run on a CPU (the scheduler's own account)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


SQL_CASES = {  # the same calls as `cases`, sent as SQL on one connection
    "db_ping": "select * from db_ping()",
    "guardian_reads before": "select * from guardian_reads_before({})",
    "guardian_reads": "select * from guardian_reads({})",
    "appointments_next before": "select * from appointments_next_before({})",
    "appointments_next": "select * from appointments_next({})",
}


def backend_cpu(dsn: str, reads: dict[str, Any], appointments: dict[str, Any], runs: int,
                rounds: int) -> None:  # fmt: skip
    """The server's CPU a call of each case, on one connection, taken in turn call by call."""
    queries = {}
    for name, text in SQL_CASES.items():
        args = appointments if "appointments" in name else reads if "guardian" in name else {}
        named = ", ".join(f"{k} => %({k})s" for k in args)
        queries[name] = (text.format(named), {**args, "p_jobs": list(args.get("p_jobs", []))})
    with psycopg.connect(dsn, autocommit=True) as conn:
        pid = conn.execute("select pg_backend_pid()").fetchone()[0]  # type: ignore[index]
        for query, args in queries.values():
            for _ in range(30):
                conn.execute(query.encode(), args).fetchall()
        print(f"one connection, server backend CPU us a call, {rounds} rounds of {runs}:")
        names, rng = list(queries), random.Random(19)
        for n in range(rounds):
            spent = dict.fromkeys(queries, 0)
            for _ in range(runs):
                rng.shuffle(names)
                for name in names:
                    query, args = queries[name]
                    before = on_cpu_ns(pid)
                    conn.execute(query.encode(), args).fetchall()
                    spent[name] += on_cpu_ns(pid) - before
            line = "  ".join(f"{k} {spent[k] / runs / 1000:.0f}" for k in queries)
            print(f"round {n}: {line}  (load {os.getloadavg()[0]:.2f})", flush=True)


async def measure(dsn: str, now: datetime, runs: int, rounds: int) -> None:
    transport = await PostgresTransport(dsn, max_size=10).open()
    settings = Settings(_env_file=None, nightshift_env="development", nightshift_dry_run=True)
    overrides = Overrides(clock=ManualClock(now), transport=transport)
    try:
        async with bootstrap(settings, overrides) as ctx:
            await same_answers(ctx, now)
            chosen = cases(ctx, now)
            for call in chosen.values():  # warm: the pool, each function's cached plans
                for _ in range(100):
                    await call()
            await interleaved(chosen, runs, rounds, random.Random(19))
            backend_cpu(dsn, *call_args(ctx, now), runs, rounds)
    finally:
        await transport.close()


def with_copies(dsn: str, now: datetime, runs: int, rounds: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(BEFORE.encode())
    try:
        asyncio.run(measure(dsn, now, runs, rounds))
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(DROP)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1000, help="calls per case and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dsn", help="an existing database (a kept simulation's)")
    parser.add_argument("--now", help="its virtual instant (ISO), with --dsn")
    args = parser.parse_args()
    logs.configure("ERROR")
    if args.dsn:
        with_copies(args.dsn, datetime.fromisoformat(args.now), args.runs, args.rounds)
        return
    with history_database("nightshift-quiet-tick-") as (dsn, _):
        with_copies(dsn, START + timedelta(minutes=1), args.runs, args.rounds)


if __name__ == "__main__":
    main()
