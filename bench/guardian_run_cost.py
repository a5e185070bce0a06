"""The fixed cost of a guardian run and of an appointments run: their reads, before and after.

A quiet guardian run (8,640 a simulated month) was start_job_run, db_ping, `guardian_reads`,
`alert_flush_reads` and finish_job_run; an appointments run is start_job_run,
`appointments_next`, finish_job_run. Migration 20261208120000_guardian_reads_plpgsql: the
reads inside `guardian_reads` (job_status, callback_gaps, new_error_fingerprints) and
`alert_flush_reads` (internal.alert_notifications_due, alert_pending_messages) were SQL
functions with `set search_path`, never inlined, so each query was parsed and planned at
every call; they are plpgsql now (parsed queries kept per connection; guardian_reads still
plans them for each call's values, `plan_cache_mode = force_custom_plan`, as callback_gaps
and new_error_fingerprints do on their own). And
`guardian_reads` returns the flush's reads too, so a run that changes no alert makes no
`alert_flush_reads` call ("quiet reads": the two calls before, the one after). The same
migration makes appointments_to_schedule (inside `appointments_next`) plpgsql.

The former functions are created as scratch copies in a schema `bench_before` (their text
as it was, `set search_path = bench_before, public`, so that each calls the other copies;
the three the app calls are public's `guardian_reads_before`, `alert_flush_reads_before`
and `appointments_next_before`), dropped at the end. Through the app's PostgresTransport,
taken in turn run by run (bench/job_run_cost.py's `interleaved`): each read before and
after, a quiet run's reads before (two calls) and after (one), two db_pings (the floor of a
round trip), and whole `run_job` runs of the guardian and of appointments (this tree's
code: after only).

    # an embedded Postgres migrated by this tree, 30,000 job_runs rows in place
    .venv/bin/python bench/guardian_run_cost.py [--runs 1000] [--rounds 3]
    # a kept simulated database (bench/history_reads.py keep), at a virtual instant just
    # after its last job runs (the runs it makes are written there)
    .venv/bin/python bench/guardian_run_cost.py --dsn "host=DIR user=postgres dbname=sim_..." \
        --now "2026-12-05 05:00+00"

Not a test: it prints measured figures (bench/RESULTS.md "Simulator").
"""

from __future__ import annotations

import argparse
import asyncio
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
from app.jobs import runner
from app.jobs.bootstrap import Context, Overrides, bootstrap

sys.path[:0] = [str(Path(__file__).parent)]
from job_run_cost import START, history_database, interleaved  # noqa: E402

