"""Alerts: routing by severity, dedupe, grouping, flap protection, repeat, ACK, escalation,
resolve, silences — through the dry-run providers, over a real Postgres, on a ManualClock."""

from __future__ import annotations

from datetime import timedelta

from app.alerts import flush_alerts
from app.core.clock import ManualClock
from app.jobs.alerting import alert_dispatch
from tests.alerts.support import (
    EMAIL,
    ESCALATION,
    PHONE,
    STRANGER,
    MakeCtx,
    alert_messages,
    query,
    sent_to,
)

WINDOW = timedelta(seconds=30)


async def test_critical_goes_by_sms_and_email_warning_by_email_info_only_to_logs(
    make_ctx: MakeCtx, clock: ManualClock, database_dsn: str
) -> None:
    ctx = await make_ctx()
    await ctx.alerts.raise_alert("job.drip.down", "critical", "drip is down")
    await ctx.alerts.raise_alert("probe.resend.down", "warning", "resend unhealthy")
    await ctx.alerts.raise_alert("demo.info", "info", "an informational note", {"n": 1})
    clock.advance(WINDOW)
    report = await flush_alerts(alert_dispatch(ctx))

    assert report.outcomes == {"sent": 2}
    sms, email = sent_to(database_dsn, PHONE), sent_to(database_dsn, EMAIL)
    assert [m["channel"] for m in sms + email] == ["sms", "email"]
    assert "job.drip.down" in sms[0]["payload"]["body"]
    assert "probe.resend.down" not in sms[0]["payload"]["body"]  # a warning never pages
    assert "job.drip.down" in email[0]["payload"]["text"]
    assert "probe.resend.down" in email[0]["payload"]["text"]
    assert "demo.info" not in email[0]["payload"]["text"]
    assert all(m["status"] == "dry_run" and m["provider"] == "dryrun" for m in sms + email)
    logs = query(database_dsn, "select message, context from system_logs where source = 'alert'")
    assert logs == [
        {"message": "an informational note", "context": {"key": "demo.info", "details": {"n": 1}}}
    ]


async def test_raising_a_firing_alert_again_counts_it_and_sends_nothing_new(
    make_ctx: MakeCtx, clock: ManualClock, database_dsn: str
) -> None:
    ctx = await make_ctx()
    first = await ctx.alerts.raise_alert("job.drip.down", "critical", "drip is down")
    clock.advance(WINDOW)
    await flush_alerts(alert_dispatch(ctx))
    clock.advance(timedelta(minutes=5))
    again = await ctx.alerts.raise_alert("job.drip.down", "critical", "drip is still down")
    await flush_alerts(alert_dispatch(ctx))

    assert (again.id, again.code, again.count) == (first.id, first.code, 2)
    assert again.last_seen_at == clock.now() and again.title == "drip is still down"
    assert len(alert_messages(database_dsn)) == 2  # the first SMS + email only


async def test_alerts_raised_within_the_window_go_out_as_one_message(
    make_ctx: MakeCtx, clock: ManualClock, database_dsn: str
) -> None:
    ctx = await make_ctx()
    await ctx.alerts.raise_alert("job.drip.down", "critical", "drip is down")
    clock.advance(timedelta(seconds=10))
    await ctx.alerts.raise_alert("job.growth.down", "critical", "growth is down")
    early = await flush_alerts(alert_dispatch(ctx))  # the first is only 10 s old: held
    clock.advance(WINDOW)
    await flush_alerts(alert_dispatch(ctx))

    assert early.enqueued == 0
    (sms,) = sent_to(database_dsn, PHONE)
    assert sms["payload"]["body"].startswith("nightshift: 2 alerts")
    assert "job.drip.down" in sms["payload"]["body"]
    assert "job.growth.down" in sms["payload"]["body"]
    assert len(sent_to(database_dsn, EMAIL)) == 1


