"""Twilio inbound SMS and status callbacks through the real app on a real Postgres."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from app.alerts import Alerts
from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from tests.webhooks.helpers import (
    Db,
    client,
    enqueue_sms,
    fixture,
    replay,
    seed_campaign,
    seed_lead,
    signed_twilio,
)

USER = "+14155550199"
EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


async def _lead(ctx: Context, db: Db, **extra: Any) -> int:
    lead_id = await seed_lead(ctx, db, phone=USER, name="Ana", **extra)
    await seed_campaign(ctx)
    return lead_id


async def test_stop_opts_out_everywhere_once(ctx: Context, db: Db, clock: ManualClock) -> None:
    lead_id = await _lead(ctx, db)
    queued = await enqueue_sms(ctx, lead_id, USER, "drip-1")
    stop = fixture("twilio", "inbound_sms_stop.json")
    async with client(ctx) as http:
        response = await replay(http, stop)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/xml")
        assert response.text == EMPTY
        first = db.one("select sms_opted_out_at, status from leads where id = %s", (lead_id,))
        assert first["sms_opted_out_at"] == clock.now()
        clock.advance(timedelta(minutes=5))
        again = await replay(http, stop)  # Twilio's retry: same MessageSid
    assert again.status_code == 200 and again.text == EMPTY
    lead = db.one("select sms_opted_out_at from leads where id = %s", (lead_id,))
    assert lead["sms_opted_out_at"] == first["sms_opted_out_at"]
    assert db.one("select channel, address, reason from suppressions") == {
        "channel": "sms",
        "address": USER,
        "reason": "stop",
    }
    enrollment = db.one("select status, stopped_reason from enrollments")
    assert enrollment == {"status": "stopped", "stopped_reason": "opt_out"}
    assert db.one("select status from messages where id = %s", (queued,))["status"] == "cancelled"
    event = db.one("select dedupe_key, event_type, status from webhook_events")
    assert event == {
        "dedupe_key": f"twilio:{stop['params']['MessageSid']}",
        "event_type": "sms.stop",
        "status": "processed",
    }


@pytest.mark.parametrize(
    "body",
    ["stopall", " Unsubscribe ", "Stop.", "opt out", "REVOKE", "OptOut", "please stop texting me"],
)
async def test_every_opt_out_keyword(ctx: Context, db: Db, body: str) -> None:
    lead_id = await _lead(ctx, db)
    params = {"MessageSid": "SMkw1", "From": USER, "To": "+14155550123", "Body": body}
    path, content, headers = signed_twilio("/webhooks/twilio/sms", params)
    async with client(ctx) as http:
        response = await http.post(path, content=content, headers=headers)
    assert response.status_code == 200
    lead = db.one("select sms_opted_out_at from leads where id = %s", (lead_id,))
    assert lead["sms_opted_out_at"] is not None


async def test_start_opts_back_in(ctx: Context, db: Db) -> None:
    lead_id = await _lead(ctx, db)
    async with client(ctx) as http:
        await replay(http, fixture("twilio", "inbound_sms_stop.json"))
        response = await replay(http, fixture("twilio", "inbound_sms_start.json"))
    assert response.status_code == 200 and response.text == EMPTY
    lead = db.one("select sms_opted_out_at from leads where id = %s", (lead_id,))
    assert lead["sms_opted_out_at"] is None
    assert db.count("suppressions") == 0


async def test_help_answered_by_twilio_sends_nothing_more(ctx: Context, db: Db) -> None:
    await _lead(ctx, db)
    async with client(ctx) as http:
        response = await replay(http, fixture("twilio", "inbound_sms_help.json"))
    assert response.status_code == 200 and response.text == EMPTY
    assert db.count("messages") == 0
    assert db.one("select event_type from webhook_events")["event_type"] == "sms.help"


async def test_help_without_advanced_opt_out_is_answered_through_the_outbox(
    ctx: Context, db: Db
) -> None:
    lead_id = await _lead(ctx, db)
    params = {"MessageSid": "SMhelp2", "From": USER, "To": "+14155550123", "Body": "info"}
    path, body, headers = signed_twilio("/webhooks/twilio/sms", params)
    async with client(ctx) as http:
        response = await http.post(path, content=body, headers=headers)
    assert response.status_code == 200 and response.text == EMPTY
    sms = db.one("select lead_id, to_address, kind, status, provider, payload from messages")
    assert sms["lead_id"] == lead_id and sms["to_address"] == USER
    assert sms["status"] == "dry_run" and sms["provider"] == "dryrun"  # through OutboxDelivery
    assert "Brightside Dental" in sms["payload"]["body"]
    assert "Reply STOP to opt out" in sms["payload"]["body"]


async def test_reply_engages_lead_stops_drips_and_tells_the_operator(ctx: Context, db: Db) -> None:
    lead_id = await _lead(ctx, db)
    reply = fixture("twilio", "inbound_sms_reply.json")
    async with client(ctx) as http:
        response = await replay(http, reply)
        await replay(http, reply)  # duplicate: no second notification
    assert response.status_code == 200 and response.text == EMPTY
    assert db.one("select status from leads where id = %s", (lead_id,))["status"] == "engaged"
    assert db.one("select status, stopped_reason from enrollments") == {
        "status": "stopped",
        "stopped_reason": "reply",
    }
    email = db.one("select channel, to_address, status, payload from messages")
    assert email["channel"] == "email" and email["to_address"] == "owner@example.com"
    assert email["status"] == "dry_run"
    assert "Running late" in email["payload"]["text"]
    assert db.one("select sms_opted_out_at from leads")["sms_opted_out_at"] is None


async def test_ack_from_on_call_number_acknowledges(
    ctx: Context, db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    acked: list[tuple[str, str]] = []

    async def fake_ack(_alerts: Alerts, code: str, by: str) -> object:
        acked.append((code, by))
        return SimpleNamespace(key="job.drip.down")

    monkeypatch.setattr(Alerts, "acknowledge", fake_ack)
    oncall = {"MessageSid": "SMack1", "From": "+14155550100", "To": "+1", "Body": "ack k7q2"}
    stranger = {**oncall, "MessageSid": "SMack2", "From": USER}
    async with client(ctx) as http:
        for params in (oncall, oncall, stranger):
            path, body, headers = signed_twilio("/webhooks/twilio/sms", params)
            assert (await http.post(path, content=body, headers=headers)).status_code == 200
    assert acked == [("K7Q2", "+14155550100")]
    kinds = [r["event_type"] for r in db.rows("select event_type from webhook_events order by id")]
    assert kinds == ["sms.ack", "sms.reply"]
    confirmation = db.one(
        "select to_address, kind, status, payload from messages where kind = 'alert'"
    )
    assert confirmation["to_address"] == "+14155550100" and confirmation["status"] == "dry_run"
    assert confirmation["payload"]["body"] == (
        "nightshift: job.drip.down acknowledged (K7Q2); repeats stopped."
    )


async def test_ack_reaches_the_real_alerts_package(ctx: Context, db: Db) -> None:

    alert = await ctx.alerts.raise_alert("job.drip.down", "critical", "drip is down", {})
    assert alert is not None
    params = {
        "MessageSid": "SMack3",
        "From": "+14155550100",
        "To": "+1",
        "Body": f"ACK {alert.code}",
    }
    path, body, headers = signed_twilio("/webhooks/twilio/sms", params)
    async with client(ctx) as http:
        assert (await http.post(path, content=body, headers=headers)).status_code == 200
    acked = db.one("select acknowledged_by from alerts where code = %s", (alert.code,))
    assert acked["acknowledged_by"] == "+14155550100"


async def test_bad_signature_is_403_and_stores_nothing(ctx: Context, db: Db) -> None:
    stop = fixture("twilio", "inbound_sms_stop.json")
    forged = {**stop, "headers": {**stop["headers"], "X-Twilio-Signature": "AAAA"}}
    wrong_host = {**stop, "url": stop["url"]}
    async with client(ctx) as http:
        assert (await replay(http, forged)).status_code == 403
        missing = {k: v for k, v in stop["headers"].items() if k != "X-Twilio-Signature"}
        assert (await replay(http, {**stop, "headers": missing})).status_code == 403
    async with client(ctx, base_url="http://internal.modal") as http:  # proxy-side host
        assert (await replay(http, wrong_host)).status_code == 200  # PUBLIC_BASE_URL is used
    assert db.count("webhook_events") == 1


async def test_malformed_inputs(ctx: Context, db: Db) -> None:
    path = "/webhooks/twilio/sms"
    async with client(ctx) as http:
        r415 = await http.post(path, content=b"<xml/>", headers={"Content-Type": "text/xml"})
        big = b"Body=" + b"x" * (5 * 1024 * 1024)
        r413 = await http.post(
            path, content=big, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        r400 = await http.post(
            path, content=b"a=1&&=&b", headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        r400b = await http.post(
            path,
            content=b"Body=\xff\xfe",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert (r415.status_code, r413.status_code, r400.status_code, r400b.status_code) == (
        415,
        413,
        400,
        400,
    )
    assert "error" in r413.json()
    assert db.count("webhook_events") == 0


async def test_verified_but_odd_body_is_acknowledged(ctx: Context, db: Db) -> None:
    path, body, headers = signed_twilio("/webhooks/twilio/sms", {"Foo": "bar"})
    async with client(ctx) as http:
        response = await http.post(path, content=body, headers=headers)
    assert response.status_code == 200 and response.text == EMPTY
    assert db.count("webhook_events") == 0


# --- status callbacks ----------------------------------------------------------------------
async def _sent(ctx: Context, db: Db, sid: str, key: str = "m1") -> int:
    lead_id = await seed_lead(ctx, db, phone=USER)
    message_id = await enqueue_sms(ctx, lead_id, USER, key)
    await ctx.repos.outbox.claim_message(message_id, ctx.clock.now())
    await ctx.repos.outbox.record_message_sent(message_id, "twilio", sid, ctx.clock.now())
    return message_id


async def test_status_delivered_fixture_updates_the_row(ctx: Context, db: Db) -> None:
    delivered = fixture("twilio", "status_delivered.json")
    message_id = await _sent(ctx, db, delivered["params"]["MessageSid"])
    async with client(ctx) as http:
        assert (await replay(http, delivered)).status_code == 200
        assert (await replay(http, delivered)).status_code == 200  # duplicate
    row = db.one("select status, status_history from messages where id = %s", (message_id,))
    assert row["status"] == "delivered"
    assert [h["status"] for h in row["status_history"]] == ["sending", "sent", "delivered"]


async def test_status_30007_is_flagged_and_permanent(ctx: Context, db: Db) -> None:
    filtered = fixture("twilio", "status_undelivered_30007.json")
    message_id = await _sent(ctx, db, filtered["params"]["MessageSid"])
    async with client(ctx) as http:
        assert (await replay(http, filtered)).status_code == 200
    row = db.one(
        "select status, error_code, status_history from messages where id = %s", (message_id,)
    )
    assert (row["status"], row["error_code"]) == ("undelivered", "30007")
    assert row["status_history"][-1]["permanent"] is True


async def test_status_out_of_order_never_moves_back(ctx: Context, db: Db) -> None:
    message_id = await _sent(ctx, db, "SMorder")
    path = f"/webhooks/twilio/status?outbox={message_id}"
    async with client(ctx) as http:
        for status in ("delivered", "sent", "sending"):
            params = {"MessageSid": "SMorder", "MessageStatus": status}
            _, body, headers = signed_twilio(path, params)
            assert (await http.post(path, content=body, headers=headers)).status_code == 200
    row = db.one("select status, status_history from messages where id = %s", (message_id,))
    assert row["status"] == "delivered"
    assert [h["status"] for h in row["status_history"]][-3:] == ["delivered", "sent", "sending"]


async def test_status_21610_opts_the_recipient_out(ctx: Context, db: Db) -> None:
    message_id = await _sent(ctx, db, "SMopt")
    path = f"/webhooks/twilio/status?outbox={message_id}"
    params = {"MessageSid": "SMopt", "MessageStatus": "failed", "ErrorCode": "21610"}
    _, body, headers = signed_twilio(path, params)
    async with client(ctx) as http:
        assert (await http.post(path, content=body, headers=headers)).status_code == 200
    assert db.one("select status from messages")["status"] == "failed"
    assert db.one("select sms_opted_out_at from leads")["sms_opted_out_at"] is not None
    assert db.one("select reason, source from suppressions") == {
        "reason": "stop",
        "source": "twilio:21610",
    }


async def test_status_for_unknown_message_is_stored_as_ignored(ctx: Context, db: Db) -> None:
    async with client(ctx) as http:
        assert (await replay(http, fixture("twilio", "status_delivered.json"))).status_code == 200
    assert db.one("select status from webhook_events")["status"] == "ignored"


async def test_json_body_with_body_sha256(ctx: Context, db: Db) -> None:
    import hashlib

    from app.webhooks.signatures import twilio_signature
    from tests.webhooks.helpers import PUBLIC, TWILIO_TOKEN

    await seed_lead(ctx, db, phone=USER)
    body = '{"MessageSid": "SMjson", "From": "+14155550199", "Body": "STOP"}'
    path = f"/webhooks/twilio/sms?bodySHA256={hashlib.sha256(body.encode()).hexdigest()}"
    signature = twilio_signature(TWILIO_TOKEN, PUBLIC + path)
    headers = {"Content-Type": "application/json", "X-Twilio-Signature": signature}
    async with client(ctx) as http:
        ok = await http.post(path, content=body, headers=headers)
        tampered = await http.post(path, content=body.replace("STOP", "HI"), headers=headers)
    assert (ok.status_code, tampered.status_code) == (200, 403)
    assert db.one("select sms_opted_out_at from leads")["sms_opted_out_at"] is not None
