"""The indexes a drip step writes (issue 19, migration 20261208140000).

A claimed step writes its enrollments row twice (the lease, the settle) and a text its
messages row twice (written, recorded sent), never HOT: an entry in every index of the table
each time. Two indexes went: enrollments' lead index (the unique key now leads with the lead
and serves it) and messages' (campaign_id, created_at) (every reader of a campaign's
messages names the channel: messages_campaign_channel_idx). What they served still holds:
a lead is enrolled once per campaign; erasing a lead, removing a campaign's step or deleting
a campaign leaves its messages as before (each reference set null, the others kept).
"""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from app.campaigns import drip
from app.core.clock import ManualClock
from app.db.console import ConsoleRepository
from app.db.transport import PostgresTransport
from app.jobs.bootstrap import Context
from app.jobs.drip import drip_deps
from tests.campaigns.helpers import CAMPAIGN, add_leads, load, query

SMS_ONLY = CAMPAIGN.split("  - channel: email")[0]


async def indexes(ctx: Context, table: str) -> dict[str, str]:
    rows = await query(
        ctx, "select indexname, indexdef from pg_indexes where tablename = %s", table
    )
    return {r["indexname"]: r["indexdef"].split(" USING ")[1] for r in rows}


async def test_every_step_writes_five_enrollment_and_no_campaign_day_message_entries(
    ctx: Context,
) -> None:
    assert await indexes(ctx, "enrollments") == {
        "enrollments_pkey": "btree (id)",
        "enrollments_lead_id_campaign_id_key": "btree (lead_id, campaign_id)",
        "enrollments_due_idx": "btree (next_run_at, id) WHERE (status = 'active'::text)",
        "enrollments_campaign_enrolled_idx": "btree (campaign_id, enrolled_at)",
        "enrollments_leased_idx": ("btree (lease_expires_at) WHERE (lease_owner IS NOT NULL)"),
    }
    on_messages = await indexes(ctx, "messages")
    assert "messages_campaign_day_idx" not in on_messages
    assert on_messages["messages_campaign_channel_idx"] == (
        "btree (campaign_id, channel, created_at DESC, id DESC)"
    )


async def test_the_reads_of_the_dropped_indexes_find_an_index(ctx: Context) -> None:
    """Planned on an empty table with sequential scans off: an index serves each read."""
    reads = {
        "enrollments_lead_id_campaign_id_key": "select id from enrollments where lead_id = 7",
        "messages_campaign_channel_idx": (
            "select count(*) from messages where campaign_id = 3 and channel = 'sms'"
            " and created_at >= '2026-11-24'"
        ),
    }
    pg = ctx.transport
    assert isinstance(pg, PostgresTransport)
    async with pg._pool.connection() as conn, conn.transaction():
        await conn.execute("set local enable_seqscan = off")
        for index, read in reads.items():
            plan = "\n".join(r[0] for r in await (await conn.execute(f"explain {read}")).fetchall())
            assert index in plan, (index, plan)


async def test_a_lead_is_enrolled_once_per_campaign(ctx: Context, clock: ManualClock) -> None:
    campaign = await load(ctx)
    await add_leads(ctx, 2)
    assert [e.enrolled for e in await ctx.repos.campaigns.enroll(clock.now())] == [2]
    assert [e.enrolled for e in await ctx.repos.campaigns.enroll(clock.now())] == [0]
    [lead] = await query(ctx, "select lead_id from enrollments order by id limit 1")
    with pytest.raises(psycopg.errors.UniqueViolation):
        await query(
            ctx,
            "insert into enrollments (campaign_id, lead_id) values (%s, %s) returning id",
            campaign,
            lead["lead_id"],
        )


async def sent_both_steps(ctx: Context, clock: ManualClock) -> list[int]:
    """Two leads through both steps (a text, then an email two days later): their lead ids."""
    await load(ctx)
    await add_leads(ctx, 2)
    await ctx.repos.campaigns.enroll(clock.now())
    assert await drip.run(drip_deps(ctx)) == {"advance": 2}
    clock.advance(timedelta(days=2, minutes=1))
    assert await drip.run(drip_deps(ctx)) == {"advance": 2}
    return [r["id"] for r in await query(ctx, "select id from leads order by id")]


async def references(ctx: Context) -> list[tuple[str, bool, bool, bool, bool]]:
    """Per message (channel, lead id, order): which references are still set."""
    rows = await query(
        ctx,
        "select channel, lead_id is not null l, enrollment_id is not null e,"
        " campaign_id is not null c, step_id is not null s from messages"
        " order by channel desc, id",
    )
    return [(r["channel"], r["l"], r["e"], r["c"], r["s"]) for r in rows]


async def test_erasing_a_lead_keeps_its_messages_in_the_campaigns_counts(
    ctx: Context, clock: ManualClock
) -> None:
    first, second = await sent_both_steps(ctx, clock)
    assert await ConsoleRepository(ctx.transport).erase(first, "test", clock.now())
    assert [r["lead_id"] for r in await query(ctx, "select lead_id from enrollments")] == [second]
    assert await references(ctx) == [
        ("sms", False, False, True, True),
        ("sms", True, True, True, True),
        ("email", False, False, True, True),
        ("email", True, True, True, True),
    ]


async def test_a_removed_step_and_a_deleted_campaign_leave_the_messages(
    ctx: Context, clock: ManualClock
) -> None:
    await sent_both_steps(ctx, clock)
    await load(ctx, SMS_ONLY)  # the email step is removed: its messages lose only the step
    assert (
        await references(ctx)
        == [("sms", True, True, True, True)] * 2 + [("email", True, True, True, False)] * 2
    )
    await query(ctx, "delete from campaigns returning id")
    assert await query(ctx, "select id from enrollments") == []
    assert (
        await references(ctx)
        == [("sms", True, False, False, False)] * 2 + [("email", True, False, False, False)] * 2
    )