async def test_an_alert_resolved_within_the_window_sends_nothing(
    make_ctx: MakeCtx, clock: ManualClock, database_dsn: str
) -> None:
    ctx = await make_ctx()
    await ctx.alerts.raise_alert("probe.twilio.down", "critical", "twilio unhealthy")
    clock.advance(timedelta(seconds=10))
    resolved = await ctx.alerts.resolve_alert("probe.twilio.down")
    clock.advance(timedelta(minutes=10))
    report = await flush_alerts(alert_dispatch(ctx))

    assert resolved is not None and resolved.status == "resolved"
    assert report.due == 0 and alert_messages(database_dsn) == []


async def test_firing_unacknowledged_alerts_repeat_at_their_severitys_interval(
    make_ctx: MakeCtx, clock: ManualClock, database_dsn: str
) -> None:
    ctx = await make_ctx(oncall_escalation_phones="")
    await ctx.alerts.raise_alert("job.drip.down", "critical", "drip is down")
    await ctx.alerts.raise_alert("job.drip.late", "warning", "drip is late")
    clock.advance(WINDOW)
    await flush_alerts(alert_dispatch(ctx))
    clock.advance(timedelta(minutes=29))
    await flush_alerts(alert_dispatch(ctx))
    assert len(sent_to(database_dsn, PHONE)) == 1  # 29 min: no repeat yet
    clock.advance(timedelta(minutes=1))
    await flush_alerts(alert_dispatch(ctx))
    sms = sent_to(database_dsn, PHONE)
    assert len(sms) == 2 and sms[1]["payload"]["body"].startswith("[REPEAT CRIT] job.drip.down")

    clock.advance(timedelta(hours=3, minutes=30))  # 4 h since the warning's first email
    await flush_alerts(alert_dispatch(ctx))
    emails = [m["payload"]["text"] for m in sent_to(database_dsn, EMAIL)]
    assert sum("[REPEAT WARN] job.drip.late" in text for text in emails) == 1


async def test_ack_by_sms_from_an_oncall_phone_stops_repeats_and_escalation(
    make_ctx: MakeCtx, clock: ManualClock, database_dsn: str
) -> None:
    ctx = await make_ctx()
    alert = await ctx.alerts.raise_alert("job.drip.down", "critical", "drip is down")
    clock.advance(WINDOW)
    await flush_alerts(alert_dispatch(ctx))

    refused = await ctx.alerts.handle_sms_reply(STRANGER, f"ACK {alert.code}")
    not_ack = await ctx.alerts.handle_sms_reply(PHONE, "hello")
    reply = await ctx.alerts.handle_sms_reply(PHONE, f" ack {alert.code.lower()} ")
    clock.advance(timedelta(hours=2))
    await flush_alerts(alert_dispatch(ctx))

    assert refused is None and not_ack is None
    assert reply == f"nightshift: job.drip.down acknowledged ({alert.code}); repeats stopped."
    (row,) = query(database_dsn, "select acknowledged_by from alerts where id = %s", alert.id)
    assert row["acknowledged_by"] == PHONE
    assert len(sent_to(database_dsn, PHONE)) == 1  # no repeat
    assert sent_to(database_dsn, ESCALATION) == []  # no escalation


async def test_ack_with_an_unknown_code_says_so(make_ctx: MakeCtx) -> None:
    ctx = await make_ctx()
    assert await ctx.alerts.acknowledge("ZZZZ", "me") is None
    assert await ctx.alerts.handle_sms_reply(PHONE, "ACK ZZZZ") == (
        "nightshift: no firing alert with code ZZZZ."
    )


async def test_unacknowledged_critical_escalates_after_15_minutes_once(
    make_ctx: MakeCtx, clock: ManualClock, database_dsn: str
) -> None:
    ctx = await make_ctx()
    await ctx.alerts.raise_alert("job.drip.down", "critical", "drip is down")
    await ctx.alerts.raise_alert("job.drip.late", "warning", "drip is late")  # never escalates
    clock.advance(WINDOW)
    await flush_alerts(alert_dispatch(ctx))
    clock.advance(timedelta(minutes=14))
    await flush_alerts(alert_dispatch(ctx))
    assert sent_to(database_dsn, ESCALATION) == []
    clock.advance(timedelta(minutes=1))
    await flush_alerts(alert_dispatch(ctx))
    clock.advance(timedelta(minutes=5))
    await flush_alerts(alert_dispatch(ctx))

    (escalated,) = sent_to(database_dsn, ESCALATION)
    assert escalated["channel"] == "sms"
    assert escalated["payload"]["body"].startswith("[ESCALATED CRIT] job.drip.down")


