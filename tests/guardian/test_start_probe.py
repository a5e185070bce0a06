"""A guardian run takes its own start as the database probe (app/jobs/guardian.py `begin`):
the database just answered start_job_run, so a quiet run makes no db_ping of its own (issue
19: 8,640 guardian runs a simulated month), still records the probe with that round trip's
latency, and a start slower than GUARDIAN_PROBE_TIMEOUT_SECONDS pages and fails the run as a
probe that timed out did."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from typing import Any

from app.alerts.direct import DB_DOWN_KEY, DirectPager
from app.core.clock import ManualClock
from app.db.transport import PostgresTransport, Row
from app.jobs.runner import run_job
from app.providers.spool import SpooledRequest
from tests.alerts.support import MakeCtx, query
from tests.guardian.test_guardian_reads import CountingTransport


class SlowStart:
    """The test database's transport, with a database that takes `seconds` to answer a
    run's start (overloaded: every call waits, the start is the first one)."""

    name = "postgres"

    def __init__(self, inner: PostgresTransport, seconds: float) -> None:
        self.inner, self.seconds, self.calls = inner, seconds, Counter[str]()

    async def call(self, function: str, args: Mapping[str, Any] | None = None) -> list[Row]:
        self.calls[function] += 1
        if function == "start_job_run":
            await asyncio.sleep(self.seconds)
        return await self.inner.call(function, args)

    async def close(self) -> None:
        return None


async def test_a_quiet_run_probes_with_its_own_start_and_records_it(
    make_ctx: MakeCtx, clock: ManualClock, transport: PostgresTransport, database_dsn: str
) -> None:
    counting = CountingTransport(transport)
    ctx = await make_ctx(transport=counting)
    await run_job(ctx, "guardian")  # the first run raises what a fresh database raises
    counting.calls.clear()

    outcome = await run_job(ctx, "guardian")

    assert outcome.status == "succeeded"
    assert counting.calls == Counter(start_job_run=1, guardian_reads=1, finish_job_run=1)
    probes = query(database_dsn, "select ok, latency_ms from health_checks"
                                 " where target = 'database' order by id")  # fmt: skip
    assert len(probes) == 2 and probes[-1] == {
        "ok": True,
        "latency_ms": outcome.counts["database_ms"],
    }


async def test_a_start_slower_than_the_probe_timeout_pages_and_fails_the_run(
    make_ctx: MakeCtx, transport: PostgresTransport, database_dsn: str, fresh_pager: DirectPager
) -> None:
    slow = SlowStart(transport, seconds=0.3)
    ctx = await make_ctx(transport=slow, guardian_probe_timeout_seconds=0.1)

    outcome = await run_job(ctx, "guardian", reraise=False)

    assert (outcome.status, outcome.error) == (
        "failed", "DatabaseUnavailable: database probe failed: TimeoutError"
    )  # fmt: skip
    assert [page.key for page in fresh_pager.unrecorded] == [DB_DOWN_KEY]
    assert "guardian_reads" not in slow.calls and "db_ping" not in slow.calls
    assert query(database_dsn, "select count(*) as n from health_checks")[0]["n"] == 0
    runs = query(database_dsn, "select status, error from job_runs where job = 'guardian'")
    assert runs == [{"status": "failed", "error": outcome.error}]


async def test_with_a_webhook_waiting_the_run_drains_first_and_pings(
    make_ctx: MakeCtx, transport: PostgresTransport, database_dsn: str
) -> None:
    counting = CountingTransport(transport)
    ctx = await make_ctx(transport=counting)
    assert ctx.spool is not None
    await ctx.spool.put(_spooled(ctx))

    outcome = await run_job(ctx, "guardian")  # no ingest here: reports what waits

    assert outcome.counts["spool_pending"] == 1
    assert counting.calls["db_ping"] == 1 and counting.calls["start_job_run"] == 1


def _spooled(ctx: Any) -> SpooledRequest:
    body = b"MessageSid=SMwait1&From=%2B14155550199&To=%2B14155550123&Body=STOP"
    headers = {"content-type": "application/x-www-form-urlencoded"}
    return SpooledRequest.new("/webhooks/twilio/sms", "", headers, body, ctx.clock.now())
