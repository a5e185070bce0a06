"""Unanswered calls get their next attempt once, spaced, up to the limit; a settled call is
not read again (requeue_unanswered_calls used to re-read every unanswered call ever made)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from app.jobs.bootstrap import Context
from tests.campaigns.helpers import add_leads

SPACING = 4 * 3600


def sql(dsn: str, query: str, *args: Any) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, autocommit=True, row_factory=dict_row) as conn:
        cur = conn.execute(query.encode(), args)
        return list(cur.fetchall()) if cur.description else []


def ended_call(dsn: str, lead: int, key: str, attempt: int, reason: str, at: Any) -> None:
    sql(
        dsn,
        "insert into calls (idempotency_key, lead_id, provider, to_number, status, attempt,"
        " ended_reason, ended_at, created_at, updated_at)"
        " select %s, id, 'vapi', phone, 'ended', %s, %s, %s, %s, %s from leads where id = %s",
        key, attempt, reason, at, at, at, lead,
    )  # fmt: skip


async def requeue(ctx: Context) -> int:
    return await ctx.repos.manager.requeue_unanswered(3, SPACING, ctx.clock.now())


async def test_next_attempts_are_queued_once_and_settled_calls_are_left_alone(
    ctx: Context, database_dsn: str
) -> None:
    await add_leads(ctx, 4)
    ids = [r["id"] for r in sql(database_dsn, "select id from leads order by id")]
    at = ctx.clock.now() - timedelta(minutes=10)
    ended_call(database_dsn, ids[0], "call:a", 1, "customer-did-not-answer", at)
    ended_call(database_dsn, ids[1], "call:b", 3, "voicemail", at)  # no attempt left
    ended_call(database_dsn, ids[2], "call:c", 1, "customer-ended-call", at)  # answered
    ended_call(database_dsn, ids[3], "call:d", 1, "customer-busy", at)
    sql(database_dsn, "update leads set status = 'booked' where id = %s", ids[3])

    assert await requeue(ctx) == 1
    queued = sql(database_dsn, "select idempotency_key, attempt, not_before from calls"
                               " where status = 'queued'")  # fmt: skip
    assert [(q["idempotency_key"], q["attempt"]) for q in queued] == [("call:a#2", 2)]
    assert queued[0]["not_before"] == at + timedelta(seconds=SPACING)
    settled = sql(database_dsn, "select idempotency_key from calls"
                                " where retry_settled_at is not null order by 1")  # fmt: skip
    # a: its next attempt is queued; b: out of attempts. d waits: its lead may change again.
    assert [s["idempotency_key"] for s in settled] == ["call:a", "call:b"]

    assert await requeue(ctx) == 0  # nothing queued twice
    sql(database_dsn, "update leads set status = 'contacted' where id = %s", ids[3])
    assert await requeue(ctx) == 1  # the held-back call gets its attempt once it may
    assert len(sql(database_dsn, "select 1 from calls where status = 'queued'")) == 2
