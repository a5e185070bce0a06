"""Test-only builders of history (the app writes through functions; tests may seed rows
directly to build a known past)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb

from app.db.transport import PostgresTransport
from app.jobs.bootstrap import Context


async def execute(ctx: Context, sql: str, *params: Any) -> list[dict[str, Any]]:
    from psycopg.rows import dict_row

    pg = ctx.transport
    assert isinstance(pg, PostgresTransport)
    async with pg._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, params)
        return list(await cur.fetchall()) if cur.description else []


async def lead(ctx: Context, n: int, created: datetime, **fields: Any) -> int:
    cols = {
        "name": f"Lead {n}",
        "phone": f"+1212555{n:04d}",
        "email": f"lead{n}@example.com",
        "created_at": created,
        **fields,
    }
    names = ", ".join(cols)
    marks = ", ".join(["%s"] * len(cols))
    rows = await execute(
        ctx, f"insert into leads ({names}) values ({marks}) returning id", *cols.values()
    )
    return int(rows[0]["id"])


async def message(
    ctx: Context, lead_id: int, channel: str, sent: datetime, status: str = "sent", **fields: Any
) -> int:
    payload = fields.pop("payload", {})
    # an open or click is known when its webhook came: status_history (default: at the send)
    seen = fields.pop("seen_at", sent)
    history = (
        [{"status": status, "at": seen.isoformat()}] if status in ("opened", "clicked") else []
    )
    cols = {
        "idempotency_key": uuid.uuid4().hex,
        "lead_id": lead_id,
        "channel": channel,
        "provider": "dryrun",
        "to_address": fields.pop("to_address", "x@example.com"),
        "status": status,
        "sent_at": sent,
        "created_at": sent,
        "updated_at": sent,
        "payload": Jsonb(payload),
        "status_history": Jsonb(history),
        **fields,
    }
    names = ", ".join(cols)
    marks = ", ".join(["%s"] * len(cols))
    rows = await execute(
        ctx, f"insert into messages ({names}) values ({marks}) returning id", *cols.values()
    )
    return int(rows[0]["id"])


async def click(ctx: Context, lead_id: int, message_id: int | None, at: datetime) -> None:
    await execute(
        ctx,
        "insert into click_events (token, message_id, lead_id, url, clicked_at) "
        "values ('t', %s, %s, 'https://example.com', %s)",
        message_id,
        lead_id,
        at,
    )


async def sms_reply(ctx: Context, phone: str, at: datetime) -> None:
    await execute(
        ctx,
        "insert into webhook_events (provider, dedupe_key, event_type, payload, "
        "received_at) values ('twilio', %s, 'sms.reply', %s, %s)",
        uuid.uuid4().hex,
        Jsonb({"From": phone, "Body": "yes"}),
        at,
    )


async def call(
    ctx: Context,
    lead_id: int,
    outcome: str,
    ended: datetime,
    *,
    state_started: datetime | None = None,
    **fields: Any,
) -> int:
    cols = {
        "idempotency_key": uuid.uuid4().hex,
        "lead_id": lead_id,
        "to_number": "+12125550000",
        "status": "ended",
        "outcome": outcome,
        "ended_at": ended,
        "started_at": state_started or ended,
        "created_at": ended,
        "placed_at": state_started or ended,
        "report_received_at": ended,  # the end-of-call report came at the end
        **fields,
    }
    names = ", ".join(cols)
    marks = ", ".join(["%s"] * len(cols))
    rows = await execute(
        ctx, f"insert into calls ({names}) values ({marks}) returning id", *cols.values()
    )
    return int(rows[0]["id"])


async def appointment(ctx: Context, lead_id: int, created: datetime) -> None:
    await execute(
        ctx,
        "insert into appointments (lead_id, starts_at, ends_at, created_at) "
        "values (%s, %s, %s + interval '1 hour', %s)",
        lead_id,
        created,
        created,
        created,
    )


async def scored_calls(ctx: Context, lead: int, ended: datetime, scores: list[int]) -> None:
    """Answered calls of `lead` ten minutes apart from `ended`, each with its quality score."""
    for i, score in enumerate(scores):
        at = ended + i * timedelta(minutes=10)
        made = await call(ctx, lead, "answered", at, connected_at=at, duration_seconds=180)
        await execute(
            ctx, "insert into call_quality (call_id, score, scored_at) values (%s, %s, %s)",
            made, score, at,
        )  # fmt: skip
