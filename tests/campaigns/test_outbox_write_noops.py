"""The outbox write runs no statement that writes or reads nothing (enqueue_outbox,
supabase/migrations/20261209120000_outbox_write_noops.sql): a drip batch of new texts and
emails inserts no call (whose statement triggers fired for no row) and calls no
claim_messages (for no row written before); a batch with a call, or a re-run that finds its
rows, takes the whole path and returns what it returned before."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from tests.campaigns.helpers import add_leads, query

WATCHED = ("claim_messages", "status_stale_new_rows", "scoring_mark_new_rows")


def _text(key: str, phone: str, lead_id: int) -> dict[str, Any]:
    return {"idempotency_key": key, "channel": "sms", "provider": "twilio", "to_address": phone,
            "lead_id": lead_id, "payload": {"body": "Hi Lead, time for your tune-up? Reply STOP"
            " to opt out.", "send_before": "2026-11-27T02:00:00+00:00"}}  # fmt: skip


def _email(key: str, lead_id: int) -> dict[str, Any]:
    return {"idempotency_key": key, "channel": "email", "provider": "resend",
            "to_address": f"lead{lead_id}@example.com", "lead_id": lead_id,
            "payload": {"subject": "Your tune-up", "html": "<p>Book</p>"}}  # fmt: skip


def _call(key: str, phone: str, lead_id: int) -> dict[str, Any]:
    return {"idempotency_key": key, "channel": "call", "provider": "vapi", "to_address": phone,
            "lead_id": lead_id, "payload": {"assistant": "tune-up"}}  # fmt: skip


def _write_watched(
    dsn: str, items: list[dict[str, Any]], now: datetime, claim: dict[str, int]
) -> tuple[list[tuple[Any, ...]], dict[str, int]]:
    """One enqueue_outbox call (committed) and how often each WATCHED function ran in it
    (pg_stat_xact_user_functions: this transaction's calls, with track_functions on)."""
    with psycopg.connect(dsn) as conn:
        conn.execute("set local track_functions = 'all'")
        rows = conn.execute(
            "select idempotency_key, kind, status, outcome from enqueue_outbox(%s, %s, %s, 600)"
            " order by idempotency_key",
            (Jsonb(items), now, Jsonb(claim)),
        ).fetchall()
        calls = dict(conn.execute(
            "select funcname, calls::integer from pg_stat_xact_user_functions"
            " where funcname = any (%s)", (list(WATCHED),)).fetchall())  # fmt: skip
    return rows, {name: calls.get(name, 0) for name in WATCHED}


async def _leads(ctx: Context, n: int) -> list[tuple[int, str]]:
    await add_leads(ctx, n)
    return [
        (r["id"], r["phone"]) for r in await query(ctx, "select id, phone from leads order by id")
    ]


async def test_a_batch_of_new_messages_runs_no_statement_for_calls_or_found_rows(
    ctx: Context, clock: ManualClock, database_dsn: str
) -> None:
    """Two texts and an email, all new: one insert into messages (its statement triggers
    once), no insert into calls (its triggers not at all), no claim_messages; every row
    comes back, the first text and the email claimed by the write, the second queued."""
    (a, phone_a), (b, phone_b) = await _leads(ctx, 2)
    items = [_text("t0", phone_a, a), _email("e0", a), _text("t1", phone_b, b)]
    rows, calls = _write_watched(database_dsn, items, clock.now(), {"sms": 1, "email": 1})
    assert rows == [("e0", "message", "sending", "claimed"), ("t0", "message", "sending",
                    "claimed"), ("t1", "message", "queued", None)]  # fmt: skip
    assert calls == {"claim_messages": 0, "status_stale_new_rows": 1, "scoring_mark_new_rows": 1}
    assert await query(ctx, "select count(*) n from calls") == [{"n": 0}]


async def test_a_batch_with_a_call_writes_it_and_returns_it(
    ctx: Context, clock: ManualClock, database_dsn: str
) -> None:
    """A call step in the batch: the call is written queued and returned beside the texts
    (the insert into calls runs, its statement triggers with it)."""
    [(lead, phone)] = await _leads(ctx, 1)
    items = [_text("t0", phone, lead), _call("c0", phone, lead)]
    rows, calls = _write_watched(database_dsn, items, clock.now(), {"sms": 1})
    assert rows == [("c0", "call", "queued", None), ("t0", "message", "sending", "claimed")]
    assert calls["status_stale_new_rows"] == 2 and calls["scoring_mark_new_rows"] == 2
    stored = await query(ctx, "select idempotency_key, status, lead_id from calls")
    assert stored == [{"idempotency_key": "c0", "status": "queued", "lead_id": lead}]


async def test_a_re_run_finds_its_rows_and_claims_those_to_claim(
    ctx: Context, clock: ManualClock, database_dsn: str
) -> None:
    """A run that died after its write is run again: the same keys find the rows written
    before (no second row); a queued one to claim is claimed by claim_messages, a row
    already sending is 'busy', one not to claim comes back as it is."""
    (a, phone_a), (b, phone_b) = await _leads(ctx, 2)
    first = [_text("t0", phone_a, a), _text("t1", phone_b, b), _email("e0", a)]
    _write_watched(database_dsn, first, clock.now(), {"sms": 1})
    rows, calls = _write_watched(database_dsn, first, clock.now(), {"sms": 2})
    assert rows == [("e0", "message", "queued", None), ("t0", "message", "sending", "busy"),
                    ("t1", "message", "sending", "claimed")]  # fmt: skip
    assert calls["claim_messages"] == 1
    assert await query(ctx, "select count(*) n from messages") == [{"n": 3}]
