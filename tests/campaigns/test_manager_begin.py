"""A campaign_manager run opens with one round trip (manager_begin): enroll_leads,
deliverability_check, requeue_unanswered_calls and call_queue, in that order in one
transaction, answering what the four calls answered one by one (issue 19: four round trips
a run, 96 runs a day)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest
from psycopg.rows import dict_row

from app.campaigns import manager
from app.core.clock import ManualClock
from app.db.transport import PostgresTransport
from app.jobs.bootstrap import Context
from app.jobs.campaign_manager import manager_deps
from tests.campaigns.helpers import CALLS, add_leads, load, query

DAY = datetime.fromisoformat("2026-11-27T16:00:00+00:00")  # 11:00 in New York (212)
OPENING = ("enroll_leads", "deliverability_check", "requeue_unanswered_calls", "call_queue")


async def _history(ctx: Context, clock: ManualClock) -> None:
    """Three leads to enroll, two waiting calls and one unanswered call to try again (its
    retry due: 5 h since, spaced 4 h)."""
    campaign = await load(ctx, CALLS)
    await add_leads(ctx, 3)
    clock.set(DAY)
    for lead_id in (1, 2):
        await query(
            ctx,
            "insert into calls (idempotency_key, lead_id, campaign_id, to_number, status)"
            " values (%s, %s, %s, '+12125550000', 'queued') returning id",
            f"k{lead_id}#1", lead_id, campaign,
        )  # fmt: skip
    await query(
        ctx,
        "insert into calls (idempotency_key, lead_id, campaign_id, to_number, status,"
        " ended_reason, attempt, ended_at) values ('k3#1', 3, %s, '+12125550002', 'ended',"
        " 'customer-did-not-answer', 1, %s) returning id",
        campaign, DAY - timedelta(hours=5),
    )  # fmt: skip


async def _rolled_back(ctx: Context, statements: list[str], now: datetime) -> list[list[Any]]:
    """Each statement's rows, in one transaction that is rolled back."""
    pg = ctx.transport
    assert isinstance(pg, PostgresTransport)
    answers = []
    async with (
        pg._pool.connection() as conn,
        conn.transaction(force_rollback=True),
        conn.cursor(row_factory=dict_row) as cur,
    ):
        for statement in statements:
            await cur.execute(statement, {"now": now})  # type: ignore[arg-type]
            answers.append(list(await cur.fetchall()))
    return answers


async def test_the_opening_call_answers_what_the_four_calls_answered(
    ctx: Context, clock: ManualClock
) -> None:
    await _history(ctx, clock)
    enrolled, paused, requeued, queue = await _rolled_back(ctx, [
        "select * from enroll_leads(%(now)s)",
        "select * from deliverability_check(%(now)s)",
        "select requeue_unanswered_calls(3, 14400, %(now)s) n",
        "select call, in_flight from call_queue(200, %(now)s, 'score')",
    ], DAY)  # fmt: skip
    [[row]] = await _rolled_back(
        ctx, ["select tick from manager_begin(%(now)s, 3, 14400, 200, 'score')"], DAY
    )
    tick = row["tick"]
    assert [r["enrolled"] for r in enrolled] == [3]
    assert requeued[0]["n"] == 1  # and its retry, due, is in the queue read after it:
    assert len(queue) == 3  # the calls see the writes before them, as in separate calls
    calls = [r["call"] for r in queue]  # the retry's id: the next of the sequence each time
    assert [c["id"] for c in tick["queue"]] == [c["id"] for c in calls[:2]] + [calls[2]["id"] + 1]
    assert {**tick, "queue": _ids_out(tick["queue"])} == {
        "enrolled": enrolled, "paused": paused, "requeued": requeued[0]["n"],
        "queue": _ids_out(calls), "in_flight": queue[0]["in_flight"],
    }  # fmt: skip


def _ids_out(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in c.items() if k != "id"} for c in calls]


async def test_a_run_opens_with_one_round_trip(
    ctx: Context, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _history(ctx, clock)
    called: list[str] = []
    transport = ctx.transport
    call = transport.call

    async def counted(function: str, args: Mapping[str, Any] | None = None) -> list[Any]:
        called.append(function)
        return await call(function, args)

    monkeypatch.setattr(transport, "call", counted)
    counts = await manager.run(manager_deps(ctx), ctx.rng)
    assert (counts["enrolled"], counts["calls_requeued"], counts["calls_placed"]) == (3, 1, 3)
    assert called[0] == "manager_begin"
    assert not set(OPENING) & set(called)
    placed = await query(ctx, "select count(*) n from calls where status <> 'queued'")
    assert placed[0]["n"] == 4  # the two waiting calls and the retry went out