# The functions as they were before 20261208120000 (text unchanged but the schema and the
# search_path of the copies, so that each resolves the other copies first, and the uuid
# pattern's literal continued on a second line, which SQL joins).
BEFORE = r"""
create or replace function job_status(p_now timestamptz default now(), p_jobs text[] default null)
returns table (
  job text, run_id uuid, status text, started_at timestamptz, finished_at timestamptz,
  counts jsonb, error text, last_success_at timestamptz, lease_holder text,
  lease_expires_at timestamptz
)
language sql stable set search_path = public as $$
  select j.job, r.id, r.status, r.started_at, r.finished_at, r.counts, r.error,
         (select s.finished_at from job_runs s
           where s.job = j.job and s.status = 'succeeded'
           order by s.started_at desc limit 1),
         l.holder, l.expires_at
    from unnest(coalesce(p_jobs, array(select distinct job from job_runs))) as j(job)
    join lateral (
      select * from job_runs r
       where r.job = j.job and r.status <> 'skipped'
       order by r.started_at desc, r.id limit 1
    ) r on true
    left join job_leases l on l.job = j.job and l.expires_at > p_now
   order by j.job;
$$;

create or replace function callback_gaps(p_from timestamptz, p_to timestamptz)
returns table (provider text, sends bigint, last_event_at timestamptz)
language sql stable set search_path = public as $$
  with sends as (
    select m.provider, count(*) as n from messages m
     where m.provider in ('twilio', 'resend') and m.sent_at >= p_from and m.sent_at < p_to
       and m.created_at >= p_from - interval '7 days'
     group by m.provider
    union all
    select 'vapi', count(*) from calls c
     where c.provider = 'vapi' and c.placed_at >= p_from and c.placed_at < p_to
  )
  select s.provider, sum(s.n)::bigint,
         (select max(w.received_at) from webhook_events w where w.provider = s.provider)
    from sends s
   where s.n > 0
   group by s.provider
   order by s.provider;
$$;

create or replace function new_error_fingerprints(
  p_window_seconds integer, p_min_count integer, p_lookback_seconds integer,
  p_now timestamptz default now()
) returns table (fingerprint text, occurrences integer, sample text)
language sql stable set search_path = public as $$
  with masked as (
    select l.at, l.message,
           regexp_replace(regexp_replace(regexp_replace(regexp_replace(l.message,
             'https?://[^[:space:]]+', '<url>', 'g'),
             '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-'
             '[0-9a-fA-F]{4}-[0-9a-fA-F]{12}', '<id>', 'g'),
             '\m[0-9a-fA-F]{8,}\M', '<hex>', 'g'),
             '[0-9]+', '<n>', 'g') as fingerprint
      from system_logs l
     where l.level in ('error', 'critical')
       and l.at > p_now - make_interval(secs => p_window_seconds + p_lookback_seconds)
       and l.at <= p_now
  )
  select m.fingerprint, count(*)::integer, min(m.message)
    from masked m
   where m.at > p_now - make_interval(secs => p_window_seconds)
   group by m.fingerprint
  having count(*) > p_min_count
     and not exists (select from masked o where o.fingerprint = m.fingerprint
                       and o.at <= p_now - make_interval(secs => p_window_seconds))
   order by count(*) desc;
$$;

create or replace function internal.alert_notifications_due(
  p_hold_seconds integer, p_repeat_warning_seconds integer, p_repeat_critical_seconds integer,
  p_escalate boolean, p_now timestamptz default now()
) returns table (reason text, alert jsonb)
language sql stable set search_path = public as $$
  with candidates as (
    select a.* from alerts a
     where a.severity <> 'info' and not internal.alert_is_silenced(a.key, p_now)
       and (a.status = 'firing'
            or (a.resolve_notified_at is null and cardinality(a.notified_channels) > 0))
  )
  select 'new', to_jsonb(c) from candidates c
   where c.status = 'firing' and c.last_notified_at is null
     and c.first_seen_at <= p_now - make_interval(secs => p_hold_seconds)
  union all
  select 'repeat', to_jsonb(c) from candidates c
   where c.status = 'firing' and c.acknowledged_at is null and c.last_notified_at is not null
     and c.last_notified_at <= p_now - make_interval(secs => case c.severity
           when 'critical' then p_repeat_critical_seconds else p_repeat_warning_seconds end)
  union all
  select 'escalate', to_jsonb(c) from candidates c
   where p_escalate and c.status = 'firing' and c.severity = 'critical'
     and c.acknowledged_at is null and c.escalated_at is null and c.escalate_due_at <= p_now
  union all
  select 'resolved', to_jsonb(c) from candidates c
   where c.status = 'resolved';
$$;

create or replace function alert_pending_messages(
  p_reclaim_after_seconds integer default 600, p_now timestamptz default now()
) returns table (message_id bigint, channel text)
language sql stable set search_path = public as $$
  select id, channel from messages
   where kind = 'alert' and created_at > p_now - interval '1 day'
     and (status = 'queued'
          or (status = 'sending'
              and claimed_at <= p_now - make_interval(secs => p_reclaim_after_seconds)))
   order by id;
$$;

create or replace function alert_flush_reads(
  p_hold_seconds integer, p_repeat_warning_seconds integer, p_repeat_critical_seconds integer,
  p_escalate boolean, p_reclaim_after_seconds integer default 600,
  p_now timestamptz default now()
) returns jsonb
language sql stable set search_path = public as $$
  select jsonb_build_object(
    'due', coalesce((select jsonb_agg(jsonb_build_object('reason', d.reason, 'alert', d.alert))
                       from internal.alert_notifications_due(
                              p_hold_seconds, p_repeat_warning_seconds,
                              p_repeat_critical_seconds, p_escalate, p_now) d), '[]'),
    'pending', coalesce((select jsonb_agg(to_jsonb(m) order by m.message_id)
                           from alert_pending_messages(p_reclaim_after_seconds, p_now) m),
                        '[]'));
$$;

create or replace function guardian_reads(
  p_now timestamptz, p_jobs text[], p_gaps_from timestamptz, p_gaps_to timestamptz,
  p_min_count integer, p_database_ms integer, p_window_seconds integer default 3600,
  p_lookback_seconds integer default 604800
) returns jsonb
-- planned per call as the sql function it was (a cached generic plan would keep the plan
-- of an early, nearly empty database: enroll_leads, migration 20261207101000)
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
                                                            p_lookback_seconds, p_now) f), '[]'));
end
$$;

create or replace function appointments_to_schedule(p_limit integer, p_now timestamptz)
returns setof jsonb
language sql stable set search_path = public as $$
  select internal.appointment_view(a.id) from appointments a
   where a.scheduled_version < a.version and a.status in ('booked', 'confirmed')
     and a.created_at <= p_now
   order by a.id limit p_limit;
$$;

create or replace function appointments_next(
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
JOBS = ["drip", "guardian", "appointments", "campaign_manager", "growth"]


def before_copies() -> str:
    """The scratch statements: the former functions in `bench_before` (the two the app calls
    as `alert_flush_reads_before` and `guardian_reads_before` in public: the transport calls
    unqualified names), each resolving the other copies first."""
    text = BEFORE.replace("create or replace function internal.", "create or replace function ")
    text = text.replace("create or replace function ", "create or replace function bench_before.")
    text = text.replace(
        "internal.alert_notifications_due(", "bench_before.alert_notifications_due("
    )
    text = text.replace("bench_before.alert_flush_reads(", "alert_flush_reads_before(")
    text = text.replace("bench_before.guardian_reads(", "guardian_reads_before(")
    text = text.replace("bench_before.appointments_next(", "appointments_next_before(")
    text = text.replace("search_path = public", "search_path = bench_before, public")
    return "create schema if not exists bench_before;\n" + text


def cases(ctx: Context, clock: ManualClock) -> dict[str, Callable[[], Awaitable[Any]]]:
    transport, now = ctx.transport, clock.now()
    reads = {
        "p_now": now,
        "p_jobs": JOBS,
        "p_gaps_from": now - timedelta(hours=3),
        "p_gaps_to": now - timedelta(minutes=30),
        "p_min_count": 20,
        "p_database_ms": 1,
    }
    flush = {**flush_params(ctx.alerts.policy, hold=False).args(), "p_now": now}
    appointments = {"p_holder": "bench", "p_limit": 200, "p_lease_seconds": 300, "p_now": now}

    def call(function: str, args: dict[str, Any]) -> Callable[[], Awaitable[Any]]:
        async def one() -> None:
            await transport.call(function, args)

        return one

    async def quiet_before() -> None:  # a quiet run's reads before: two calls
        await transport.call("guardian_reads_before", reads)
        await transport.call("alert_flush_reads_before", flush)

    async def pings() -> None:
        await ctx.repos.health.ping()
        await ctx.repos.health.ping()

    def run(job: str) -> Callable[[], Awaitable[Any]]:
        async def one() -> None:
            outcome = await runner.run_job(ctx, job, reraise=False)
            assert outcome.status == "succeeded", outcome
            clock.advance(timedelta(milliseconds=10))  # the jobs stay up

        return one

    return {"2 pings": pings,
            "quiet reads (2 calls, sql parts)": quiet_before,
            "quiet reads (guardian_reads + flush)": call("guardian_reads", {**reads, **flush}),
            "guardian_reads (sql parts)": call("guardian_reads_before", reads),
            "guardian_reads": call("guardian_reads", reads),
            "alert_flush_reads (sql)": call("alert_flush_reads_before", flush),
            "alert_flush_reads": call("alert_flush_reads", flush),
            "appointments_next (sql to_schedule)": call("appointments_next_before", appointments),
            "appointments_next": call("appointments_next", appointments),
            "run_job guardian": run("guardian"),
            "run_job appointments": run("appointments")}  # fmt: skip


async def measure(dsn: str, now: datetime, runs: int, rounds: int) -> None:
    clock = ManualClock(now)
    transport = await PostgresTransport(dsn, max_size=10).open()
    settings = Settings(_env_file=None, nightshift_env="development", nightshift_dry_run=True)
    try:
        async with bootstrap(settings, Overrides(clock=clock, transport=transport)) as ctx:
            chosen = cases(ctx, clock)
            for call in chosen.values():  # warm: the pool, each function's cached plans
                for _ in range(100):
                    await call()
            await interleaved(chosen, runs, rounds)
    finally:
        await transport.close()


def prepare(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(before_copies())


def drop(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("drop schema if exists bench_before cascade")
        conn.execute(
            "drop function if exists guardian_reads_before, alert_flush_reads_before,"
            " appointments_next_before"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1000, help="runs per case and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dsn", help="an existing database (a kept simulation's)")
    parser.add_argument("--now", help="its virtual instant (ISO), with --dsn")
    args = parser.parse_args()
    logs.configure("ERROR")
    if args.dsn:
        prepare(args.dsn)
        try:
            asyncio.run(measure(args.dsn, datetime.fromisoformat(args.now), args.runs, args.rounds))
        finally:
            drop(args.dsn)
        return
    with history_database("nightshift-guardian-run-") as (dsn, _):
        prepare(dsn)
        asyncio.run(measure(dsn, START + timedelta(minutes=1), args.runs, args.rounds))


if __name__ == "__main__":
    main()
