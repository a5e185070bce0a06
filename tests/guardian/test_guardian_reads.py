"""A guardian run reads what its checks need in one round trip (`guardian_reads`, issue 19:
8,640 guardian runs in a simulated month), and the checks decide as they did on their own
reads: a late job, a new error fingerprint and a silent provider still raise their alerts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from app.core.clock import ManualClock
from app.db.transport import PostgresTransport, Row
from app.guardian.loop import guard
from app.jobs import JOBS
from app.jobs.guardian import guardian_deps
from app.jobs.runner import run_job
from tests.alerts.support import EMAIL, MakeCtx, query, sent_to
from tests.guardian.test_heartbeats import RecordingLauncher

SEPARATE_READS = {"job_status", "callback_gaps", "new_error_fingerprints", "alerts_list"}


class CountingTransport:
    """The test database's transport, counting the functions called through it."""

    name = "postgres"

    def __init__(self, inner: PostgresTransport) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    async def call(self, function: str, args: Mapping[str, Any] | None = None) -> list[Row]:
        self.calls[function] += 1
        return await self.inner.call(function, args)

    async def close(self) -> None:
        return None  # the fixture's transport: closed by its fixture


async def test_one_read_serves_the_late_job_and_the_new_error(
    make_ctx: MakeCtx, clock: ManualClock, transport: PostgresTransport, database_dsn: str
) -> None:
    counting = CountingTransport(transport)
    ctx = await make_ctx(transport=counting, guardian_error_fingerprint_threshold=3)
    await run_job(ctx, "drip")  # drip: period 5 min + grace 5 min
    clock.advance(timedelta(minutes=11))
    for n in range(4):  # 4 > 3 in the last hour, never before: new
        await ctx.repos.logs.write(
            "error", "job:drip", f"render failed for lead {n} at https://x.test/{n}", clock.now()
        )
    counting.calls.clear()

    counts = await guard(guardian_deps(ctx), RecordingLauncher(), JOBS)

    assert counting.calls["guardian_reads"] == 1
    assert not SEPARATE_READS & set(counting.calls)
    assert counts["late"] == 1 and counts["new_error_fingerprints"] == 1
    rows = query(database_dsn, "select key from alerts where status = 'firing' order by key")
    keys = [r["key"] for r in rows]
    assert "job.drip.late" in keys and any(k.startswith("errors.new.") for k in keys)

    await run_job(ctx, "drip")  # back: the firing keys of the one read resolve it
    await guard(guardian_deps(ctx), RecordingLauncher(), JOBS)
    rows = query(database_dsn, "select status from alerts where key = 'job.drip.late'")
    assert [r["status"] for r in rows] == ["resolved"]


async def test_a_quiet_run_costs_two_calls_and_still_records_the_probe(
    make_ctx: MakeCtx, clock: ManualClock, transport: PostgresTransport, database_dsn: str
) -> None:
    """Nothing late, nothing due: the probe and the reads (which record the probe and read
    what the flush needs). Before: db_ping, record_health_check, guardian_reads,
    alert_notifications_due, alert_pending_messages; then db_ping, guardian_reads,
    alert_flush_reads."""
    counting = CountingTransport(transport)
    ctx = await make_ctx(transport=counting)
    for job in JOBS:
        await run_job(ctx, job.name)
    counting.calls.clear()

    counts = await guard(guardian_deps(ctx), RecordingLauncher(), JOBS)

    assert counts["up"] == len(JOBS) - 1 and counts["notifications"] == 0
    assert counting.calls == Counter(db_ping=1, guardian_reads=1)
    rows = query(database_dsn, "select target, ok, latency_ms from health_checks order by id")
    assert [(r["target"], r["ok"]) for r in rows] == [("database", True)] * 2  # both runs
    assert rows[-1]["latency_ms"] == counts["database_ms"]


CALLBACK_KEY = "callback:call_7f3a9c:tool_book_1"
CALLBACK = ("Call back +15551234567: their booking for 2026-11-27 10:00, asked during a "
            "database outage, could not be made (database unavailable)")  # fmt: skip


