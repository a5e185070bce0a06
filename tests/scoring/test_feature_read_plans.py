"""scoring_features of a lead list runs one plan made once per connection (issue 19, stop 26;
migration 20261209160000): the statement the function runs for a list is planned generic,
and that plan reads every table from the listed leads by a lead index (no scan of every
message, call, click or reply, whatever the list's length), with the rows SQL function
inlined into it. The rows are those of the every-lead read: the hourly pass, the per-call
rows (lead, placed_at pairs) and the training snapshots give the same features.

The plan checked is the one the function runs: the list statement of scoring_features' own
body from pg_proc, prepared with its parameters and planned generic, after ANALYZE."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from psycopg import sql
from psycopg.rows import dict_row

from app.core.clock import ManualClock
from app.db.transport import PostgresTransport
from app.jobs.bootstrap import Context
from tests.campaigns.helpers import load
from tests.scoring import helpers as h

DAY = timedelta(days=1)
SIGNALS = ("messages", "calls", "click_events", "webhook_events", "appointments", "leads")


async def _history(ctx: Context, clock: ManualClock) -> list[int]:
    """Four leads: one engaged on every channel, one opted out of calls, one booked, one
    only emailed."""
    now = clock.now()
    campaign = await load(ctx)
    engaged = await h.lead(ctx, 1, now - 10 * DAY, industry="HVAC", state="NY", source="web")
    email = await h.message(ctx, engaged, "email", now - 5 * DAY, "clicked", campaign_id=campaign)
    await h.message(ctx, engaged, "sms", now - 6 * DAY)
    await h.click(ctx, engaged, email, now - 1 * DAY)
    await h.sms_reply(ctx, "+12125550001", now - 2 * DAY)
    await h.call(ctx, engaged, "answered", now - 3 * DAY)
    await h.call(ctx, engaged, "no_answer", now - 4 * DAY)
    cold = await h.lead(ctx, 2, now - 9 * DAY, calls_opted_out_at=now - DAY)
    await h.message(ctx, cold, "sms", now - 8 * DAY)
    booked = await h.lead(ctx, 3, now - 9 * DAY)
    await h.message(ctx, booked, "sms", now - 8 * DAY)
    await h.appointment(ctx, booked, now - 4 * DAY)
    emailed = await h.lead(ctx, 4, now - 9 * DAY)
    await h.message(ctx, emailed, "email", now - 7 * DAY, "opened", seen_at=now - 2 * DAY)
    return [engaged, cold, booked, emailed]


async def test_a_lead_list_reads_the_rows_of_the_every_lead_read(
    ctx: Context, clock: ManualClock
) -> None:
    ids = await _history(ctx, clock)
    now = clock.now()
    every = {r["lead_id"]: r for r in await ctx.repos.scoring.features(now)}
    # again and again: the later calls run the plan the first one made (pooled connections)
    for _ in range(4):
        listed = await ctx.repos.scoring.features(now, lead_ids=[ids[3], ids[0], ids[2]])
        assert listed == [every[ids[0]], every[ids[2]], every[ids[3]]]
    assert await ctx.repos.scoring.features(now, lead_ids=[]) == []
    assert every[ids[0]]["clicks"] == 1 and every[ids[2]]["booked"] is True


async def test_call_pairs_read_the_rows_of_the_snapshot_at_the_same_time(
    ctx: Context, clock: ManualClock
) -> None:
    ids = await _history(ctx, clock)
    now = clock.now()
    times = [now - 5 * DAY, now - 3 * DAY + timedelta(hours=1)]
    snapshot = {
        (r["lead_id"], r["cutoff_at"]): r
        for r in await ctx.repos.scoring.features(now, times=times, horizon_days=2)
    }
    pairs = [(lead, t) for t in times for lead in ids]
    for _ in range(3):
        rows = await ctx.repos.scoring.features(
            now,
            lead_ids=[lead for lead, _ in pairs],
            cutoffs=[t for _, t in pairs],
            horizon_days=2,
        )
        assert {(r["lead_id"], r["cutoff_at"]): r for r in rows} == snapshot
    # as of 3 days ago the engaged lead's answered call had been reported; the click not yet
    engaged = snapshot[(ids[0], times[1])]
    assert (engaged["calls_answered"], engaged["clicks"]) == (1, 0)
    assert snapshot[(ids[2], times[0])]["label"] is True  # booked within 2 days of it


async def _list_plan(ctx: Context, *args: Any) -> str:
    """EXPLAIN of scoring_features' lead-list statement as the function runs it: its text
    from pg_proc with the named parameters as $n, planned generic."""
    [fn] = await h.execute(
        ctx,
        "select prosrc, proargnames, proargtypes::regtype[]::text[] types from pg_proc"
        " where proname = 'scoring_features'",
    )
    body = fn["prosrc"]
    assert "perform set_config('plan_cache_mode', 'force_generic_plan', true)" in body
    statement = re.search(r"return query\s+(select .*? true, .*?);", body, re.S)
    assert statement, body
    text = statement.group(1)
    for n, name in enumerate(fn["proargnames"][: len(fn["types"])], start=1):
        text = re.sub(rf"\b{name}\b", f"${n}", text)
    pg = ctx.transport
    assert isinstance(pg, PostgresTransport)
    async with pg._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("set plan_cache_mode = force_generic_plan")
        await cur.execute("set random_page_cost = 1.1")  # the function's own setting
        await cur.execute(f"prepare list_q({', '.join(fn['types'])}) as {text}")  # type: ignore[arg-type]
        values = sql.SQL(", ").join(
            sql.SQL("{}::{}").format(sql.Literal(a), sql.SQL(t))
            for a, t in zip(args, fn["types"], strict=True)
        )
        await cur.execute(sql.SQL("explain (costs off) execute list_q({})").format(values))
        plan = "\n".join(r["QUERY PLAN"] for r in await cur.fetchall())
        await cur.execute("deallocate list_q")
        await cur.execute("reset plan_cache_mode")
        await cur.execute("reset random_page_cost")
    return plan


async def test_a_lead_list_is_read_by_the_lead_indexes_in_one_plan(
    ctx: Context, clock: ManualClock
) -> None:
    await _history(ctx, clock)
    now = clock.now()
    # a month of history around them: 2,000 leads, each texted and called
    await h.execute(
        ctx,
        """insert into leads (name, phone, email, created_at)
           select 'Lead ' || g, '+1313555' || lpad(g::text, 4, '0'), 'l' || g || '@example.com',
                  %s::timestamptz - interval '30 days'
             from generate_series(1, 2000) g""",
        now,
    )  # fmt: skip
    await h.execute(
        ctx,
        """insert into messages (idempotency_key, lead_id, channel, provider, to_address,
                                 status, sent_at, created_at, updated_at)
           select md5(l.id::text || k), l.id, 'sms', 'dryrun', l.phone, 'delivered', t, t, t
             from leads l, generate_series(1, 5) k,
                  lateral (select %s::timestamptz - interval '1 day' * k t) x""",
        now,
    )  # fmt: skip
    await h.execute(
        ctx,
        """insert into calls (idempotency_key, lead_id, to_number, status, outcome, ended_at,
                              started_at, created_at, placed_at, report_received_at)
           select md5('c' || l.id), l.id, l.phone, 'ended', 'no_answer', t, t, t, t, t
             from leads l, lateral (select %s::timestamptz - interval '2 days' t) x""",
        now,
    )  # fmt: skip
    for table in SIGNALS:
        await h.execute(ctx, f"analyze {table}")

    plan = await _list_plan(ctx, now, [1, 2], None, None, False, None)
    # the two tables made large: each read from the listed leads, not scanned whole
    for table in ("messages", "calls", "leads"):
        assert f"Seq Scan on {table}" not in plan, plan
    assert "messages_lead_idx" in plan and "calls_lead_idx" in plan
    # the rows function is inlined (a call of it would be planned apart, at every call)
    assert "Function Scan on scoring_feature_rows" not in plan, plan
