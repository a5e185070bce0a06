"""Vapi server messages through the real app on a real Postgres: statuses, reports,
duplicates, other types and bad input (tools and assistant-request: test_vapi_replies.py)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.core.clock import ManualClock
from app.db.errors import DatabaseUnavailable
from app.jobs.bootstrap import Context
from tests.conftest import Rebuild, make_settings
from tests.webhooks.helpers import (
    Db,
    client,
    post_vapi,
    seed_campaign,
    seed_lead,
    vapi_body,
    vapi_headers,
    vapi_message,
    vapi_time,
)

CALL_A = "019cf9a2-4b7e-7d31-9a52-6c8e0f3b1d47"
DANA, MARCUS, PRIYA = "+15125550123", "+15125550148", "+15125550176"


async def test_status_updates_in_order_then_a_late_one(
    ctx: Context, db: Db, clock: ManualClock
) -> None:
    lead_id = await seed_lead(ctx, db, phone=DANA, name="Dana Whitfield")
    ringing, live, ended = (
        vapi_message(f"0{n}-status-update-{s}.json")
        for n, s in ((2, "ringing"), (3, "in-progress"), (4, "ended"))
    )
    clock.set(vapi_time(ended))
    async with client(ctx) as http:
        for body in (ringing, live, ended, live, ringing):  # the last two arrive late
            response = await post_vapi(http, body)
            assert response.status_code == 200 and response.json() == {}
    call = db.one(
        "select vapi_call_id, lead_id, status, ended_reason, started_at, to_number from calls"
    )
    assert call["vapi_call_id"] == CALL_A and call["lead_id"] == lead_id
    assert call["status"] == "ended" and call["ended_reason"] == "assistant-ended-call"
    assert call["started_at"] == datetime(2026, 3, 17, 15, 2, 19, 204000, tzinfo=UTC)
    assert call["to_number"] == DANA
    assert db.count("webhook_events") == 3  # the repeats were duplicates


async def test_out_of_order_status_never_reopens(ctx: Context, db: Db, clock: ManualClock) -> None:
    ended, live = (
        vapi_message("04-status-update-ended.json"),
        vapi_message("03-status-update-in-progress.json"),
    )
    clock.set(vapi_time(ended))
    async with client(ctx) as http:
        await post_vapi(http, ended)
        await post_vapi(http, live)
    assert db.one("select status from calls")["status"] == "ended"


async def test_booked_report_recorded_once(ctx: Context, db: Db, clock: ManualClock) -> None:
    lead_id = await seed_lead(ctx, db, phone=DANA, name="Dana Whitfield")
    await seed_campaign(ctx)
    report = vapi_message("05-end-of-call-report-completed-booked.json")
    clock.set(vapi_time(report))
    redelivery = copy.deepcopy(report)  # presigned URLs regenerate on every delivery
    redelivery["message"]["artifact"]["presignedMonoUrl"] += "&X-Amz-Signature=other"
    redelivery["message"]["cost"] = 99
    async with client(ctx) as http:
        assert (await post_vapi(http, report)).json() == {}
        first = db.one("select * from calls")
        assert (await post_vapi(http, redelivery)).status_code == 200
    call = db.one("select * from calls")
    assert call == first  # the redelivery changed nothing
    assert call["outcome"] == "booked" and call["status"] == "ended"
    assert call["cost"] == Decimal("0.1392") and call["duration_seconds"] == Decimal("72.61")
    assert call["recording_url"].endswith("-mono.wav") and "X-Amz" not in call["recording_url"]
    assert call["transcript"].startswith("AI: Hi Dana")
    assert call["summary"].startswith("Ava called Dana Whitfield")
    assert call["analysis"]["successEvaluation"] == "true"
    assert call["analysis"]["structuredData"]["confirmationId"] == "BSD-20260324-1030-7731"
    lead = db.one(
        "select status, last_called_at, call_attempts from leads where id = %s", (lead_id,)
    )
    assert lead["status"] == "booked" and lead["call_attempts"] == 1
    assert lead["last_called_at"] == datetime(2026, 3, 17, 15, 3, 31, 814000, tzinfo=UTC)
    assert db.one("select status, stopped_reason from enrollments") == {
        "status": "stopped",
        "stopped_reason": "booking",
    }
    assert db.count("webhook_events") == 1
    assert db.count("messages") == 0  # an answered call gets no rescue text


async def test_minimal_no_answer_report(ctx: Context, db: Db, clock: ManualClock) -> None:
    report = vapi_message("06-end-of-call-report-customer-did-not-answer.json")
    clock.set(vapi_time(report))
    async with client(ctx) as http:  # unknown number: a call row without a lead
        assert (await post_vapi(http, report)).json() == {}
    call = db.one(
        "select outcome, ended_reason, started_at, duration_seconds, cost, lead_id, "
        "analysis, transcript from calls"
    )
    assert call == {
        "outcome": "no_answer",
        "ended_reason": "customer-did-not-answer",
        "started_at": None,
        "duration_seconds": Decimal(0),
        "cost": Decimal(0),
        "lead_id": None,
        "analysis": {},
        "transcript": None,
    }


async def test_voicemail_report(ctx: Context, db: Db, clock: ManualClock) -> None:
    await seed_lead(ctx, db, phone=PRIYA, name="Priya Raman")
    report = vapi_message("07-end-of-call-report-voicemail.json")
    clock.set(vapi_time(report))
    async with client(ctx) as http:
        assert (await post_vapi(http, report)).status_code == 200
    call = db.one("select outcome, analysis from calls")
    assert call["outcome"] == "voicemail"
    assert call["analysis"]["successEvaluation"] == "false"
    assert db.one("select status from leads")["status"] == "contacted"


async def test_ended_reason_falls_back_to_the_call(
    ctx: Context, db: Db, clock: ManualClock
) -> None:
    report = vapi_message("06-end-of-call-report-customer-did-not-answer.json")
    del report["message"]["endedReason"]
    report["message"]["call"]["endedReason"] = "customer-busy"
    clock.set(vapi_time(report))
    async with client(ctx) as http:
        await post_vapi(http, report)
    assert db.one("select outcome, ended_reason from calls") == {
        "outcome": "busy",
        "ended_reason": "customer-busy",
    }


async def test_other_types_are_acknowledged(ctx: Context, db: Db, clock: ManualClock) -> None:
    hang, transcript = vapi_message("09-hang.json"), vapi_message("10-transcript-final.json")
    clock.set(vapi_time(hang))
    new_type = {"message": {"type": "call.artifact.upload", "call": {"id": CALL_A}}}
    async with client(ctx) as http:
        for body in (hang, hang, transcript, new_type):
            response = await post_vapi(http, body)
            assert response.status_code == 200 and response.json() == {}
    assert db.one("select event_type from webhook_events")["event_type"] == "hang"


async def test_bad_requests(ctx: Context, db: Db) -> None:
    body = vapi_body("02-status-update-ringing.json")
    async with client(ctx) as http:
        no_auth = await http.post(
            "/webhooks/vapi", content=body, headers={"Content-Type": "application/json"}
        )
        wrong = await http.post(
            "/webhooks/vapi", content=body, headers={**vapi_headers(), "X-Vapi-Secret": "nope"}
        )
        bearer = await http.post(
            "/webhooks/vapi",
            content=body,
            headers={
                "Content-Type": "application/json",
                "Authorization": "Bearer vapi-test-secret",
            },
        )
        form = await http.post(
            "/webhooks/vapi",
            content=body,
            headers={**vapi_headers(), "Content-Type": "application/x-www-form-urlencoded"},
        )
        broken = await post_vapi(http, b'{"message": {"type": "status-upd')
        huge = await post_vapi(http, b'{"message": "' + b"x" * 5_300_000 + b'"}')
    assert (no_auth.status_code, wrong.status_code) == (401, 401)
    assert bearer.status_code == 200
    assert (form.status_code, broken.status_code, huge.status_code) == (415, 400, 413)
    assert db.count("webhook_events") == 1  # only the bearer-authenticated one


async def test_verified_odd_bodies_are_200(ctx: Context, db: Db) -> None:
    odd = [
        b"[1, 2]",
        b'"x"',
        b"{}",
        b'{"message": "x"}',
        b'{"message": {"type": 7}}',
        b'{"message": {"type": "status-update", "status": "ringing"}}',
        b'{"message": {"type": "end-of-call-report"}}',
        b'{"message": {"type": "status-update", "status": "teleporting", "call": {"id": "c"}}}',
    ]
    async with client(ctx) as http:
        for body in odd:
            response = await post_vapi(http, body)
            assert response.status_code == 200 and response.json() == {}, body
    assert db.count("webhook_events") == 0


async def test_garbage_values_in_a_verified_report_are_tolerated(
    ctx: Context, db: Db, clock: ManualClock
) -> None:
    report = vapi_message("06-end-of-call-report-customer-did-not-answer.json")
    message = report["message"]
    message["endedAt"], message["cost"] = "yesterday-ish", "free"
    message["analysis"] = {"summary": "nul \u0000 inside", "successEvaluation": True}
    message["call"]["endedAt"] = None
    clock.set(vapi_time(report))
    async with client(ctx) as http:
        response = await post_vapi(http, report)
    assert response.status_code == 200
    call = db.one("select ended_at, cost, summary, analysis from calls")
    assert call["ended_at"] == clock.now() and call["cost"] is None
    assert call["summary"] == "nul \ufffd inside"  # NUL replaced (app/webhooks/payloads.py)
    assert call["analysis"] == {"successEvaluation": "true"}


async def test_database_down_spools_the_report_not_500(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def down(*args: object, **kwargs: object) -> None:
        raise DatabaseUnavailable("connection refused")

    monkeypatch.setattr(ctx.repos.webhooks, "apply_vapi_report", down)
    async with client(ctx) as http:
        response = await post_vapi(http, vapi_message("07-end-of-call-report-voicemail.json"))
    assert response.status_code == 200  # kept in the spool (tests/webhooks/test_spool.py)
    assert response.json() == {}
    assert ctx.spool is not None and (await ctx.spool.stats()).pending == 1


async def test_unsigned_requests_only_in_development_without_secrets(
    rebuild: Rebuild, db: Db
) -> None:
    body = vapi_body("09-hang.json")
    unsigned = {"Content-Type": "application/json"}
    ctx = await rebuild(make_settings(nightshift_env="development"))  # no webhook secrets at all
    async with client(ctx) as http:
        assert (
            await http.post("/webhooks/vapi", content=body, headers=unsigned)
        ).status_code == 200
    ctx = await rebuild(make_settings(nightshift_env="development", vapi_webhook_hmac_secret="h"))
    async with client(ctx) as http:
        assert (
            await http.post("/webhooks/vapi", content=body, headers=unsigned)
        ).status_code == 401
    assert db.count("webhook_events") == 1
