"""`nightshift webhooks replay` for what happens on calls and calendars (issue 15 item 3):
end-of-call reports, opt-outs said on a call (the `optOut` tool, the transcript) and booking
deliveries go through the live functions again; a second replay changes nothing."""

from __future__ import annotations

import pytest

from app.consent.revocation import Verdict
from app.core.clock import ManualClock
from app.db.webhooks import StoredEvent
from app.jobs.bootstrap import Context
from app.webhooks.replay import replay_event
from tests.consent.test_voice import CALL_ID, DANA, opt_out_call, report_with
from tests.daytime import zone_at_midday
from tests.webhooks.helpers import Db, client, post_vapi, seed_campaign, seed_lead, vapi_time
from tests.webhooks.test_replay import cli_env, run, snapshot

__all__ = ["cli_env"]  # the fixture, used by name

FLAGS = "select sms_opted_out_at, email_opted_out_at, calls_opted_out_at from leads where id = %s"


def execute(db: Db, statement: str, params: tuple[object, ...] = ()) -> None:
    """A change made behind nightshift's back (a bad import, a hand edit)."""
    import psycopg

    with psycopg.connect(db.dsn) as conn:
        conn.execute(statement, params)


async def _dana(ctx: Context, db: Db) -> int:
    lead_id = await seed_lead(ctx, db, phone=DANA, email="dana@example.com", name="Dana")
    await seed_campaign(ctx)
    return lead_id


