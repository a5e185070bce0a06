"""The drip loop on a real Postgres with dry-run providers and an injected clock."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.campaigns import drip
from app.core.clock import ManualClock
from app.core.settings import Settings
from app.db.outbox import MessageClaim
from app.db.transport import PostgresTransport, Row, Transport
from app.jobs.bootstrap import Context, Overrides, bootstrap
from app.jobs.campaign_manager import manager_deps
from app.jobs.drip import drip_deps
from app.providers.build import build_providers
from app.providers.ratelimit import UNBOUNDED
from tests.campaigns.helpers import CAMPAIGN, add_leads, load, query
from tests.chaos.helpers import real_settings, rows
from tests.conftest import Rebuild
from tests.consented import consented_lead


async def test_enroll_send_first_step_then_wait_for_the_delay(
    ctx: Context, clock: ManualClock
) -> None:
    await load(ctx)
    await add_leads(ctx, 3)
    enrolled = await ctx.repos.campaigns.enroll(clock.now())
    assert [e.enrolled for e in enrolled] == [3]
    counts = await drip.run(drip_deps(ctx))
    assert counts == {"advance": 3}
    rows = await query(ctx, "select channel, status, to_address, payload from messages order by id")
    assert [r["channel"] for r in rows] == ["sms"] * 3
    assert all(r["status"] == "dry_run" for r in rows)
    assert rows[0]["payload"]["body"].startswith("Hi Lead, Demo Heating & Air here")
    assert await drip.run(drip_deps(ctx)) == {}  # the email step waits 2 days
    clock.advance(timedelta(days=2, minutes=1))
    assert await drip.run(drip_deps(ctx)) == {"advance": 3}
    emails = await query(ctx, "select payload from messages where channel = 'email'")
    assert len(emails) == 3
    assert (
        "/r/" in emails[0]["payload"]["html"] and "/u/" in emails[0]["payload"]["unsubscribe_url"]
    )
    states = await query(ctx, "select status from enrollments")
    assert {s["status"] for s in states} == {"completed"}


async def test_two_concurrent_runs_send_every_step_exactly_once(
    ctx: Context, rebuild: Rebuild
) -> None:
    await load(ctx)
    await add_leads(ctx, 500)
    await ctx.repos.campaigns.enroll(ctx.clock.now())
    deps = drip_deps(await rebuild(drip_batch_size=50))
    await asyncio.gather(drip.run(deps), drip.run(deps))
    [row] = await query(ctx, "select count(*) n, count(distinct enrollment_id) e from messages")
    assert (row["n"], row["e"]) == (500, 500)
    [sent] = await query(ctx, "select count(*) n from messages where status = 'dry_run'")
    assert sent["n"] == 500


async def test_outside_hours_is_rescheduled_to_the_next_permitted_instant(
    ctx: Context, clock: ManualClock
) -> None:
    clock.set(clock.now().replace(hour=3))  # 22:00 in New York
    await load(ctx)
    await add_leads(ctx, 1)
    await ctx.repos.campaigns.enroll(clock.now())
    assert await drip.run(drip_deps(ctx)) == {"reschedule:outside_permitted_hours": 1}
    [enrollment] = await query(ctx, "select next_run_at, lease_owner from enrollments")
    assert enrollment["lease_owner"] is None
    assert enrollment["next_run_at"].hour == 13  # 08:00 New York = 13:00 UTC
    assert await query(ctx, "select * from messages") == []


async def test_call_steps_are_queued_then_placed_hottest_first(
    ctx: Context, clock: ManualClock, rebuild: Rebuild
) -> None:
    text = """
slug: calls
name: Calls
call_timing: asap
window: {start: "08:00", end: "21:00"}
steps:
  - channel: call
