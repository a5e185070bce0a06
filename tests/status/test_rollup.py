"""The status page's windowed sections come from closed hours kept once (issue 19; migration
20261208110000): each refresh sums only the hours that closed or changed since the last one,
and the page shows exactly what the rows alone give (internal.status_aggregates, the former
computation), including changes that land on old rows after their hour was kept: a late
bounce callback, a lead that replies weeks after it arrived, a call's outcome reported late,
a send recorded with an old created_at, and an erased lead (GDPR) gone from every count."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest

from app.core.clock import ManualClock
from app.db.console import ConsoleRepository
from app.jobs.bootstrap import Context

TZ = "America/Chicago"  # the windows span the end of daylight saving time (Nov 1)
STATUSES = ("new", "contacted", "engaged", "booked", "customer", "lost", "do_not_contact")
OUTCOMES = ("answered", "no_answer", "voicemail", None, "booked")
SENDS = ("delivered", "bounced", "complained", "undelivered", "opened", "clicked")


def history(dsn: str, now: datetime) -> None:
    """40 days of leads, calls and sends before `now`, at odd minutes (not hour-aligned)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("insert into campaigns (slug, name) values ('spring', 'Spring'),"
                     " ('fall', 'Fall')")  # fmt: skip
        ids = [r[0] for r in conn.execute("select id from campaigns order by slug")]
        for i in range(190):  # a lead every ~5 h
            at = now - timedelta(days=40) + timedelta(minutes=307 * i)
            contacted = at if i % 4 == 1 else None
            conn.execute(
                "insert into leads (name, phone, status, last_contacted_at, created_at)"
                " values (%s, %s, %s, %s, %s)",
                (f"Lead {i}", f"+1312555{i:04d}", STATUSES[i % 7], contacted, at),
            )
        for i in range(70):  # a call every ~7 h over 20 days
            at = now - timedelta(days=20) + timedelta(minutes=411 * i)
            conn.execute(
                "insert into calls (idempotency_key, to_number, status, outcome, created_at)"
                " values (%s, '+13125550000', %s, %s, %s)",
                (f"c{i}", "ended" if OUTCOMES[i % 5] else "failed", OUTCOMES[i % 5], at),
            )
        for i in range(320):  # a send every ~3 h
            at = now - timedelta(days=40) + timedelta(minutes=181 * i)
            conn.execute(
                "insert into messages (idempotency_key, campaign_id, channel, kind, provider,"
                " to_address, status, error_code, created_at, sent_at)"
                " values (%s, %s, 'sms', %s, 'twilio', '+13125550000', %s, %s, %s, %s)",
                (f"m{i}", None if i % 11 == 0 else ids[i % 2],
                 "transactional" if i % 13 == 0 else "marketing", SENDS[i % 6],
                 "30007" if i % 6 == 3 else None, at, None if i % 17 == 0 else at),
            )  # fmt: skip


