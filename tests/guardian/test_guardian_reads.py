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
from tests.alerts.support import MakeCtx, query
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


async def test_a_quiet_run_costs_three_calls_and_still_records_the_probe(
    make_ctx: MakeCtx, clock: ManualClock, transport: PostgresTransport, database_dsn: str
) -> None:
    """Nothing late, nothing due: the probe, the reads (which record the probe) and the
    flush's one read. Before: db_ping, record_health_check, guardian_reads,
    alert_notifications_due, alert_pending_messages."""
    counting = CountingTransport(transport)
    ctx = await make_ctx(transport=counting)
    for job in JOBS:
        await run_job(ctx, job.name)
    counting.calls.clear()

    counts = await guard(guardian_deps(ctx), RecordingLauncher(), JOBS)

    assert counts["up"] == len(JOBS) - 1 and counts["notifications"] == 0
    assert counting.calls == Counter(db_ping=1, guardian_reads=1, alert_flush_reads=1)
    rows = query(database_dsn, "select target, ok, latency_ms from health_checks order by id")
    assert [(r["target"], r["ok"]) for r in rows] == [("database", True)] * 2  # both runs
    assert rows[-1]["latency_ms"] == counts["database_ms"]