async def test_a_report_whose_opt_out_was_missed_is_applied_by_a_replay_after_the_fix(
    ctx: Context, db: Db, clock: ManualClock, cli_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the fix the transcript check heard nothing in "please don't call me again";
    replaying the stored report classifies the customer's words again."""
    lead_id = await _dana(ctx, db)
    body = report_with(("bot", "Anything else I can help with?"),
                       ("user", "Yeah, please don't call me again. I'll book online."))  # fmt: skip
    clock.set(vapi_time(body))
    with monkeypatch.context() as bug:
        bug.setattr("app.campaigns.call_report.classify",
                    lambda text, channel="sms": Verdict("reply"))  # fmt: skip
        async with client(ctx) as http:
            assert (await post_vapi(http, body)).status_code == 200
    assert db.one(FLAGS, (lead_id,))["calls_opted_out_at"] is None  # the bug

    assert "would_apply 1" in await run("--include-processed", "--kind", "vapi", "--dry-run")
    assert "replayed: applied 1" in await run("--include-processed", "--kind", "vapi")
    flags = db.one(FLAGS, (lead_id,))
    assert flags["calls_opted_out_at"] is not None and flags["sms_opted_out_at"] is None
    keys = {r["dedupe_key"] for r in db.rows("select dedupe_key from webhook_events")}
    assert keys == {f"vapi:{CALL_ID}:end-of-call-report",
                    f"replay:vapi:{CALL_ID}:end-of-call-report",
                    f"replay:vapi:{CALL_ID}:transcript-opt-out"}  # fmt: skip

    before = snapshot(db)
    assert "replayed: duplicate 1" in await run("--include-processed", "--kind", "vapi")
    assert snapshot(db) == before


async def test_a_replayed_report_counts_no_second_call_attempt(
    ctx: Context, db: Db, clock: ManualClock, cli_env: None
) -> None:
    lead_id = await _dana(ctx, db)
    body = report_with(("user", "Thanks, see you Thursday."))
    clock.set(vapi_time(body))
    async with client(ctx) as http:
        assert (await post_vapi(http, body)).status_code == 200
    lead = "select call_attempts, last_called_at, status from leads where id = %s"
    before = db.one(lead, (lead_id,))
    call = db.one("select outcome, ended_at, transcript from calls")
    assert "replayed: applied 1" in await run("--include-processed", "--kind", "end-of-call-report")
    assert db.one(lead, (lead_id,)) == before
    assert db.one("select outcome, ended_at, transcript from calls") == call


async def test_an_opt_out_said_to_the_assistant_is_applied_again_and_only_once(
    ctx: Context, db: Db, clock: ManualClock, cli_env: None
) -> None:
    """A bad import cleared Dana's call opt-out; replaying the stored `optOut` tool call
    puts it back, on the lead of the call it was said on."""
    lead_id = await _dana(ctx, db)
    body = opt_out_call("calls", "Customer asked us not to call again")
    clock.set(vapi_time(body))
    async with client(ctx) as http:
        assert (await post_vapi(http, body)).status_code == 200
    execute(db, "update leads set calls_opted_out_at = null where id = %s", (lead_id,))

    assert "replayed: applied 1" in await run("--include-processed", "--kind", "optOut")
    flags = db.one(FLAGS, (lead_id,))
    assert flags["calls_opted_out_at"] is not None
    assert flags["sms_opted_out_at"] is None and flags["email_opted_out_at"] is None
    before = snapshot(db)
    assert "replayed: duplicate 1" in await run("--include-processed", "--kind", "optOut")
    assert snapshot(db) == before


async def test_an_opt_out_stored_before_the_call_identity_was_kept_is_found_by_its_call(
    ctx: Context, db: Db, clock: ManualClock, cli_env: None
) -> None:
    """Older optOut rows name only the call (in their key): its calls row gives the lead."""
    lead_id = await _dana(ctx, db)
    body = opt_out_call("all", "Take me off your list")
    clock.set(vapi_time(body))
    await ctx.transport.call("enqueue_call", {
        "p_call": {"idempotency_key": "call-1", "lead_id": lead_id, "to_number": DANA},
        "p_now": ctx.clock.now()})  # fmt: skip
    execute(db, "update calls set vapi_call_id = %s", (CALL_ID,))  # placed with Vapi
    async with client(ctx) as http:
        assert (await post_vapi(http, body)).status_code == 200
    execute(db, "update leads set sms_opted_out_at = null, email_opted_out_at = null,"
                " calls_opted_out_at = null")  # fmt: skip
    execute(db, "update webhook_events set payload = payload #- '{message,call}'")

    assert "replayed: applied 1" in await run("--include-processed", "--kind", "optOut")
    assert all(v is not None for v in db.one(FLAGS, (lead_id,)).values())


async def test_booking_then_cancellation_replayed_never_revives_the_appointment(
    ctx: Context, db: Db, clock: ManualClock, cli_env: None
) -> None:
    booking = {"external_id": "cal-77", "starts_at": "2027-03-04T10:00:00-05:00",
               "name": "Dana Cruz", "phone": DANA, "timezone": "America/New_York"}  # fmt: skip
    async with client(ctx) as http:
        for status in ("booked", "cancelled"):
            sent = await http.post("/webhooks/booking", json={**booking, "status": status})
            assert sent.status_code == 200, sent.text
    assert db.one("select status from appointments")["status"] == "cancelled"

    out = await run("--include-processed", "--kind", "booking")
    assert "replayed: ignored 2" in out  # booked: the cancellation holds; cancelled: already
    assert db.one("select status from appointments")["status"] == "cancelled"
    before = snapshot(db)
    assert "replayed: duplicate 2" in await run("--include-processed", "--kind", "booking")
    assert snapshot(db) == before


async def test_a_booking_the_database_refused_is_applied_by_a_replay(
    ctx: Context, db: Db, clock: ManualClock, cli_env: None
) -> None:
    """The delivery was stored (its key taken) but the appointment row went away (deleted
    by hand to redo it): a replay books it again, confirmations and all."""
    # the replay command reads the real clock: the lead's zone is one where it is midday now,
    # so its confirmation text is inside the federal window whatever the hour the suite runs
    booking = {"external_id": "cal-78", "starts_at": "2027-03-04T10:00:00-05:00",
               "name": "Dana Cruz", "phone": DANA, "timezone": zone_at_midday()}  # fmt: skip
    async with client(ctx) as http:
        assert (await http.post("/webhooks/booking", json=booking)).status_code == 200
    execute(db, "delete from messages")
    execute(db, "delete from appointments")

    assert "replayed: applied 1" in await run("--include-processed", "--kind", "booking")
    appointment = db.one("select id, status from appointments")
    assert appointment["status"] == "booked"
    keys = [r["idempotency_key"] for r in db.rows("select idempotency_key from messages")]
    assert f"appt:{appointment['id']}:v1:confirmation:sms" in keys
    before = snapshot(db)
    assert "replayed: duplicate 1" in await run("--include-processed", "--kind", "booking")
    assert snapshot(db) == before


async def test_an_email_reply_is_skipped_and_says_why(ctx: Context) -> None:
    """A reply by email is recorded once per email: a replay would find it recorded."""
    event = StoredEvent(
        id=7, provider="resend", dedupe_key="resend:received:56761188", event_type="email.reply",
        payload={"type": "email.received", "data": {"email_id": "56761188"}},
        status="processed", received_at=ctx.clock.now(),
    )  # fmt: skip
    result = await replay_event(ctx, event)
    assert (result.outcome, result.detail) == (
        "skipped",
        "email replies are recorded once per email (email_replies): not replayed",
    )