async def test_a_repeat_due_when_nothing_changes_goes_out_from_the_runs_one_read(
    make_ctx: MakeCtx, clock: ManualClock, transport: PostgresTransport, database_dsn: str
) -> None:
    """An operator's callback alert left unacknowledged: its repeat is due at a run whose
    checks change nothing, and goes out from the run's first read (no flush read)."""
    counting = CountingTransport(transport)
    ctx = await make_ctx(transport=counting)
    await ctx.alerts.raise_alert(CALLBACK_KEY, "warning", CALLBACK, {"phone": "+15551234567"})
    for job in JOBS:  # the guardian's run sends the first email
        await run_job(ctx, job.name)
    clock.advance(timedelta(seconds=ctx.alerts.policy.repeat_warning_seconds))
    for job in JOBS:
        if job.name != "guardian":
            await run_job(ctx, job.name)
    counting.calls.clear()

    counts = await guard(guardian_deps(ctx), RecordingLauncher(), JOBS)

    assert counts["alerts_due"] == 1 and counts["notifications"] == 1
    assert counting.calls["guardian_reads"] == 1 and "alert_flush_reads" not in counting.calls
    texts = [m["payload"]["text"] for m in sent_to(database_dsn, EMAIL)]
    assert len(texts) == 2 and f"[REPEAT WARN] {CALLBACK_KEY}" in texts[1]


async def test_an_alert_the_run_raises_is_read_again_and_sent_by_that_run(
    make_ctx: MakeCtx, clock: ManualClock, transport: PostgresTransport, database_dsn: str
) -> None:
    """The run's first read saw nothing due; its heartbeat check raises drip's late alert,
    so the flush reads again and the alert goes out in this run, not the next."""
    counting = CountingTransport(transport)
    ctx = await make_ctx(transport=counting)
    for job in JOBS:
        await run_job(ctx, job.name)
    clock.advance(timedelta(minutes=11))  # drip: period 5 min + grace 5 min
    for job in JOBS:
        if job.name not in ("drip", "guardian"):
            await run_job(ctx, job.name)
    counting.calls.clear()

    counts = await guard(guardian_deps(ctx), RecordingLauncher(), JOBS)

    assert counts["late"] == 1 and counts["notifications"] == 1
    assert counting.calls["guardian_reads"] == 1 and counting.calls["alert_flush_reads"] == 1
    texts = [m["payload"]["text"] for m in sent_to(database_dsn, EMAIL)]
    assert len(texts) == 1 and "job.drip.late" in texts[0]


async def test_the_reads_of_every_guardian_and_appointments_run_keep_their_parsed_queries(
    database_dsn: str,
) -> None:
    """plpgsql, not SQL functions with `set search_path` (never inlined: parsed and planned
    at every call, 8,640 runs a simulated month; bench/guardian_run_cost.py). The read that
    needs each call's window planned (callback_gaps) sets it on its own; guardian_reads
    leaves the others to the plan cache, as when they are called alone (planning every read
    at every run was a fifth of its server time at day 28 of the month:
    bench/quiet_tick_ab.py)."""
    rows = query(
        database_dsn,
        "select p.proname, l.lanname, p.proconfig from pg_proc p"
        " join pg_language l on l.oid = p.prolang where p.proname = any(%s)",
        ["job_status", "callback_gaps", "new_error_fingerprints", "alert_notifications_due",
         "alert_pending_messages", "alert_flush_reads", "appointments_to_schedule",
         "guardian_reads"],
    )  # fmt: skip
    assert {r["proname"]: r["lanname"] for r in rows} == dict.fromkeys(
        ["job_status", "callback_gaps", "new_error_fingerprints", "alert_notifications_due",
         "alert_pending_messages", "alert_flush_reads", "appointments_to_schedule",
         "guardian_reads"], "plpgsql",
    )  # fmt: skip
    config = {r["proname"]: r["proconfig"] for r in rows}
    assert config["guardian_reads"] == ["search_path=public"]
    assert config["callback_gaps"] == ["search_path=public", "plan_cache_mode=force_custom_plan"]
    # the same week of system_logs read whatever the window: the plan cache's (20261210101000)
    assert config["new_error_fingerprints"] == ["search_path=public"]