async def test_resolution_is_sent_on_the_channels_that_were_notified(
    make_ctx: MakeCtx, clock: ManualClock, database_dsn: str
) -> None:
    ctx = await make_ctx()
    await ctx.alerts.raise_alert("probe.resend.down", "warning", "resend unhealthy")
    clock.advance(WINDOW)
    await flush_alerts(alert_dispatch(ctx))
    await ctx.alerts.resolve_alert("probe.resend.down")
    await flush_alerts(alert_dispatch(ctx))
    await flush_alerts(alert_dispatch(ctx))  # sent once only

    emails = sent_to(database_dsn, EMAIL)
    assert len(emails) == 2
    assert (
        emails[1]["payload"]["subject"]
        == "[nightshift] [RESOLVED WARN] probe.resend.down: resend unhealthy"
    )
    assert sent_to(database_dsn, PHONE) == []  # the warning never went by SMS


async def test_a_silenced_key_is_recorded_but_not_sent_until_the_silence_ends(
    make_ctx: MakeCtx, clock: ManualClock, database_dsn: str
) -> None:
    ctx = await make_ctx()
    await ctx.alerts.silence("job.drip.*", timedelta(hours=2), "maintenance")
    await ctx.alerts.raise_alert("job.drip.down", "critical", "drip is down")
    await ctx.alerts.raise_alert("job.growth.down", "critical", "growth is down")
    clock.advance(WINDOW)
    await flush_alerts(alert_dispatch(ctx))
    (sms,) = sent_to(database_dsn, PHONE)
    assert "job.growth.down" in sms["payload"]["body"]
    assert "job.drip.down" not in sms["payload"]["body"]
    listed = {i.alert.key: i.silenced for i in await ctx.repos.alerts.list_alerts(clock.now())}
    assert listed == {"job.drip.down": True, "job.growth.down": False}

    clock.advance(timedelta(hours=2))
    await flush_alerts(alert_dispatch(ctx))
    assert "job.drip.down" in sent_to(database_dsn, PHONE)[-1]["payload"]["body"]


async def test_concurrent_flushes_send_each_notification_once(
    make_ctx: MakeCtx, clock: ManualClock, database_dsn: str
) -> None:
    import asyncio

    ctx = await make_ctx()
    await ctx.alerts.raise_alert("job.drip.down", "critical", "drip is down")
    clock.advance(WINDOW)
    await asyncio.gather(flush_alerts(alert_dispatch(ctx)), flush_alerts(alert_dispatch(ctx)))

    messages = alert_messages(database_dsn)
    assert sorted(m["to_address"] for m in messages) == sorted([PHONE, EMAIL])
    assert all(m["status"] == "dry_run" for m in messages)


async def test_a_warning_raised_again_as_critical_pages_at_the_higher_tier(
    make_ctx: MakeCtx, clock: ManualClock, database_dsn: str
) -> None:
    ctx = await make_ctx()
    await ctx.alerts.raise_alert("probe.twilio.down", "warning", "twilio slow")
    clock.advance(WINDOW)
    await flush_alerts(alert_dispatch(ctx))
    assert sent_to(database_dsn, PHONE) == []
    upgraded = await ctx.alerts.raise_alert("probe.twilio.down", "critical", "twilio down")
    await flush_alerts(alert_dispatch(ctx))

    assert upgraded.severity == "critical" and upgraded.count == 2
    (sms,) = sent_to(database_dsn, PHONE)
    assert sms["payload"]["body"].startswith("[CRIT] probe.twilio.down: twilio down (x2)")