def check(dsn: str, tz: str, now: datetime) -> dict[str, Any]:
    """The cached sections (the refresh's), asserted equal, as text, to the rows alone."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "select c.value::text, internal.status_aggregates(%s, %s)::text, c.value"
            " from status_cache c where c.tz = %s",
            (tz, now, tz),
        ).fetchone()
    assert row is not None
    assert row[0] == row[1]
    value: dict[str, Any] = row[2]
    return value


def hours_summed(dsn: str, now: datetime) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("select internal.status_rollup(%s)", (now,)).fetchone()
    assert row is not None
    return int(row[0])


def funnel(value: dict[str, Any], days: int) -> dict[str, int]:
    [window] = [f for f in value["funnel"] if f["days"] == days]
    return {k: int(v) for k, v in window.items()}


def sends(value: dict[str, Any], campaign: str) -> dict[str, Any]:
    [row] = [d for d in value["deliverability"] if d["campaign"] == campaign]
    return dict(row)


async def test_late_changes_count_where_they_counted_before(
    ctx: Context, clock: ManualClock, database_dsn: str
) -> None:
    now = clock.now() + timedelta(minutes=23)
    history(database_dsn, now)
    await ctx.repos.appointments.status_refresh(TZ, now)
    before = check(database_dsn, TZ, now)
    assert funnel(before, 30)["leads"] > funnel(before, 7)["leads"] > 0

    # an hour later, changes to rows whose hours are kept
    with psycopg.connect(database_dsn, autocommit=True) as conn:
        # a carrier's bounce for a 10-day-old delivered send
        conn.execute(
            "update messages set status = 'bounced' where id = (select min(id) from messages"
            " where status = 'delivered' and kind = 'marketing' and sent_at is not null"
            " and campaign_id is not null and created_at between %s and %s)",
            (now - timedelta(days=12), now - timedelta(days=10)),
        )
        # a lead from 20 days ago replies: engaged
        conn.execute(
            "update leads set status = 'engaged' where id = (select min(id) from leads"
            " where status = 'new' and created_at < %s and created_at > %s)",
            (now - timedelta(days=20), now - timedelta(days=25)),
        )
        # a call of 5 days ago reported late: booked
        conn.execute(
            "update calls set status = 'ended', outcome = 'booked' where id = (select min(id)"
            " from calls where outcome is null and created_at < %s)",
            (now - timedelta(days=5),),
        )
        # a send recorded late, with its 3-day-old created_at
        conn.execute(
            "insert into messages (idempotency_key, campaign_id, channel, kind, provider,"
            " to_address, status, created_at, sent_at) values ('late', (select id from"
            " campaigns where slug = 'fall'), 'email', 'marketing', 'resend', 'a@example.com',"
            " 'complained', %s, %s)",
            (now - timedelta(days=3), now - timedelta(days=3)),
        )
        lead = conn.execute(
            "select id from leads where status = 'booked' and created_at > %s"
            " order by created_at limit 1",
            (now - timedelta(days=7),),
        ).fetchone()
    assert lead is not None
    assert await ConsoleRepository(ctx.transport).erase(lead[0], "s-1", now)

    later = now + timedelta(hours=1)
    await ctx.repos.appointments.status_refresh(TZ, later)
    after = check(database_dsn, TZ, later)
    spring, fall = sends(before, "spring"), sends(after, "fall")
    assert sends(after, "spring")["bounced"] + sends(after, "fall")["bounced"] == (
        spring["bounced"] + sends(before, "fall")["bounced"] + 1
    )
    assert fall["complained"] == sends(before, "fall")["complained"] + 1
    # the erased lead is gone from both windows (it was booked, within 7 days)
    assert funnel(after, 7)["booked"] == funnel(before, 7)["booked"] - 1
    assert funnel(after, 30)["replied"] >= funnel(before, 30)["replied"]


async def test_a_refresh_sums_only_the_hours_that_closed_or_changed(
    ctx: Context, clock: ManualClock, database_dsn: str
) -> None:
    now = clock.now() + timedelta(minutes=5)
    history(database_dsn, now)
    # the first: every whole hour of the 30 days (the first, partial one is read from rows)
    assert hours_summed(database_dsn, now) == 30 * 24 - 1
    assert hours_summed(database_dsn, now + timedelta(minutes=50)) == 0  # same hour
    assert hours_summed(database_dsn, now + timedelta(hours=1)) == 1  # the hour that closed
    with psycopg.connect(database_dsn, autocommit=True) as conn:
        conn.execute("update leads set score = 50")  # not on the page: no hour changes
        assert hours_summed(database_dsn, now + timedelta(hours=1)) == 0
        conn.execute(
            "update messages set status = 'complained' where id = (select min(id) from"
            " messages where kind = 'marketing' and sent_at is not null and status = 'delivered'"
            " and created_at > %s)",
            (now - timedelta(days=9),),
        )
    assert hours_summed(database_dsn, now + timedelta(hours=1)) == 1  # that send's hour


@pytest.mark.parametrize("tz", ["Asia/Kolkata", "America/St_Johns", "UTC"])
async def test_zones_off_the_hour_show_the_same_calls_per_day(
    ctx: Context, clock: ManualClock, database_dsn: str, tz: str
) -> None:
    now = clock.now() + timedelta(minutes=41)
    history(database_dsn, now)
    for at in (now, now + timedelta(hours=1, minutes=19), now + timedelta(hours=3)):
        await ctx.repos.appointments.status_refresh(tz, at)
        assert check(database_dsn, tz, at)["calls_per_day"]


async def test_on_the_hour_and_with_nothing_yet(
    ctx: Context, clock: ManualClock, database_dsn: str
) -> None:
    now = clock.now()  # 15:00 exactly: the windows' edges fall on hour boundaries
    await ctx.repos.appointments.status_refresh(TZ, now)
    empty = check(database_dsn, TZ, now)
    assert funnel(empty, 30)["leads"] == 0 and empty["deliverability"] == []
    history(database_dsn, now)
    with psycopg.connect(database_dsn, autocommit=True) as conn:  # a lead at `now` exactly
        conn.execute("insert into leads (name, phone, created_at) values ('Edge',"
                     " '+13125559999', %s)", (now,))  # fmt: skip
    await ctx.repos.appointments.status_refresh(TZ, now)
    assert funnel(check(database_dsn, TZ, now), 7)["leads"] > 0
