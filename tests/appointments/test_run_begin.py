"""An appointments run starts and makes its tick's first read in one round trip
(`appointments_begin`, app/jobs/appointments.py `begin`; issue 19: 8,640 runs a simulated
month), records the run as any other, skips without reading when another run holds the
lease, and still applies a webhook spooled during an outage before it claims a reminder."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import psycopg

from app.core.clock import ManualClock
from app.db.transport import PostgresTransport
from app.jobs.bootstrap import Context
from app.jobs.runner import run_job
from tests.appointments.helpers import NY_PHONE, book, execute, keys, rows
from tests.guardian.test_guardian_reads import CountingTransport
from tests.spooled import MakeGraph, spooled_stop

FRIDAY_10_EST = datetime(2027, 3, 12, 15, 0, tzinfo=UTC)


async def test_a_run_starts_and_reads_in_one_call_and_is_recorded(
    ctx: Context,
    clock: ManualClock,
    transport: PostgresTransport,
    database_dsn: str,
    graph: MakeGraph,
) -> None:
    counting = CountingTransport(transport)
    jobs = await graph(counting)
    clock.set(FRIDAY_10_EST)
    a = await book(ctx, FRIDAY_10_EST + timedelta(days=2))
    booked = await run_job(jobs, "appointments")  # plans, then claims in its own call
    assert booked.counts["sent"] == 2 and len(keys(database_dsn, a.id)) == 2

    counting.calls.clear()
    clock.set(FRIDAY_10_EST + timedelta(days=1, minutes=2))  # the 24 h reminders are due
    due = await run_job(jobs, "appointments")

    assert due.counts == {**due.counts, "claimed": 2, "sent": 2, "planned": 0}
    assert counting.calls["appointments_begin"] == 1 and counting.calls["start_job_run"] == 0
    assert not {"appointments_next", "appointments_claim_due"} & set(counting.calls)
    counting.calls.clear()
    clock.advance(timedelta(minutes=5))
    quiet = await run_job(jobs, "appointments")
    assert counting.calls == Counter(appointments_begin=1, finish_job_run=1)
    runs = rows(database_dsn, "select id, status, counts from job_runs order by started_at")
    assert [r["status"] for r in runs] == ["succeeded"] * 3
    assert runs[-1] == {"id": quiet.run_id, "status": "succeeded", "counts": quiet.counts}


async def test_an_overlapping_run_is_skipped_and_claims_nothing(
    ctx: Context, clock: ManualClock, database_dsn: str
) -> None:
    clock.set(FRIDAY_10_EST)
    await book(ctx, FRIDAY_10_EST + timedelta(days=2))
    other = uuid.uuid4()  # another container's run holds the lease
    held = await ctx.repos.job_runs.start("appointments", other, "other:1", 90, clock.now())
    assert held.status == "running"

    outcome = await run_job(ctx, "appointments")

    assert outcome.status == "skipped"
    assert rows(database_dsn, "select count(*) as n from appointment_reminders")[0]["n"] == 0


async def test_a_stop_spooled_during_an_outage_is_applied_before_the_reminder_is_claimed(
    ctx: Context, clock: ManualClock, database_dsn: str, graph: MakeGraph
) -> None:
    jobs = await graph(ctx.transport)
    clock.set(FRIDAY_10_EST)
    a = await book(ctx, FRIDAY_10_EST + timedelta(days=2))
    await run_job(jobs, "appointments")  # the confirmation text and email
    clock.set(FRIDAY_10_EST + timedelta(days=1, minutes=2))  # the 24 h reminders are due
    assert ctx.spool is not None
    # the patient texted STOP while we were down
    await ctx.spool.put(spooled_stop(NY_PHONE, "SMstop24h", clock.now()))

    outcome = await run_job(jobs, "appointments")

    assert outcome.counts == {**outcome.counts, "spool_applied": 1, "claimed": 2, "sent": 1}
    assert outcome.counts["skipped"] == 1
    assert [k for k in keys(database_dsn, a.id) if "reminder_24h" in k] == [
        f"appt:{a.id}:v{a.version}:reminder_24h:email"
    ]


async def test_a_read_that_fails_in_the_start_fails_the_run_as_it_did_on_its_own(
    ctx: Context, clock: ManualClock, database_dsn: str, graph: MakeGraph
) -> None:
    """The begin's read waits on a table a migration holds locked and gives up (lock_timeout):
    the start stays recorded, the tick reads again in its own call, gives up the same way,
    and the run is recorded as failed with that error."""
    dbname = rows(database_dsn, "select current_database() as d")[0]["d"]
    execute(database_dsn, f"alter database {dbname} set lock_timeout = '200ms'")
    locked = await PostgresTransport(database_dsn, max_size=2).open()
    try:
        counting = CountingTransport(locked)
        jobs = await graph(counting)
        clock.set(FRIDAY_10_EST)
        with psycopg.connect(database_dsn) as migration:
            migration.execute("lock table appointments in access exclusive mode")
            outcome = await run_job(jobs, "appointments", reraise=False)
    finally:
        await locked.close()

    assert outcome.status == "failed" and outcome.error is not None
    assert "lock timeout" in outcome.error
    assert counting.calls == Counter(appointments_begin=1, appointments_next=1, finish_job_run=1)
    runs = rows(database_dsn, "select id, status, error from job_runs")
    assert runs == [{"id": outcome.run_id, "status": "failed", "error": outcome.error}]
