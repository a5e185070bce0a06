"""Shared helpers for the appointments tests: bookings and direct reads of the test database."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from app.db.appointments import Appointment, BookingIn
from app.jobs.bootstrap import Context

NY_PHONE = "+12125550143"  # NY: federal window only


def rows(dsn: str, statement: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return list(conn.execute(statement, params).fetchall())


def execute(dsn: str, statement: str, params: tuple[Any, ...] = ()) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(statement, params)


async def book(
    ctx: Context,
    starts_at: datetime,
    *,
    external_id: str = "ext-1",
    phone: str | None = NY_PHONE,
    email: str | None = "pat@example.com",
    timezone: str = "America/New_York",
    minutes: int = 60,
) -> Appointment:
    ends = starts_at + timedelta(minutes=minutes)
    booking = BookingIn(
        external_id=external_id, starts_at=starts_at, ends_at=ends, name="Pat Lee",
        phone=phone, email=email, timezone=timezone, lead_timezone=timezone,
    )  # fmt: skip
    result = await ctx.repos.appointments.upsert(booking, ctx.clock.now())
    assert result.appointment is not None, result
    return result.appointment


def messages(dsn: str, appointment_id: int | None = None) -> list[dict[str, Any]]:
    """Outbox rows of appointment messages (optionally of one appointment), oldest first."""
    like = f"appt:{appointment_id}:%" if appointment_id else "appt:%"
    return rows(
        dsn,
        "select id, idempotency_key, channel, status, to_address, payload, sent_at, created_at"
        " from messages where idempotency_key like %s order by id",
        (like,),
    )


def keys(dsn: str, appointment_id: int | None = None) -> list[str]:
    return [m["idempotency_key"] for m in messages(dsn, appointment_id)]


def plan_rows(dsn: str, appointment_id: int) -> dict[tuple[int, str, str], dict[str, Any]]:
    found = rows(dsn, "select * from appointment_reminders where appointment_id = %s",
                 (appointment_id,))  # fmt: skip
    return {(r["version"], r["kind"], r["channel"]): r for r in found}
