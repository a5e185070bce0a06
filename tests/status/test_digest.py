"""The daily digest: its numbers on a hand-built day, the local-hour gate, once per day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from structlog.testing import capture_logs

from app.appointments.digest import build_digest, day_window, maybe_send_digest
from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from tests.appointments.helpers import rows
from tests.status.seed import seed

DAY = date(2026, 11, 25)  # America/Chicago; the clock starts 2026-11-26 09:00 CST
DAY_START = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


async def _maybe_send(ctx: Context) -> bool:
    return await maybe_send_digest(
        ctx.repos.appointments,
        ctx.clock,
        ctx.settings,
        ctx.providers.delivery,
        email_provider=ctx.providers.email.name,
    )


async def test_numbers_of_a_hand_built_day(ctx: Context, database_dsn: str) -> None:
    seed(database_dsn, DAY_START)
    digest = await build_digest(ctx.repos.appointments, ctx.clock.now(), ctx.settings)
    n = digest.numbers
    assert digest.day == DAY
    assert n["leads"] == 3  # the fourth was created at 22:00 the evening before
    assert n["messages"] == {"email": 2, "sms": 1} and n["transactional"] == 1
    assert n["replies"] == 2
    assert n["calls"] == {"booked": 1, "no_answer": 2}
    assert (n["bookings"], n["no_shows"], n["opt_outs"]) == (1, 1, 1)
    assert [h["name"] for h in n["hot_leads"]] == ["B"]  # the booked hot lead needs no call
    assert (n["alerts_fired"], n["alerts_resolved"]) == (2, 1)
    assert "Calls: 3 (booked 1, no_answer 2)" in digest.text
    assert "Bookings: 1   No-shows: 1   Opt-outs: 1" in digest.text


def test_day_window_is_local_and_dst_safe() -> None:
    from zoneinfo import ZoneInfo

    start, end = day_window(date(2026, 11, 1), ZoneInfo("America/Chicago"))
    assert end - start == timedelta(hours=25)  # the day DST ends
    assert start.astimezone(UTC) == datetime(2026, 11, 1, 5, 0, tzinfo=UTC)


async def test_sent_once_per_local_day_after_the_digest_hour(
    ctx: Context, clock: ManualClock, database_dsn: str
) -> None:
    seed(database_dsn, DAY_START)
    clock.set(datetime(2026, 11, 26, 12, 59, tzinfo=UTC))  # 06:59 CST: too early
    assert await _maybe_send(ctx) is False
    clock.set(datetime(2026, 11, 26, 13, 0, tzinfo=UTC))  # 07:00 CST
    assert await _maybe_send(ctx) is True
    clock.set(datetime(2026, 11, 27, 5, 0, tzinfo=UTC))  # 23:00 CST, same local day
    assert await _maybe_send(ctx) is False
    sent = rows(
        database_dsn,
        "select idempotency_key, to_address, status, payload->>'subject' s"
        " from messages where idempotency_key like 'digest:%%'",
    )
    assert [(m["idempotency_key"], m["to_address"], m["status"]) for m in sent] == [
        ("digest:2026-11-25:owner@example.com", "owner@example.com", "dry_run")
    ]
    assert "digest for Wed Nov 25" in sent[0]["s"]
    clock.set(datetime(2026, 11, 27, 13, 30, tzinfo=UTC))  # next morning: the next day's
    assert await _maybe_send(ctx) is True


async def test_without_recipients_warns_once_a_day_and_sends_nothing(
    ctx: Context, clock: ManualClock, database_dsn: str
) -> None:
    """An owner who never set OPERATOR_EMAILS: one warning a day (the 07:00 run), not one
    every hour from 07:00 to midnight; nothing written, nothing sent."""
    seed(database_dsn, DAY_START)
    settings = ctx.settings.model_copy(update={"operator_emails": [], "oncall_emails": []})
    warned = []
    for hour in range(24):  # the hourly growth runs of 2026-11-26, Chicago (UTC-6)
        clock.set(datetime(2026, 11, 26, 6, 0, tzinfo=UTC) + timedelta(hours=hour))
        with capture_logs() as events:
            sent = await maybe_send_digest(
                ctx.repos.appointments, clock, settings, ctx.providers.delivery,
                email_provider=ctx.providers.email.name,
            )  # fmt: skip
        assert sent is False
        warned += [hour for e in events if e["log_level"] == "warning"]
    assert warned == [7]
    digests = "select id from messages where idempotency_key like 'digest:%%'"
    assert rows(database_dsn, digests) == []
