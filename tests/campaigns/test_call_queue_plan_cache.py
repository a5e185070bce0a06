"""The call queue keeps its plan (issue 19; migration 20261210110000): `call_queue` is
PL/pgSQL with its statement's generic plan cached per connection, not a SQL function planned
again at every run (a SET clause keeps a SQL function from being inlined; ~0.75 ms of the
~1 ms of a run whose campaigns are all capped, 86 of the 96 runs a day).

The answers are those of the statement as it ran before, as a `language sql` function (the
same statement, created beside it): the same calls in the same order, with the same leads,
campaigns, attempts and in-flight count, for every candidate order; and on one connection
(where the plan is kept) the kept plan follows the queue between runs: a campaign that
reaches its daily call cap drops out, a call that comes due is read, a call placed counts in
flight."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from psycopg.rows import dict_row

from app.core.clock import ManualClock
from app.db.transport import PostgresTransport
from app.jobs.bootstrap import Context
from tests.campaigns.helpers import query
from tests.campaigns.test_call_queue_open import _queue

ORDERS = ("score", "newest", "random")


async def _as_sql_function(ctx: Context) -> None:
    """`call_queue_sql`: call_queue's statement as the `language sql` function it was."""
    [fn] = await query(ctx, "select prosrc from pg_proc where proname = 'call_queue'")
    body = fn["prosrc"]
    statement = body[body.index("return query") + len("return query") : body.rindex(";")]
    pg = ctx.transport
    assert isinstance(pg, PostgresTransport)
    async with pg._pool.connection() as conn:
        await conn.execute(
            "create function call_queue_sql(p_limit integer, p_now timestamptz,"  # type: ignore[arg-type]
            " p_order text) returns table (call jsonb, in_flight integer)"
            " language sql stable set search_path = public as $body$" + statement + "$body$"
        )  # fmt: skip


async def _both(
    ctx: Context, limit: int, now: datetime, order: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    sql = "select call, in_flight from {}(%s, %s, %s)"
    old = await query(ctx, sql.format("call_queue_sql"), limit, now, order)
    new = await query(ctx, sql.format("call_queue"), limit, now, order)
    return old, new


async def test_the_function_keeps_its_generic_plan(ctx: Context) -> None:
    [fn] = await query(
        ctx,
        "select l.lanname, p.proconfig from pg_proc p join pg_language l on l.oid = p.prolang"
        " where p.proname = 'call_queue'",
    )  # fmt: skip
    assert fn["lanname"] == "plpgsql"
    assert "plan_cache_mode=force_generic_plan" in fn["proconfig"]


async def test_the_same_calls_in_the_same_order_as_the_sql_function(
    ctx: Context, clock: ManualClock
) -> None:
    now = clock.now()
    await _queue(ctx, now)  # 53 waiting calls, 30 candidates: ties, capped, paused, not due
    await query(  # a call in flight (counted for Vapi's concurrency) and past attempts
        ctx,
        "insert into calls (idempotency_key, lead_id, to_number, status, placed_at,"
        " updated_at) values ('ringing', 2, '+12125550000', 'ringing', %s, %s),"
        " ('ended', 3, '+12125550000', 'ended', %s, %s) returning id",
        now - timedelta(minutes=3), now - timedelta(minutes=1),
        now - timedelta(hours=5), now - timedelta(hours=5),
    )  # fmt: skip
    await _as_sql_function(ctx)
    for at in (now, now + timedelta(hours=2), now + timedelta(days=1)):
        for order in ORDERS:
            for limit in (1, 7, 30, 200):
                old, new = await _both(ctx, limit, at, order)
                assert new == old, (at, order, limit)
    old, new = await _both(ctx, 200, now, "score")
    assert len(new) == 30 and new[0]["in_flight"] == 1


async def test_the_kept_plan_follows_the_queue_between_runs(
    ctx: Context, clock: ManualClock
) -> None:
    now = clock.now()
    campaigns = await _queue(ctx, now)
    await _as_sql_function(ctx)
    pg = ctx.transport
    assert isinstance(pg, PostgresTransport)
    async with pg._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:

        async def run(at: datetime) -> list[dict[str, Any]]:
            """One run's read on this connection, checked against the SQL function's."""
            await cur.execute("select call, in_flight from call_queue(200, %s, 'score')", (at,))
            new = list(await cur.fetchall())
            await cur.execute("select call, in_flight from call_queue_sql(200, %s, 'score')", (at,))
            assert new == list(await cur.fetchall())
            return new

        for _ in range(6):  # past the plan cache's first custom plans: the kept generic one
            first = await run(now)
        assert len(first) == 30
        # the `calls` campaign reaches a daily cap of one call: its calls drop out
        await cur.execute(
            "update campaigns set definition = jsonb_set(definition, '{caps}',"
            " '{\"per_day\": {\"call\": 1}}') where id = %s",
            (campaigns["open"],),
        )  # fmt: skip
        await cur.execute(
            "insert into calls (idempotency_key, lead_id, campaign_id, to_number, status,"
            " placed_at, updated_at) values ('capped-now', 5, %s, '+12125550000', 'ringing',"
            " %s, %s)",
            (campaigns["open"], now, now),
        )  # fmt: skip
        second = await run(now)
        assert second and second[0]["in_flight"] == 1
        assert all((c["call"]["campaign"] or {}).get("id") != campaigns["open"] for c in second)
        later = await run(now + timedelta(hours=2))  # the calls held back an hour come due
        assert len(later) > len(second)
