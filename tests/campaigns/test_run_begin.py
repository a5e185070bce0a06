"""A drip run and a campaign_manager run start and make their first call in one round trip
(`drip_run_begin`, `manager_run_begin`: app/jobs/drip.py and app/jobs/campaign_manager.py
`begin`; issue 19: 8,640 drip and 2,880 manager runs a simulated month), record the run as
any other, skip without claiming or enrolling when another run holds the lease, still apply
a STOP spooled during an outage before drip claims, and fail as before when the first call
fails (its claims or enrolments undone)."""

from __future__ import annotations

import uuid
from collections import Counter

import psycopg

from app.core.clock import ManualClock
from app.db.transport import PostgresTransport
from app.jobs.bootstrap import Context
from app.jobs.runner import RunOutcome, run_job
from tests.appointments.helpers import execute, rows
from tests.campaigns.helpers import add_leads, load
from tests.guardian.test_guardian_reads import CountingTransport
from tests.spooled import MakeGraph, spooled_stop

FIRST, SECOND = "+12125550000", "+12125550001"  # add_leads' phones (New York)


def texts_to(dsn: str, phone: str) -> int:
    sql = "select count(*) as n from messages where channel = 'sms' and to_address = %s"
    return int(rows(dsn, sql, (phone,))[0]["n"])


def leased(dsn: str) -> int:
    """Enrolments still claimed by a drip worker."""
    sql = "select count(*) as n from enrollments where lease_owner is not null"
    return int(rows(dsn, sql)[0]["n"])


async def test_a_drip_run_starts_and_claims_in_one_call_and_is_recorded(
    ctx: Context, clock: ManualClock, transport: PostgresTransport, database_dsn: str,
    graph: MakeGraph,
) -> None:  # fmt: skip
    counting = CountingTransport(transport)
    jobs = await graph(counting)
    await load(ctx)
    await add_leads(ctx, 3)
    await ctx.repos.campaigns.enroll(clock.now())

    sent = await run_job(jobs, "drip")

    assert sent.counts == {"advance": 3}
    assert counting.calls["drip_run_begin"] == 1
    assert not {"start_job_run", "drip_begin", "claim_due_steps"} & set(counting.calls)
    assert [texts_to(database_dsn, f"+1212555{i:04d}") for i in range(3)] == [1, 1, 1]
    counting.calls.clear()
    quiet = await run_job(jobs, "drip")  # the email step waits two days
    assert quiet.counts == {}
    assert counting.calls == Counter(drip_run_begin=1, finish_job_run=1)
    runs = rows(database_dsn, "select id, status, counts from job_runs order by started_at")
    assert runs == [
        {"id": sent.run_id, "status": "succeeded", "counts": sent.counts},
        {"id": quiet.run_id, "status": "succeeded", "counts": {}},
    ]


async def test_an_overlapping_drip_run_is_skipped_and_claims_nothing(
    ctx: Context, clock: ManualClock, database_dsn: str
) -> None:
    await load(ctx)
    await add_leads(ctx, 2)
    await ctx.repos.campaigns.enroll(clock.now())
    other = uuid.uuid4()  # another container's run holds the lease
    held = await ctx.repos.job_runs.start("drip", other, "other:1", 90, clock.now())
    assert held.status == "running"

    outcome = await run_job(ctx, "drip")

    assert outcome.status == "skipped"
    assert leased(database_dsn) == 0 and texts_to(database_dsn, FIRST) == 0


async def test_a_stop_spooled_during_an_outage_is_applied_before_drip_texts_that_person(
    ctx: Context, clock: ManualClock, database_dsn: str, graph: MakeGraph
) -> None:
    jobs = await graph(ctx.transport)
    await load(ctx)
    await add_leads(ctx, 2)
    await run_job(jobs, "campaign_manager")  # both enrolled; the first text is due now
    assert ctx.spool is not None
    # texted STOP while we were down
    await ctx.spool.put(spooled_stop(FIRST, "SMstopdrip", clock.now()))

    outcome = await run_job(jobs, "drip")

    assert outcome.status == "succeeded" and outcome.counts["spool_applied"] == 1
    assert texts_to(database_dsn, FIRST) == 0
    assert texts_to(database_dsn, SECOND) == 1
    lead = rows(database_dsn, "select sms_opted_out_at from leads where phone = %s", (FIRST,))
    assert lead[0]["sms_opted_out_at"] is not None


