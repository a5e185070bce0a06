"""The appointments loop: confirmation, reminders at the right instants (across DST), the
quiet-hours shift, no-show, rescheduling and exactly-once under concurrent runs."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta

from app.appointments.loop import run
from app.core.clock import ManualClock
from app.jobs.appointments import appointment_deps
from app.jobs.bootstrap import Context
from tests.appointments.helpers import book, keys, messages, plan_rows, rows

# US DST starts Sunday 2027-03-14 at 02:00 local. Reminders are absolute hours before the
# start: for Sunday 10:00 EDT the 24 h reminder is Saturday 09:00 EST (same UTC instant).
BEFORE_DST = datetime(2027, 3, 12, 15, 0, tzinfo=UTC)  # Friday 10:00 EST
MONDAY_10_EDT = datetime(2027, 3, 15, 14, 0, tzinfo=UTC)
SUNDAY_9_EDT = datetime(2027, 3, 14, 13, 0, tzinfo=UTC)  # Sunday 09:00 EDT


async def test_confirmation_and_reminders_at_their_instants_across_dst(
    ctx: Context, clock: ManualClock, database_dsn: str
) -> None:
    clock.set(BEFORE_DST)
    # Sunday 10:00 EDT (14:00 UTC); 24 h before is Saturday 09:00 EST (14:00 UTC)
    starts = datetime(2027, 3, 14, 14, 0, tzinfo=UTC)
    a = await book(ctx, starts)
    counts = await run(appointment_deps(ctx))
    assert counts["planned"] == 7 and counts["sent"] == 2
    assert keys(database_dsn, a.id) == [
        f"appt:{a.id}:v1:confirmation:email", f"appt:{a.id}:v1:confirmation:sms"
    ]  # fmt: skip
    sms = messages(database_dsn, a.id)[1]
    assert "Sun, Mar 14 at 10:00 AM EDT" in sms["payload"]["body"]
    plan = plan_rows(database_dsn, a.id)
    assert plan[(1, "reminder_24h", "sms")]["due_at"] == starts - timedelta(hours=24)
    assert plan[(1, "reminder_24h", "email")]["due_at"] == datetime(2027, 3, 13, 14, 0, tzinfo=UTC)
    assert plan[(1, "reminder_1h", "sms")]["due_at"] == datetime(2027, 3, 14, 13, 0, tzinfo=UTC)
    clock.set(datetime(2027, 3, 13, 13, 59, tzinfo=UTC))
    await run(appointment_deps(ctx))
    assert len(keys(database_dsn, a.id)) == 2  # one minute early: nothing
    clock.set(datetime(2027, 3, 13, 14, 2, tzinfo=UTC))
    await run(appointment_deps(ctx))
    assert keys(database_dsn, a.id)[2:] == [
        f"appt:{a.id}:v1:reminder_24h:email", f"appt:{a.id}:v1:reminder_24h:sms"
    ]  # fmt: skip
    clock.set(datetime(2027, 3, 14, 13, 1, tzinfo=UTC))  # 09:01 EDT, after the change
    await run(appointment_deps(ctx))
    assert keys(database_dsn, a.id)[4:] == [
        f"appt:{a.id}:v1:reminder_1h:email", f"appt:{a.id}:v1:reminder_1h:sms"
    ]  # fmt: skip
    assert all(m["status"] == "dry_run" for m in messages(database_dsn, a.id))


async def test_confirmation_email_carries_the_ics_invite(
    ctx: Context, clock: ManualClock, database_dsn: str
) -> None:
    clock.set(BEFORE_DST)
    a = await book(ctx, MONDAY_10_EDT)
    await run(appointment_deps(ctx))
    email = messages(database_dsn, a.id)[0]
    request = email["payload"]["request"]["json"]  # what the dry run would have sent
    [attachment] = request["attachments"]
    assert attachment["filename"] == "invite.ics"
    assert attachment["content_type"] == "text/calendar"
    ics = base64.b64decode(attachment["content"]).decode()
    assert "DTSTART:20270315T140000Z\r\n" in ics and "DTEND:20270315T150000Z\r\n" in ics
    assert f"UID:appointment-{a.id}@" in ics and "SEQUENCE:0" in ics
    assert "Mon, Mar 15 at 10:00 AM EDT" in email["payload"]["subject"]


async def test_sms_reminder_at_night_moves_to_the_latest_permitted_time_before(
    ctx: Context, clock: ManualClock, database_dsn: str
) -> None:
    clock.set(BEFORE_DST)
    starts = datetime(2027, 3, 16, 12, 30, tzinfo=UTC)  # Tuesday 08:30 EDT
    a = await book(ctx, starts)
    await run(appointment_deps(ctx))
    plan = plan_rows(database_dsn, a.id)
    # 1 h before is 07:30, before the federal 8 a.m.: the text goes the evening before, at
    # 20:44 EDT (21:00 minus the 15-minute send margin minus a minute); the email stays.
    assert plan[(1, "reminder_1h", "email")]["due_at"] == starts - timedelta(hours=1)
    shifted = plan[(1, "reminder_1h", "sms")]["due_at"]
    assert shifted == datetime(2027, 3, 16, 0, 44, tzinfo=UTC)
    assert plan[(1, "reminder_24h", "sms")]["due_at"] == starts - timedelta(hours=24)
    clock.set(shifted + timedelta(minutes=4))  # the 5-minute cron comes a little later
    await run(appointment_deps(ctx))
    assert f"appt:{a.id}:v1:reminder_1h:sms" in keys(database_dsn, a.id)
    sent_at = messages(database_dsn, a.id)[-1]["sent_at"]
    assert sent_at.astimezone(UTC).hour == 0  # 20:48 EDT: never in the night


async def test_no_show_gets_one_follow_up_and_is_marked(
    ctx: Context, clock: ManualClock, database_dsn: str
) -> None:
    clock.set(BEFORE_DST)
    a = await book(ctx, MONDAY_10_EDT)
    await run(appointment_deps(ctx))
    clock.set(MONDAY_10_EDT + timedelta(minutes=60 + 29))
    await run(appointment_deps(ctx))
    assert not any(":no_show:" in k for k in keys(database_dsn, a.id))
    clock.set(MONDAY_10_EDT + timedelta(minutes=60 + 31))
    await run(appointment_deps(ctx))
    await run(appointment_deps(ctx))
    follow_ups = [m for m in messages(database_dsn, a.id) if ":no_show:" in m["idempotency_key"]]
    assert len(follow_ups) == 1 and follow_ups[0]["channel"] == "sms"
    assert "Pick a new time" in follow_ups[0]["payload"]["body"]
    status = rows(database_dsn, "select status from appointments where id = %s", (a.id,))
    assert status == [{"status": "no_show"}]


async def test_completed_appointment_gets_no_follow_up(
    ctx: Context, clock: ManualClock, database_dsn: str
) -> None:
    clock.set(BEFORE_DST)
    a = await book(ctx, MONDAY_10_EDT)
    await run(appointment_deps(ctx))
    clock.set(MONDAY_10_EDT + timedelta(minutes=50))
    done = await ctx.repos.appointments.complete(a.id, clock.now())
    assert done.outcome == "completed"
    clock.set(MONDAY_10_EDT + timedelta(hours=3))
    await run(appointment_deps(ctx))
    assert not any(":no_show:" in k for k in keys(database_dsn, a.id))
    status = rows(database_dsn, "select status from appointments where id = %s", (a.id,))
    assert status == [{"status": "completed"}]


async def test_rescheduling_cancels_the_old_reminders_and_plans_new_ones(
    ctx: Context, clock: ManualClock, database_dsn: str
) -> None:
    clock.set(BEFORE_DST)
    a = await book(ctx, MONDAY_10_EDT)
    await run(appointment_deps(ctx))
    later = MONDAY_10_EDT + timedelta(days=2)
    moved = await book(ctx, later)  # same external id, new start
    assert moved.id == a.id and moved.version == 2
    plan = plan_rows(database_dsn, a.id)
    old = {r["status"] for (v, kind, _), r in plan.items() if v == 1 and kind != "confirmation"}
    assert old == {"cancelled"}
    await run(appointment_deps(ctx))  # plans v2 and confirms the new time
    assert f"appt:{a.id}:v2:confirmation:sms" in keys(database_dsn, a.id)
    clock.set(MONDAY_10_EDT - timedelta(minutes=59))  # the old 1 h reminder's time
    await run(appointment_deps(ctx))
    assert not any(k.startswith(f"appt:{a.id}:v1:reminder") for k in keys(database_dsn, a.id))
    clock.set(later - timedelta(minutes=59))
    await run(appointment_deps(ctx))
    assert f"appt:{a.id}:v2:reminder_1h:sms" in keys(database_dsn, a.id)


async def test_two_concurrent_runs_never_send_twice(
    ctx: Context, clock: ManualClock, database_dsn: str
) -> None:
    clock.set(BEFORE_DST)
    for n in range(6):
        await book(ctx, MONDAY_10_EDT + timedelta(hours=n), external_id=f"e{n}",
                   phone=f"+1212555010{n}", email=f"p{n}@example.com")  # fmt: skip
    deps = appointment_deps(ctx)
    first = await asyncio.gather(run(deps), run(deps))
    clock.set(MONDAY_10_EDT - timedelta(hours=1) + timedelta(minutes=1))
    second = await asyncio.gather(run(deps), run(deps), run(deps))
    all_keys = keys(database_dsn)
    # each send was claimed and delivered by exactly one of the overlapping runs
    assert sum(r["sent"] for r in first + second) == len(all_keys) == 12 + 12 + 2
    assert sum(r["planned"] for r in first) == 6 * 7  # each version's sends planned once
    assert sum(":confirmation:" in k for k in all_keys) == 12
    assert sum(":reminder_24h:" in k for k in all_keys) == 12
    sent = rows(database_dsn, "select count(*) n, sum(attempts) a from messages")
    assert sent == [{"n": len(all_keys), "a": len(all_keys)}]  # one provider attempt each
