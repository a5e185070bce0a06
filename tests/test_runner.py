"""The run wrapper: single flight per job, job_runs heartbeat, failures recorded and re-raised,
and a crashed run's lease expiring so the next run proceeds."""

from __future__ import annotations

import asyncio
import copy
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from psycopg.rows import dict_row

from app.core.clock import ManualClock
from app.core.settings import Settings
from app.db.transport import PostgresTransport
from app.jobs import JOBS, get_job
from app.jobs.bootstrap import Context, Overrides, bootstrap
from app.jobs.runner import lease_seconds, run_job
from tests.consented import consented_lead
from tests.webhooks.helpers import Db, client, post_vapi, seed_campaign, seed_lead, vapi_message

MIAMI = "+13055550142"


@pytest.fixture
async def second_ctx(settings: Settings, clock: ManualClock, database_dsn: str) -> Any:
    """Another process's view of the same database (its own pool, its own holder)."""
    pg = await PostgresTransport(database_dsn, max_size=2).open()
    overrides = Overrides(clock=clock, transport=pg, holder="other-container:1")
    async with bootstrap(settings, overrides) as context:
        yield context
    await pg.close()


async def test_two_overlapping_runs_exactly_one_does_the_work(
    ctx: Context, second_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered = asyncio.Event()
    release = asyncio.Event()
    calls: list[str] = []

    async def slow_body(context: Context) -> dict[str, Any]:
        calls.append(context.holder)
        entered.set()
        await release.wait()
        return {"sent": 3}

    monkeypatch.setattr("app.campaigns.drip.run", slow_body)
    first = asyncio.create_task(run_job(ctx, "drip"))
    await asyncio.wait_for(entered.wait(), timeout=30)  # bounded: a failed start can't hang
    second = await run_job(second_ctx, "drip")  # overlaps: the first still holds the lease
    release.set()
    done = await first

    assert calls == [ctx.holder]
    assert (done.status, done.counts) == ("succeeded", {"sent": 3})
    assert second.status == "skipped"
    runs = await _runs(ctx)
    assert sorted(r["status"] for r in runs) == ["skipped", "succeeded"]
    skipped = next(r for r in runs if r["status"] == "skipped")
    assert str(done.run_id) in skipped["error"]


async def test_concurrent_starts_never_both_run(ctx: Context, second_ctx: Context) -> None:
    starts = await asyncio.gather(
        *[
            c.repos.job_runs.start("guardian", uuid.uuid4(), c.holder, 60, c.clock.now())
            for c in (ctx, second_ctx) * 5
        ]
    )
    assert [s.status for s in starts].count("running") == 1


async def test_a_crashed_runs_lease_expires_and_the_next_run_proceeds(
    ctx: Context, clock: ManualClock
) -> None:
    job = get_job("appointments")
    crashed = uuid.uuid4()  # started, then the container died: finish never called
    await ctx.repos.job_runs.start(
        job.name, crashed, "dead:1", lease_seconds(ctx, job), clock.now()
    )

    clock.advance(timedelta(seconds=lease_seconds(ctx, job) - 1))
    assert (await run_job(ctx, job.name)).status == "skipped"

    clock.advance(timedelta(seconds=1))
    outcome = await run_job(ctx, job.name)
    assert outcome.status == "succeeded"
    statuses = {r["id"]: r["status"] for r in await _runs(ctx)}
    assert statuses[crashed] == "abandoned"
    assert statuses[outcome.run_id] == "succeeded"
    # the lease was released: an immediate next run proceeds too
    assert (await run_job(ctx, job.name)).status == "succeeded"


async def test_a_failing_body_is_recorded_and_reraised(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(context: Context) -> dict[str, Any]:
        raise RuntimeError("provider exploded")

    monkeypatch.setattr("app.jobs.growth.run", broken)
    with pytest.raises(RuntimeError, match="provider exploded"):
        await run_job(ctx, "growth", modal_call_id="fc-01TEST")
    [run] = await _runs(ctx)
    assert run["status"] == "failed"
    assert run["error"] == "RuntimeError: provider exploded"
    assert run["modal_call_id"] == "fc-01TEST"
    logs = await ctx.repos.logs.recent(5, min_level="error")
    assert logs[0].source == "job:growth" and logs[0].run_id == run["id"]
    # the lease is released, so the next tick is not blocked by the failure
    monkeypatch.undo()
    assert (await run_job(ctx, "growth")).status == "succeeded"


async def test_every_registry_job_runs_through_the_wrapper(ctx: Context) -> None:
    outcomes = [await run_job(ctx, job.name) for job in JOBS]
    assert [o.status for o in outcomes] == ["succeeded"] * len(JOBS)
    states = {
        s.job: s for s in await ctx.repos.job_runs.status(ctx.clock.now(), [j.name for j in JOBS])
    }
    assert set(states) == {job.name for job in JOBS}
    assert all(s.last_success_at == ctx.clock.now() for s in states.values())


async def test_a_finished_run_is_recorded_and_its_lease_released_in_one_call(
    ctx: Context,
) -> None:
    """finish_job_run returns no row (stop 24: nothing read it) and still writes all of it."""
    start = await ctx.repos.job_runs.start("drip", uuid.uuid4(), ctx.holder, 90, ctx.clock.now())
    answer = await ctx.transport.call(
        "finish_job_run",
        {"p_run_id": start.run_id, "p_status": "succeeded", "p_counts": {"sent": 3},
         "p_now": ctx.clock.now()},
    )  # fmt: skip
    assert all(not value for row in answer for value in row.values())  # void: '' or nothing
    [run] = await _runs(ctx)
    assert (run["status"], run["counts"], run["finished_at"]) == (
        "succeeded", {"sent": 3}, ctx.clock.now())  # fmt: skip
    # the lease is gone: a run at once takes it (not `skipped`)
    assert (await run_job(ctx, "drip")).status == "succeeded"
    with pytest.raises(Exception, match="no job run"):
        await ctx.repos.job_runs.finish(uuid.uuid4(), "succeeded", ctx.clock.now())


async def _runs(ctx: Context) -> list[dict[str, Any]]:
    """Read job_runs directly (test-only SQL: the app reads through job_status)."""
    pg = ctx.transport
    assert isinstance(pg, PostgresTransport)
    async with pg._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("select * from job_runs order by started_at, status")
        return list(await cur.fetchall())


async def test_cancellation_is_recorded_and_never_swallowed(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def interrupted(context: Context) -> dict[str, Any]:
        raise KeyboardInterrupt

    monkeypatch.setattr("app.campaigns.drip.run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        await run_job(ctx, "drip", reraise=False)
    [run] = await _runs(ctx)
    assert run["status"] == "failed" and run["error"].startswith("KeyboardInterrupt")


async def test_a_run_killed_mid_batch_frees_its_job_within_two_minutes(
    ctx: Context, clock: ManualClock
) -> None:
    """Issue 15: a drip run killed mid-batch blocked sending for ~10 minutes (its lease)."""
    killed = uuid.uuid4()  # started, renewed once, then the container was killed
    await ctx.repos.job_runs.start("drip", killed, "dead:1", lease_seconds(ctx, get_job("drip")),
                                   clock.now())  # fmt: skip
    clock.advance(timedelta(seconds=20))
    assert await ctx.repos.job_runs.renew("drip", killed, 90, clock.now())

    clock.advance(timedelta(seconds=60))  # still inside the renewed lease
    assert (await run_job(ctx, "drip")).status == "skipped"
    clock.advance(timedelta(seconds=31))  # 111 s after the kill's last sign of life
    outcome = await run_job(ctx, "drip")

    assert outcome.status == "succeeded"
    statuses = {r["id"]: r["status"] for r in await _runs(ctx)}
    assert statuses[killed] == "abandoned"


async def test_a_long_run_keeps_its_lease_by_heartbeat(
    ctx: Context, second_ctx: Context, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    beat, renewed = asyncio.Event(), asyncio.Event()
    seen: list[str] = []

    async def heartbeat_sleep(seconds: float) -> None:
        renewed.set()  # the previous renewal (if any) is done when the keeper sleeps again
        await beat.wait()
        beat.clear()

    async def long_body(context: Context) -> dict[str, Any]:
        for _ in range(6):  # six minutes of work, far past one 90 s lease
            await renewed.wait()
            renewed.clear()
            clock.advance(timedelta(seconds=60))
            beat.set()  # the keeper renews at the new time
            await renewed.wait()
            seen.append((await run_job(second_ctx, "drip")).status)
        return {"sent": 1}

    monkeypatch.setattr("app.campaigns.drip.run", long_body)
    done = await asyncio.wait_for(run_job(ctx, "drip", heartbeat_sleep=heartbeat_sleep), 60)

    assert done.status == "succeeded"
    assert seen == ["skipped"] * 6  # the lease never lapsed while the run lived


async def test_a_run_that_lost_its_lease_records_the_failure(
    ctx: Context, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    beat, renewed = asyncio.Event(), asyncio.Event()

    async def heartbeat_sleep(seconds: float) -> None:
        renewed.set()
        await beat.wait()
        beat.clear()

    async def stalled_body(context: Context) -> dict[str, Any]:
        await renewed.wait()
        renewed.clear()
        clock.advance(timedelta(seconds=200))  # the process froze past its lease...
        taken = await context.repos.job_runs.start("drip", uuid.uuid4(), "other:2", 90,
                                                   clock.now())  # fmt: skip
        assert taken.status == "running"  # ...and another run took over
        beat.set()
        await asyncio.sleep(0.5)  # the keeper's renewal finds the lease gone
        return {}

    monkeypatch.setattr("app.campaigns.drip.run", stalled_body)
    await run_job(ctx, "drip", heartbeat_sleep=heartbeat_sleep)

    [row] = [r for r in await ctx.repos.logs.recent(10, min_level="error")
             if r.code == "lease_lost"]  # fmt: skip
    assert row.source == "job:drip" and row.run_id is not None and row.key == str(row.run_id)


async def test_the_steps_a_killed_drip_run_claimed_are_sent_by_the_next_run(
    ctx: Context, clock: ManualClock
) -> None:
    """The dead run's claims no longer wait DRIP_LEASE_SECONDS (10 minutes)."""
    await ctx.repos.leads.upsert([consented_lead(phone="+14155550177", name="Kim")], clock.now())
    await seed_campaign(ctx)
    clock.advance(timedelta(hours=2))  # the campaign's first step (after 1 h) is due
    claimed = await ctx.repos.campaigns.claim_due("dead:1:run", 10, 600, clock.now())
    assert len(claimed) == 1  # the killed run had claimed it
    await ctx.repos.job_runs.start("drip", uuid.uuid4(), "dead:1", 90, clock.now())

    clock.advance(timedelta(seconds=91))
    outcome = await run_job(ctx, "drip")

    assert outcome.status == "succeeded"
    assert outcome.counts["orphan_claims_released"] == 1
    assert sum(v for k, v in outcome.counts.items() if k != "orphan_claims_released") >= 1


async def test_a_drip_run_with_nothing_due_is_one_database_call_between_start_and_finish(
    ctx: Context, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Most of a month's 8,640 drip runs find nothing due: the orphan release, the claim and
    the rescue check are one round trip (drip_begin), not three, made with the run's start
    (drip_run_begin: the spool is empty)."""
    await ctx.repos.leads.upsert([consented_lead(phone="+14155550177", name="Kim")], clock.now())
    await seed_campaign(ctx)  # enrolled, its first step due in an hour: not yet
    await run_job(ctx, "drip")
    called: list[str] = []
    real = ctx.transport.call

    async def counted(function: str, args: Any = None) -> Any:
        called.append(function)
        return await real(function, args)

    monkeypatch.setattr(ctx.transport, "call", counted)
    outcome = await run_job(ctx, "drip")

    assert outcome.status == "succeeded" and outcome.counts == {}
    assert called == ["drip_run_begin", "finish_job_run"]


async def test_a_rescue_text_held_for_the_morning_is_sent_by_a_drip_run_with_no_steps_due(
    ctx: Context, clock: ManualClock, database_dsn: str
) -> None:
    """The rescue checks come back with the empty claim (drip_begin) and are acted on."""
    body = copy.deepcopy(vapi_message("06-end-of-call-report-customer-did-not-answer.json"))
    body["message"]["call"]["id"] = "call-fl"
    body["message"]["call"]["customer"]["number"] = MIAMI
    db = Db(database_dsn)
    await seed_lead(ctx, db, phone=MIAMI, state="FL", timezone="America/New_York")
    clock.set(datetime(2026, 11, 27, 1, 55, tzinfo=UTC))  # 20:55 EST: FL allows 08-20
    async with client(ctx) as http:
        await post_vapi(http, body)
    clock.set(datetime(2026, 11, 27, 12, 59, tzinfo=UTC))  # 07:59 EST: held still
    assert (await run_job(ctx, "drip")).counts == {}
    clock.set(datetime(2026, 11, 27, 13, 0, tzinfo=UTC))  # 08:00 EST

    outcome = await run_job(ctx, "drip")

    assert outcome.counts == {"rescue_texts": 1}
    assert db.one("select kind, status from messages") == {"kind": "rescue", "status": "dry_run"}


async def test_a_job_run_sees_an_empty_spool_from_one_listing(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """29,520 runs a month check the spool: `stats()` (two listings) only when one waits."""
    assert ctx.spool is not None

    async def two_listings() -> None:
        raise AssertionError("stats() read for an empty spool")

    monkeypatch.setattr(ctx.spool, "stats", two_listings)
    outcome = await run_job(ctx, "appointments")

    assert outcome.status == "succeeded" and "spool_drain_failed" not in outcome.counts