"""
    await load(ctx, text)
    await add_leads(ctx, 3)
    await query(ctx, "update leads set score = id * 10 returning id")
    from app.campaigns import manager

    ctx = await rebuild(vapi_max_concurrent_calls=2)
    assert (await manager.run(manager_deps(ctx), ctx.rng))["enrolled"] == 3
    assert await drip.run(drip_deps(ctx)) == {"advance:call_queued": 3}
    counts = await manager.run(manager_deps(ctx), ctx.rng)
    assert counts["calls_placed"] == 2
    rows = await query(
        ctx,
        "select lead_id, vapi_call_id, payload from calls where vapi_call_id is not null"
        " order by lead_id",
    )
    assert [r["lead_id"] for r in rows] == [2, 3]  # the two hottest
    request = rows[0]["payload"]["request"]["json"]  # what the dry run would have sent Vapi
    overrides = request["assistantOverrides"]
    assert overrides["metadata"]["lead_id"] == 2 and "enrollment_id" in overrides["metadata"]
    assert overrides["variableValues"]["first_name"] == "Lead"


async def test_daily_channel_cap_defers_the_rest_to_tomorrow(
    ctx: Context, clock: ManualClock
) -> None:
    await load(
        ctx,
        CAMPAIGN.replace(
            "caps: {new_per_day: 1000}", "caps: {new_per_day: 1000, per_day: {sms: 2}}"
        ),
    )
    await add_leads(ctx, 3)
    await ctx.repos.campaigns.enroll(clock.now())
    assert await drip.run(drip_deps(ctx)) == {"advance": 2, "reschedule:daily_cap": 1}
    [deferred] = await query(ctx, "select next_run_at from enrollments where current_step = 0")
    assert deferred["next_run_at"].date() > clock.now().date()
    assert await drip.run(drip_deps(ctx)) == {}  # the cap holds for the rest of the day


async def test_learned_call_timing_waits_for_the_sampled_hour(
    ctx: Context, clock: ManualClock
) -> None:
    import numpy as np

    from app.campaigns import manager

    text = """
slug: learned
name: Learned timing
window: {start: "08:00", end: "21:00"}
steps:
  - channel: call
