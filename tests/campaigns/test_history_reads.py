"""campaign_manager's reads cost what can still be due, not the history (issue 19; migration
20261207111000): the reconcilers of lost Twilio status callbacks and lost Vapi end-of-call
reports read through indexes that hold only the texts and calls still waiting; the
deliverability guard reads a campaign's last 200 sends of a channel in an index's order,
planned per campaign (plpgsql's generic plan walked every message of a campaign with few
texts); an unanswered call of a stopped enrollment is settled, not re-read at every run. The
rows are the same: a text waiting three days for its status and a call waiting two days for
its report are still found among thousands that were settled, and a campaign that stopped
texting a week ago is still paused on its last 200 texts.

The plans are those the functions run: each function's own body from pg_proc, prepared with
its parameters and planned generic (a `language sql` function's body is planned without its
arguments' values), after ANALYZE."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from psycopg import sql
from psycopg.rows import dict_row

from app.core.clock import ManualClock
from app.db.transport import PostgresTransport
from app.jobs.bootstrap import Context
from tests.campaigns.helpers import add_leads, load, query

SETTLED = 2000  # settled sends around the one still waiting


async def analyze(ctx: Context, table: str) -> None:
    """ANALYZE `table`, as autovacuum does once enough rows changed."""
    pg = ctx.transport
    assert isinstance(pg, PostgresTransport)
    async with pg._pool.connection() as conn:
        await conn.execute(f"analyze {table}")  # type: ignore[arg-type]


async def generic_plan(ctx: Context, function: str, *args: Any) -> str:
    """EXPLAIN of `function`'s body as Postgres plans it inside the function: the named
    parameters as $n, planned without their values."""
    [fn] = await query(
        ctx,
        "select prosrc, proargnames, proargtypes::regtype[]::text[] types from pg_proc"
        " where proname = %s",
        function,
    )
    body = fn["prosrc"]
    if "return query" in body:  # a PL/pgSQL `begin return query STATEMENT; end` (call_queue)
        body = body[body.index("return query") + len("return query") : body.rindex(";")]
    for n, name in enumerate(fn["proargnames"][: len(fn["types"])], start=1):
        body = re.sub(rf"\b{name}\b", f"${n}", body)
    pg = ctx.transport
    assert isinstance(pg, PostgresTransport)
    async with pg._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("set plan_cache_mode = force_generic_plan")
        await cur.execute(f"prepare body({', '.join(fn['types'])}) as {body}")  # type: ignore[arg-type]
        values = sql.SQL(", ").join(sql.Literal(a) for a in args)
        await cur.execute(sql.SQL("explain (costs off) execute body({})").format(values))
        plan = "\n".join(r["QUERY PLAN"] for r in await cur.fetchall())
        await cur.execute("deallocate body")
        await cur.execute("reset plan_cache_mode")
    return plan


async def test_a_text_waiting_three_days_for_its_status_is_found_among_delivered_ones(
    ctx: Context, clock: ManualClock
) -> None:
    now = clock.now()
    await add_leads(ctx, 1)
    await query(
        ctx,
        """insert into messages (idempotency_key, lead_id, channel, provider, provider_id,
                                 to_address, status, created_at, claimed_at, sent_at)
           select 'sms-' || g, 1, 'sms', 'twilio', 'SM' || md5(g::text), '+12125550000',
                  case g when 1 then 'sent' when 2 then 'sending' else 'delivered' end,
                  t.ts, t.ts, t.ts
             from generate_series(1, %s) g,
                  lateral (select %s::timestamptz - interval '3 days'
                                  + interval '1 second' * g ts) t
           returning id""",
        SETTLED,
        now,
    )  # fmt: skip
    await analyze(ctx, "messages")

    stuck = await ctx.repos.webhooks.messages_awaiting_status(
        now - timedelta(days=1), now - timedelta(days=7), 50
    )
    assert [(m.status, m.sent_at) for m in stuck] == [
        ("sent", now - timedelta(days=3) + timedelta(seconds=1)),
        ("sending", now - timedelta(days=3) + timedelta(seconds=2)),
    ]
    plan = await generic_plan(
        ctx, "messages_awaiting_status", now - timedelta(days=1), now - timedelta(days=7), 50, 3
    )
    assert "messages_awaiting_status_idx" in plan, plan


async def test_a_call_whose_report_never_came_is_found_among_reported_ones(
    ctx: Context, clock: ManualClock
) -> None:
    now = clock.now()
    await add_leads(ctx, 1)
    await query(
        ctx,
        """insert into calls (idempotency_key, vapi_call_id, lead_id, to_number, status, outcome,
                              ended_reason, created_at, claimed_at, placed_at)
           select 'call-' || g, 'vapi-' || g, 1, '+12125550000',
                  case when g = 1 then 'in-progress' else 'ended' end,
                  case when g = 1 then null else 'no_answer' end,
                  case when g = 1 then null else 'customer-did-not-answer' end,
                  t.ts, t.ts, t.ts
             from generate_series(1, %s) g,
                  lateral (select %s::timestamptz - interval '2 days'
                                  + interval '1 second' * g ts) t
           returning id""",
        SETTLED,
        now,
    )  # fmt: skip
    await analyze(ctx, "calls")

    before, after = now - timedelta(minutes=25), now - timedelta(days=7)
    stuck = await ctx.repos.webhooks.calls_awaiting_report(before, after, 20)
    assert [(c.vapi_call_id, c.status) for c in stuck] == [("vapi-1", "in-progress")]
    plan = await generic_plan(ctx, "calls_awaiting_report", before, after, 20)
    assert "calls_awaiting_report_idx" in plan, plan


async def test_a_campaign_that_stopped_texting_is_paused_on_its_last_200_texts(
    ctx: Context, clock: ManualClock
) -> None:
    """5 of its last 200 texts carrier-filtered (2.5 % > 2 %) a week ago, then 2,000 emails
    with no bounce: the texts' rate still pauses it, as before the index."""
    now = clock.now()
    campaign_id = await load(ctx)
    await query(
        ctx,
        """insert into messages (idempotency_key, campaign_id, channel, provider, to_address,
                                 status, error_code, created_at)
           select 'sms-' || g, %s, 'sms', 'twilio', '+1212555' || lpad(g::text, 4, '0'),
                  case when g <= 5 then 'undelivered' else 'delivered' end,
                  case when g <= 5 then '30007' end,
                  %s::timestamptz - interval '7 days' - interval '1 minute' * g
             from generate_series(1, 200) g
           union all
           select 'email-' || g, %s, 'email', 'resend', 'x' || g || '@example.com',
                  'delivered', null, %s::timestamptz - interval '1 second' * g
             from generate_series(1, %s) g
           returning id""",
        campaign_id, now, campaign_id, now, SETTLED,
    )  # fmt: skip
    await analyze(ctx, "messages")

    [paused] = await ctx.repos.manager.deliverability_check(now)
    assert (paused.metric, paused.sample, float(paused.rate)) == (
        "carrier_filtered_rate",
        200,
        0.025,
    )
    rows = await query(
        ctx,
        "select indexdef from pg_indexes where indexname = 'messages_campaign_channel_idx'",
    )
    assert [r["indexdef"].split(" USING ")[1] for r in rows] == [
        "btree (campaign_id, channel, created_at DESC, id DESC)"
    ]
    # planned per campaign: plpgsql's generic plan (after five calls) walked
    # messages_created_idx back through every message of a campaign with few texts
    [fn] = await query(ctx, "select proconfig from pg_proc where proname = 'deliverability_check'")
    assert fn["proconfig"] == ["search_path=public", "plan_cache_mode=force_custom_plan"]


