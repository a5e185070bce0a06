"""The Vapi ingest path made cheaper for bench/webhook_ingest.py keeps its behaviour: the
calls row found by its idempotency key (a concurrent first event), a call we placed, the
JSON parser's fallback, and the plain route's answers."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from app.webhooks.common import Rejected, parse_json
from tests.webhooks.helpers import (
    Db,
    client,
    post_vapi,
    seed_lead,
    vapi_headers,
    vapi_message,
    vapi_time,
)

CALL_A = "019cf9a2-4b7e-7d31-9a52-6c8e0f3b1d47"
DANA = "+15125550123"


def _call_row(db: Db, **fields: object) -> int:
    """A calls row written straight to the table (as another writer would have left it)."""
    columns = ", ".join(fields)
    marks = ", ".join(["%s"] * len(fields))
    row = db.rows(
        f"insert into calls ({columns}) values ({marks}) returning id", (*fields.values(),)
    )
    return int(row[0]["id"])


async def test_status_applies_to_the_row_holding_its_idempotency_key(
    ctx: Context, db: Db, clock: ManualClock
) -> None:
    # As left by a concurrent first event of the same call: the insert meets the key taken
    # and the update is applied to that row instead.
    call_id = _call_row(
        db, idempotency_key=f"vapi:{CALL_A}", to_number=DANA, status="ringing", lead_id=None
    )
    ended = vapi_message("04-status-update-ended.json")
    clock.set(vapi_time(ended))
    async with client(ctx) as http:
        assert (await post_vapi(http, ended)).json() == {}
    call = db.one("select id, vapi_call_id, status, ended_reason, started_at from calls")
    assert call["id"] == call_id and call["vapi_call_id"] == CALL_A
    assert call["status"] == "ended" and call["ended_reason"] == "assistant-ended-call"
    assert call["started_at"] == datetime(2026, 3, 17, 15, 2, 19, 204000, tzinfo=UTC)


async def test_report_applies_to_the_row_holding_its_idempotency_key(
    ctx: Context, db: Db, clock: ManualClock
) -> None:
    lead_id = await seed_lead(ctx, db, phone=DANA, name="Dana Whitfield")
    call_id = _call_row(
        db, idempotency_key=f"vapi:{CALL_A}", to_number=DANA, status="in-progress",
        lead_id=lead_id, analysis='{"earlier": 1}',
    )  # fmt: skip
    report = vapi_message("05-end-of-call-report-completed-booked.json")
    clock.set(vapi_time(report))
    async with client(ctx) as http:
        assert (await post_vapi(http, report)).json() == {}
    call = db.one("select id, vapi_call_id, status, outcome, analysis from calls")
    assert call["id"] == call_id and call["vapi_call_id"] == CALL_A
    assert (call["status"], call["outcome"]) == ("ended", "booked")
    assert call["analysis"]["earlier"] == 1 and call["analysis"]["successEvaluation"] == "true"
    lead = db.one("select status, call_attempts from leads where id = %s", (lead_id,))
    assert lead == {"status": "booked", "call_attempts": 1}


async def test_report_of_a_call_we_placed_counts_no_extra_attempt(
    ctx: Context, db: Db, clock: ManualClock
) -> None:
    lead_id = await seed_lead(ctx, db, phone=DANA, name="Dana Whitfield")
    report = vapi_message("07-end-of-call-report-voicemail.json")
    call = report["message"]["call"]["id"]
    clock.set(vapi_time(report))
    _call_row(
        db, idempotency_key="outbox:1", vapi_call_id=call, to_number=DANA, status="ringing",
        lead_id=lead_id, placed_at=clock.now(),
    )  # fmt: skip
    async with client(ctx) as http:
        assert (await post_vapi(http, report)).status_code == 200
    assert db.one("select status, outcome from calls") == {
        "status": "ended",
        "outcome": "voicemail",
    }
    lead = db.one(
        "select status, call_attempts, last_called_at from leads where id = %s", (lead_id,)
    )
    assert (lead["status"], lead["call_attempts"]) == ("contacted", 0)
    assert lead["last_called_at"] is not None
    assert db.count("webhook_events") == 1


def test_parse_json_reads_what_the_stdlib_read() -> None:
    assert parse_json(b'{"a": [1, 2.5, "x", null, true]}') == {"a": [1, 2.5, "x", None, True]}
    assert math.isnan(parse_json(b'{"a": NaN}')["a"])  # orjson refuses it: stdlib fallback
    assert parse_json(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}  # a UTF-8 BOM
    # what jsonb refuses (a lone surrogate, NUL, bytes that are not UTF-8) becomes U+FFFD
    # (app/webhooks/payloads.py, tested there); the rest is refused
    assert parse_json(b'"\\ud800"') == parse_json(b'"\xff"') == "\ufffd"
    for bad in (b'{"a": ', b"[1,]", b""):
        with pytest.raises(Rejected) as caught:
            parse_json(bad)
        assert caught.value.status == 400


async def test_the_vapi_route_still_answers_like_the_others(ctx: Context) -> None:
    async with client(ctx) as http:
        get = await http.get("/webhooks/vapi", headers=vapi_headers())
        other = await http.post("/webhooks/vapi/x", content=b"{}", headers=vapi_headers())
    assert get.status_code == 405 and get.json() == {"detail": "Method Not Allowed"}
    assert other.status_code == 404
