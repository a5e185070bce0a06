"""Hostile and odd bodies at the edge, as a sender would send them: an endless chunked
upload to every route, JSON nested 100,000 deep, half an emoji in a verified call report
or complaint. Each gets its 4xx — or, when verified, is stored — never a 5xx."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from app.webhooks.limits import LOGIN_MAX_BYTES
from app.webhooks.payloads import RAW_BODY_KEY
from app.webhooks.signatures import svix_signature, twilio_signature
from tests.webhooks.helpers import (
    PUBLIC,
    RESEND_SECRET,
    TWILIO_TOKEN,
    VAPI_SECRET,
    Db,
    at,
    client,
    fixture,
    post_vapi,
    seed_lead,
    signed_twilio,
    vapi_message,
    vapi_time,
)

CHUNK = 64 * 1024
HUGE = 300 * 1024 * 1024  # what an attacker streams; the server must stop long before
ROUTES = [
    "/webhooks/vapi", "/webhooks/twilio/sms", "/webhooks/twilio/status", "/webhooks/resend",
    "/webhooks/booking", "/status/login",
]  # fmt: skip
DEEP = b"[" * 100_000 + b"]" * 100_000


class Upload:
    """A chunked body of `total` bytes that counts how much of it the server pulled."""

    def __init__(self, total: int) -> None:
        self.total, self.pulled = total, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunk = b"x" * CHUNK
        while self.pulled < self.total:
            self.pulled += CHUNK
            yield chunk


@pytest.mark.parametrize("path", ROUTES)
async def test_an_endless_chunked_body_is_413_without_being_read(ctx: Context, path: str) -> None:
    upload = Upload(HUGE)
    async with client(ctx) as http:
        response = await http.post(
            path, content=upload, headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        limit = (
            LOGIN_MAX_BYTES if path.startswith("/status/") else ctx.settings.webhook_max_body_bytes
        )
        assert upload.pulled <= limit + CHUNK  # stopped at the limit, not at 300 MB
        assert response.json() == {"error": f"body over {limit} bytes"}
        assert (await http.get("/healthz")).status_code == 200  # the app still answers


@pytest.mark.parametrize(
    ("path", "status"), [("/u/not-a-token", 404), ("/healthz", 405), ("/status/logout", 303)]
)
async def test_a_route_that_refuses_first_never_reads_the_body(
    ctx: Context, path: str, status: int
) -> None:
    upload = Upload(HUGE)
    async with client(ctx) as http:
        response = await http.post(path, content=upload)
    assert response.status_code == status and upload.pulled <= CHUNK


async def test_a_declared_length_over_the_limit_is_413_before_reading(ctx: Context) -> None:
    upload = Upload(HUGE)
    headers = {"content-type": "application/json", "content-length": str(HUGE)}
    async with client(ctx) as http:
        response = await http.post("/webhooks/vapi", content=upload, headers=headers)
    assert response.status_code == 413 and upload.pulled <= CHUNK


async def test_a_report_with_half_an_emoji_is_stored_and_the_next_request_works(
    ctx: Context, db: Db, clock: ManualClock
) -> None:
    report = vapi_message("06-end-of-call-report-customer-did-not-answer.json")
    # a transcript cut inside a multi-byte character: json.dumps writes the escape \ud83d
    report["message"]["analysis"] = {"summary": "Caller said thanks \ud83d", "x": "a\u0000b"}
    body = json.dumps(report).encode()
    assert b"\\ud83d" in body
    clock.set(vapi_time(report))
    async with client(ctx) as http:
        response = await post_vapi(http, body)
        assert response.status_code == 200
        again = await post_vapi(http, vapi_message("02-status-update-ringing.json"))
        assert again.status_code == 200  # the connection and the pool are fine
    assert (
        db.one("select summary from calls where summary is not null")["summary"]
        == "Caller said thanks \ufffd"
    )
    event = db.one(
        "select payload from webhook_events where dedupe_key like %s", ("%end-of-call-report",)
    )
    assert event["payload"]["message"]["analysis"]["x"] == "a\ufffdb"
    assert base64.b64decode(event["payload"][RAW_BODY_KEY]) == body  # the original bytes


async def test_a_complaint_with_a_lone_surrogate_is_applied(
    ctx: Context, db: Db, clock: ManualClock
) -> None:
    recorded = fixture("resend", "email_complained.json")
    payload: dict[str, Any] = json.loads(recorded["body"])
    payload["data"]["subject"] = "Your appointment \udc00"
    body = json.dumps(payload).encode()
    msg_id, stamp = recorded["headers"]["svix-id"], recorded["headers"]["svix-timestamp"]
    headers = {"content-type": "application/json", "svix-id": msg_id, "svix-timestamp": stamp,
               "svix-signature": svix_signature(RESEND_SECRET, msg_id, stamp, body)}  # fmt: skip
    clock.set(at(recorded["signing"]["verify_at"]))
    async with client(ctx) as http:
        response = await http.post("/webhooks/resend", content=body, headers=headers)
    assert response.status_code == 200 and response.json() == {"duplicate": False}
    assert db.one("select reason from suppressions")["reason"] == "complaint"
    stored = db.one("select payload from webhook_events")["payload"]
    assert stored["data"]["subject"] == "Your appointment \ufffd"


async def test_json_nested_100000_deep_is_400_on_every_json_route(ctx: Context) -> None:
    msg_id, stamp = "msg_deep", str(int(ctx.clock.now().timestamp()))
    signed = {
        "/webhooks/vapi": {"x-vapi-secret": VAPI_SECRET},
        "/webhooks/resend": {"svix-id": msg_id, "svix-timestamp": stamp,
                             "svix-signature": svix_signature(RESEND_SECRET, msg_id, stamp, DEEP)},
        "/webhooks/booking": {},  # no BOOKING_WEBHOOK_SECRET here: development accepts it
    }  # fmt: skip
    async with client(ctx) as http:
        for path, headers in signed.items():
            response = await http.post(
                path, content=DEEP, headers={"content-type": "application/json", **headers}
            )
            assert response.status_code == 400, path
            assert response.json() == {"error": "JSON nested deeper than 64 levels"}


async def test_a_booking_in_the_year_9999_is_422(ctx: Context) -> None:
    booking = {"external_id": "cal-9999", "starts_at": "9999-12-31T23:30:00-05:00",
               "phone": "+12125550188"}  # fmt: skip
    async with client(ctx) as http:
        response = await http.post("/webhooks/booking", json=booking)
    assert response.status_code == 422
    assert response.json() == {"error": "invalid booking: starts_at"}


async def test_a_signed_twilio_json_body_nested_100000_deep_is_400(ctx: Context) -> None:
    # Twilio signs a JSON body through the URL: bodySHA256 in the query, then the URL alone.
    path = f"/webhooks/twilio/sms?bodySHA256={hashlib.sha256(DEEP).hexdigest()}"
    headers = {"content-type": "application/json",
               "x-twilio-signature": twilio_signature(TWILIO_TOKEN, PUBLIC + path)}  # fmt: skip
    async with client(ctx) as http:
        response = await http.post(path, content=DEEP, headers=headers)
    assert response.status_code == 400
    assert response.json() == {"error": "JSON nested deeper than 64 levels"}


async def test_a_text_with_a_nul_byte_is_stored_and_applied(ctx: Context, db: Db) -> None:
    # Some handsets send a NUL at the end of a message; Postgres refuses NUL in text.
    lead = await seed_lead(ctx, db, phone="+15125550191")
    params = {"MessageSid": "SM00000000000000000000000000000nul", "From": "+15125550191",
              "To": "+15005550006", "Body": "STOP\x00"}  # fmt: skip
    async with client(ctx) as http:
        path, body, headers = signed_twilio("/webhooks/twilio/sms", params)
        response = await http.post(path, content=body, headers=headers)
    assert response.status_code == 200
    stored = db.one("select payload from webhook_events where provider = 'twilio'")
    assert stored["payload"]["Body"] == "STOP\ufffd"
    row = db.one("select sms_opted_out_at from leads where id = %s", (lead,))
    assert row["sms_opted_out_at"] is not None