async def test_an_unanswered_call_of_a_stopped_enrollment_is_settled_not_read_again(
    ctx: Context, clock: ManualClock
) -> None:
    """The lead replied (its enrollment stopped) after a call went unanswered: no retry, as
    before, and the call is settled instead of being re-read at every run for good. A call
    held back for a reason that can pass (its lead opted out of calls) is still looked at."""
    campaign_id = await load(ctx)
    await add_leads(ctx, 2)
    await ctx.repos.campaigns.enroll(clock.now())
    at = clock.now() - timedelta(hours=5)
    await query(
        ctx,
        """insert into calls (idempotency_key, lead_id, enrollment_id, campaign_id, to_number,
                              status, attempt, ended_reason, ended_at, created_at, updated_at)
           select 'call:' || e.lead_id, e.lead_id, e.id, e.campaign_id, l.phone, 'ended', 1,
                  'customer-did-not-answer', %s, %s, %s
             from enrollments e join leads l on l.id = e.lead_id
            where e.campaign_id = %s
           returning id""",
        at, at, at, campaign_id,
    )  # fmt: skip
    assert await ctx.repos.campaigns.apply_stop_rules(1, "reply", clock.now()) == 1  # lead 1
    await query(ctx, "update leads set calls_opted_out_at = %s where id = 2 returning id", at)

    assert await ctx.repos.manager.requeue_unanswered(3, 4 * 3600, clock.now()) == 0
    rows = await query(
        ctx, "select lead_id, retry_settled_at is not null settled from calls order by lead_id"
    )
    assert [(r["lead_id"], r["settled"]) for r in rows] == [(1, True), (2, False)]
    await query(ctx, "update leads set calls_opted_out_at = null where id = 2 returning id")
    assert await ctx.repos.manager.requeue_unanswered(3, 4 * 3600, clock.now()) == 1