"""
    await load(ctx, text)
    await add_leads(ctx, 1)  # a New York number; 15:00 UTC = 10:00 in New York
    await ctx.repos.campaigns.enroll(clock.now())
    await drip.run(drip_deps(ctx))
    # no call history yet: every hour has the same prior; this seed picks a later hour
    counts = await manager.place_calls(manager_deps(ctx), np.random.default_rng(7))
    assert (counts["calls_scheduled"], counts["calls_placed"]) == (1, 0)
    [call] = await query(ctx, "select not_before from calls")
    slot = call["not_before"]
    assert slot > clock.now() and slot.minute == 0
    local_hour = slot.astimezone(ZoneInfo("America/New_York")).hour
    assert 8 <= local_hour <= 20  # inside the federal window: the slot is a permitted hour
    early = await manager.place_calls(manager_deps(ctx), ctx.rng)
    assert early["calls_placed"] == 0  # not before its slot
    clock.set(slot)
    placed = await manager.place_calls(manager_deps(ctx), ctx.rng)
    assert placed["calls_placed"] == 1  # chosen once, then placed


class Recorded:
    """A Transport (passed as an override) that notes every function called, the ids of
    every `claim_messages` call and what each `enqueue_outbox` call claimed (`p_claim`)."""

    def __init__(self, inner: Transport) -> None:
        self.inner, self.name = inner, inner.name
        self.functions: list[str] = []
        self.claims: list[list[int]] = []
        self.write_claims: list[dict[str, int]] = []

    async def call(self, function: str, args: Mapping[str, Any] | None = None) -> list[Row]:
        self.functions.append(function)
        if function == "claim_messages" and args is not None:
            self.claims.append(list(args["p_ids"]))
        if function == "enqueue_outbox" and args is not None:
            self.write_claims.append(dict(args.get("p_claim") or {}))
        return await self.inner.call(function, args)

    async def close(self) -> None:  # the fixture closes the inner transport
        pass


async def test_a_dry_run_batch_is_claimed_by_its_outbox_write(
    settings: Settings, clock: ManualClock, transport: PostgresTransport, database_dsn: str
) -> None:
    # A dry-run twin reaches no provider: its limiter never waits, so the chunk is the batch,
    # and the write claims it as it writes it (the first chunk: here the only one).
    recorded = Recorded(transport)
    async with bootstrap(settings, Overrides(clock=clock, transport=recorded)) as ctx:
        assert ctx.providers.delivery.claim_chunk("sms") == UNBOUNDED
        await load(ctx)
        await add_leads(ctx, 3)
        await ctx.repos.campaigns.enroll(clock.now())
        assert await drip.run(drip_deps(ctx)) == {"advance": 3}
    assert recorded.write_claims == [{"sms": 3}] and recorded.claims == []
    messages = rows(database_dsn, "select status, attempts, status_history from messages")
    assert [(r["status"], r["attempts"]) for r in messages] == [("dry_run", 1)] * 3
    assert [h["status"] for h in messages[0]["status_history"]][-2:] == ["sending", "dry_run"]


async def test_the_claim_chunk_follows_each_providers_rate_limit(
    ctx: Context, clock: ManualClock
) -> None:
    # Real adapters: the limiters come from settings, and so does the chunk (CLAIM_AHEAD = 2 s).
    async def chunks(**rates: float) -> tuple[int, int]:
        providers = build_providers(real_settings(**rates), ctx.repos, clock)
        await providers.aclose()
        return providers.delivery.claim_chunk("sms"), providers.delivery.claim_chunk("email")

    assert await chunks() == (2000, 2000)  # the chaos suite's 1000/s
    defaults = {"twilio_rate_per_second_per_sender": 1.0, "resend_rate_per_second": 10.0}
    assert await chunks(**defaults) == (2, 20)
    fast = {"twilio_rate_per_second_per_sender": 1e6, "resend_rate_per_second": 1e6}
    assert await chunks(**fast) == (2_000_000, 2_000_000)


async def test_rows_written_by_a_crashed_run_are_claimed_by_the_same_rules(
    ctx: Context, clock: ManualClock
) -> None:
    # The same idempotency keys again (a re-run after a crash): enqueue_outbox finds the rows
    # and claim_messages decides, as it would for a separate claim: a young claim is busy.
    await load(ctx)
    await add_leads(ctx, 2)
    await ctx.repos.campaigns.enroll(clock.now())
    item = {"idempotency_key": "k1", "channel": "sms", "provider": "dryrun",
            "to_address": "+12125550000", "payload": {"body": "hi"}}  # fmt: skip

    async def write_and_claim() -> MessageClaim:  # drip's path: write the rows, claim them
        written = await ctx.repos.campaigns.enqueue([item], clock.now())
        [claim] = await ctx.repos.outbox.claim_messages([written["k1"].id], clock.now())
        return claim

    first = await write_and_claim()
    assert first.outcome == "claimed" and first.message.status == "sending"
    second = await write_and_claim()
    assert second.outcome == "busy" and second.message.id == first.message.id
    clock.advance(timedelta(minutes=11))
    third = await write_and_claim()
    assert third.outcome == "reclaimed" and third.message.ambiguous_since is not None


async def test_two_campaigns_texting_one_capped_lead_in_one_batch_respect_the_cap(
    ctx: Context, clock: ManualClock
) -> None:
    # FL: 3 texts or calls per rolling 24 h. The lead had 2; both campaigns have a text due
    # in the same batch: the first goes, the second waits for the cap to reopen.
    await load(ctx)
    await load(ctx, CAMPAIGN.replace("slug: tune-up", "slug: tune-up-2"))
    fl = consented_lead(
        name="Flo Rida", phone="+13055550100", state="FL", timezone="America/New_York"
    )
    await ctx.repos.leads.upsert([fl], clock.now())
    earlier = clock.now() - timedelta(hours=3)
    for n in (1, 2):
        await query(
            ctx,
            "insert into messages (idempotency_key, lead_id, channel, kind, provider, to_address,"
            " status, claimed_at, sent_at) select %s, id, 'sms', 'marketing', 'dryrun', phone,"
            " 'sent', %s, %s from leads returning id",
            f"earlier-{n}", earlier, earlier,
        )  # fmt: skip
    await ctx.repos.campaigns.enroll(clock.now())
    counts = await drip.run(drip_deps(ctx))
    assert counts == {"advance": 1, "reschedule:attempt_cap": 1}
    texts = await query(ctx, "select 1 from messages where idempotency_key like 'drip:%%'")
    assert len(texts) == 1
    [waiting] = await query(ctx, "select next_run_at from enrollments where current_step = 0")
    # the cap reopens 24 h after the earlier texts (7:00 in Miami); FL permits texts from 8:00
    assert waiting["next_run_at"] == earlier + timedelta(hours=25)


async def test_two_campaigns_calling_one_lead_place_one_call_per_run(
    ctx: Context, clock: ManualClock
) -> None:
    # Both calls are due in the same campaign_manager run; the queue's attempt counts
    # predate the run, so placing both would let the second pass FL's cap (3 per 24 h).
    text = """
slug: calls
name: Calls
call_timing: asap
window: {start: "08:00", end: "21:00"}
steps:
  - channel: call
"""
    await load(ctx, text)
    await load(ctx, text.replace("slug: calls", "slug: calls-2"))
    fl = consented_lead(
        name="Flo Rida", phone="+13055550100", state="FL", timezone="America/New_York"
    )
    await ctx.repos.leads.upsert([fl], clock.now())
    from app.campaigns import manager

    assert (await manager.run(manager_deps(ctx), ctx.rng))["enrolled"] == 2
    assert await drip.run(drip_deps(ctx)) == {"advance:call_queued": 2}
    first = await manager.run(manager_deps(ctx), ctx.rng)
    assert (first["calls_placed"], first["calls_waiting"]) == (1, 1)
    clock.advance(timedelta(minutes=15))
    again = await manager.run(manager_deps(ctx), ctx.rng)
    assert again["calls_placed"] == 1  # the next run places the other
