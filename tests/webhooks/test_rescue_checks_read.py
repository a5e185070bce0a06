"""The due rescue texts' read (webhook_due_rescue_checks), read by every drip run: plpgsql,
so its query is planned once per connection (migration 20261209180000), same rows."""

from __future__ import annotations

from datetime import timedelta

import psycopg

from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from tests.webhooks.helpers import Db, seed_lead


async def _rescue(ctx: Context, lead_id: int) -> int:
    message = {"idempotency_key": f"rescue:{lead_id}:call-1", "provider": "twilio",
               "payload": {"body": "Sorry we missed you"}}  # fmt: skip
    queued = await ctx.repos.webhooks.enqueue_rescue(lead_id, message, ctx.clock.now())
    assert queued is not None
    return queued.id


def test_the_rescue_read_is_a_plpgsql_statement(database_dsn: str) -> None:
    """A SQL function with `set search_path` is never inlined: its query was parsed and
    planned at every drip run (~0.19 ms of server CPU, bench/rescue_checks_ab.py)."""
    with psycopg.connect(database_dsn) as conn:
        [(language,)] = conn.execute(
            "select l.lanname from pg_proc p join pg_language l on l.oid = p.prolang"
            " where p.proname = 'webhook_due_rescue_checks'"
        ).fetchall()
    assert language == "plpgsql"


async def test_due_texts_in_order_held_ones_later_on_one_connection(
    ctx: Context, db: Db, clock: ManualClock
) -> None:
    """Three missed callers: the texts come back oldest first, up to the limit; one held
    until the morning is left out until then. Read more times than the plan cache needs to
    choose a generic plan: the answer does not change."""
    leads = [await seed_lead(ctx, db, phone=f"+1415555{n:04d}") for n in (101, 102, 103)]
    ids = []
    for lead in leads:
        ids.append(await _rescue(ctx, lead))
        clock.advance(timedelta(minutes=1))
    morning = clock.now() + timedelta(hours=10)
    assert await ctx.repos.webhooks.hold_rescue(ids[1], morning, "quiet_hours", clock.now())

    webhooks = ctx.repos.webhooks
    for _ in range(8):
        due = await webhooks.due_rescue_checks(clock.now())
        assert [d.message.id for d in due] == [ids[0], ids[2]]
        assert [d.message.to_address for d in due] == ["+14155550101", "+14155550103"]
        assert all(d.recent_attempts == [] for d in due)  # none sent yet
        assert [d.message.id for d in await webhooks.due_rescue_checks(clock.now(), 1)] == ids[:1]
    assert [d.message.id for d in await webhooks.due_rescue_checks(morning)] == ids