async def test_a_drip_claim_that_fails_in_the_start_fails_the_run_and_claims_nothing(
    ctx: Context, clock: ManualClock, database_dsn: str, graph: MakeGraph
) -> None:
    """The begin's claim waits on a table a migration holds locked and gives up
    (lock_timeout): the start stays recorded, nothing stays claimed, the run calls drip_begin
    again itself, gives up the same way, and is recorded as failed with that error."""
    await load(ctx)
    await add_leads(ctx, 2)
    await ctx.repos.campaigns.enroll(clock.now())
    outcome, calls = await _locked_run(database_dsn, graph, "drip", "enrollments")

    assert outcome.status == "failed" and outcome.error is not None
    assert "lock timeout" in outcome.error
    assert calls == Counter(drip_run_begin=1, drip_begin=1, finish_job_run=1)
    runs = rows(database_dsn, "select id, status, error from job_runs")
    assert runs == [{"id": outcome.run_id, "status": "failed", "error": outcome.error}]
    assert leased(database_dsn) == 0 and texts_to(database_dsn, FIRST) == 0


async def test_a_manager_run_starts_and_opens_in_one_call_and_is_recorded(
    ctx: Context, transport: PostgresTransport, database_dsn: str, graph: MakeGraph
) -> None:
    counting = CountingTransport(transport)
    jobs = await graph(counting)
    await load(ctx)
    await add_leads(ctx, 3)

    outcome = await run_job(jobs, "campaign_manager")

    assert outcome.status == "succeeded" and outcome.counts["enrolled"] == 3
    assert counting.calls["manager_run_begin"] == 1
    assert not {"start_job_run", "manager_begin", "enroll_leads"} & set(counting.calls)
    runs = rows(database_dsn, "select id, status, counts from job_runs")
    assert runs == [{"id": outcome.run_id, "status": "succeeded", "counts": outcome.counts}]


async def test_an_overlapping_manager_run_is_skipped_and_enrolls_nothing(
    ctx: Context, clock: ManualClock, database_dsn: str
) -> None:
    await load(ctx)
    await add_leads(ctx, 2)
    held = await ctx.repos.job_runs.start(
        "campaign_manager", uuid.uuid4(), "other:1", 90, clock.now()
    )
    assert held.status == "running"

    outcome = await run_job(ctx, "campaign_manager")

    assert outcome.status == "skipped"
    assert rows(database_dsn, "select count(*) as n from enrollments")[0]["n"] == 0


async def test_a_manager_opening_that_fails_in_the_start_is_undone_and_fails_the_run(
    ctx: Context, database_dsn: str, graph: MakeGraph
) -> None:
    """The opening waits on the call queue a migration holds locked and gives up: its
    enrolments are undone with it, the run opens again itself, gives up the same way, and is
    recorded as failed with that error; nobody is enrolled."""
    await load(ctx)
    await add_leads(ctx, 2)
    outcome, calls = await _locked_run(database_dsn, graph, "campaign_manager", "calls")

    assert outcome.status == "failed" and outcome.error is not None
    assert "lock timeout" in outcome.error
    assert calls == Counter(manager_run_begin=1, manager_begin=1, finish_job_run=1)
    runs = rows(database_dsn, "select id, status, error from job_runs")
    assert runs == [{"id": outcome.run_id, "status": "failed", "error": outcome.error}]
    assert rows(database_dsn, "select count(*) as n from enrollments")[0]["n"] == 0


async def _locked_run(
    dsn: str, graph: MakeGraph, job: str, table: str
) -> tuple[RunOutcome, Counter[str]]:
    """Run `job` while another session holds `table` locked (lock_timeout 200 ms); its
    outcome and the functions it called."""
    dbname = rows(dsn, "select current_database() as d")[0]["d"]
    execute(dsn, f"alter database {dbname} set lock_timeout = '200ms'")
    locked = await PostgresTransport(dsn, max_size=2).open()
    try:
        counting = CountingTransport(locked)
        jobs = await graph(counting)
        with psycopg.connect(dsn) as migration:
            migration.execute(f"lock table {table} in access exclusive mode")
            outcome = await run_job(jobs, job, reraise=False)
    finally:
        await locked.close()
    return outcome, counting.calls
