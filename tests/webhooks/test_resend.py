"""Resend (Svix) events through the real app on a real Postgres."""

from __future__ import annotations

from typing import Any

from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from app.webhooks.signatures import svix_signature
from tests.webhooks.helpers import (
    RESEND_SECRET,
    Db,
    at,
    client,
    fixture,
    replay,
    seed_campaign,
    seed_lead,
    sent_email,
)

ANA = "ana.lima@example.org"
ANA_EMAIL_ID = "4f1e2d3c-6b5a-4978-8a9b-0c1d2e3f4a5b"


def _load(name: str, clock: ManualClock) -> dict[str, Any]:
    data = fixture("resend", f"{name}.json")
    clock.set(at(data["signing"]["verify_at"]))
    return data


async def _ana(ctx: Context, db: Db) -> tuple[int, int]:
    lead_id = await seed_lead(ctx, db, email=ANA, name="Ana")
    return lead_id, await sent_email(ctx, lead_id, ANA, ANA_EMAIL_ID, "e1")


async def test_delivered_opened_clicked_move_the_row_forward(
    ctx: Context, db: Db, clock: ManualClock
) -> None:
    lead_id, message_id = await _ana(ctx, db)
    async with client(ctx) as http:
        for name in ("email_delivered", "email_clicked", "email_opened"):  # out of order
            response = await replay(http, _load(name, clock))
            assert response.status_code == 200 and response.json() == {"duplicate": False}
    row = db.one("select status, status_history from messages where id = %s", (message_id,))
    assert row["status"] == "clicked"  # a late "opened" does not move it back
    assert [h["status"] for h in row["status_history"]][-3:] == ["delivered", "clicked", "opened"]
    click = db.one("select message_id, lead_id, url, host(ip) ip, user_agent from click_events")
    assert click["message_id"] == message_id and click["lead_id"] == lead_id
    assert click["url"] == "https://app.example.com/appointments/8812?utm_source=email"
    assert click["ip"] == "198.51.100.23" and click["user_agent"].startswith("Mozilla/5.0")
    assert db.one("select status from leads")["status"] == "engaged"


async def test_hard_bounce_suppresses_the_address(ctx: Context, db: Db, clock: ManualClock) -> None:
    bounced = _load("email_bounced", clock)
    lead_id = await seed_lead(ctx, db, email="no.such.user@example.net")
    message_id = await sent_email(
        ctx, lead_id, "no.such.user@example.net", bounced["payload"]["data"]["email_id"], "e2"
    )
    async with client(ctx) as http:
        assert (await replay(http, bounced)).status_code == 200
    assert db.one("select status from messages where id = %s", (message_id,))["status"] == "bounced"
    assert db.one("select channel, address, reason from suppressions") == {
        "channel": "email",
        "address": "no.such.user@example.net",
        "reason": "hard_bounce",
    }
    assert db.one("select email_opted_out_at from leads")["email_opted_out_at"] == clock.now()


async def test_complaint_suppresses_and_stops_drips_once(
    ctx: Context, db: Db, clock: ManualClock
) -> None:
    await _ana(ctx, db)
    await seed_campaign(ctx)
    complained = _load("email_complained", clock)
    async with client(ctx) as http:
        assert (await replay(http, complained)).json() == {"duplicate": False}
        assert (await replay(http, complained)).json() == {"duplicate": True}
    assert db.one("select status from messages")["status"] == "complained"
    assert db.one("select reason from suppressions")["reason"] == "complaint"
    assert db.one("select status, stopped_reason from enrollments") == {
        "status": "stopped",
        "stopped_reason": "opt_out",
    }
    assert db.count("webhook_events") == 1
    history = db.one("select status_history from messages")["status_history"]
    assert [h["status"] for h in history].count("complained") == 1


async def test_transient_bounce_is_history_only(ctx: Context, db: Db, clock: ManualClock) -> None:
    await _ana(ctx, db)
    body = (
        '{"type":"email.bounced","created_at":"2026-03-02T10:15:35Z","data":{"email_id":"'
        + ANA_EMAIL_ID
        + '","to":["'
        + ANA
        + '"],"bounce":{"type":"Transient"}}}'
    ).encode()
    await _post_signed(ctx, clock, "msg_transient", body)
    assert db.one("select status from messages")["status"] == "sent"
    assert db.count("suppressions") == 0


async def _post_signed(ctx: Context, clock: ManualClock, msg_id: str, body: bytes) -> Any:
    stamp = str(int(clock.now().timestamp()))
    headers = {
        "Content-Type": "application/json",
        "svix-id": msg_id,
        "svix-timestamp": stamp,
        "svix-signature": svix_signature(RESEND_SECRET, msg_id, stamp, body),
    }
    async with client(ctx) as http:
        return await http.post("/webhooks/resend", content=body, headers=headers)


async def test_unknown_type_and_odd_bodies_are_200(
    ctx: Context, db: Db, clock: ManualClock
) -> None:
    for n, body in enumerate([b'{"type":"contact.created","data":{}}', b"[1,2]", b'{"type":1}']):
        response = await _post_signed(ctx, clock, f"msg_odd{n}", body)
        assert response.status_code == 200
    assert db.count("webhook_events") == 0


async def test_verification_and_malformed_bodies(ctx: Context, db: Db, clock: ManualClock) -> None:
    delivered = _load("email_delivered", clock)
    async with client(ctx) as http:
        clock.set(at(delivered["signing"]["verify_at"] + 600))  # too old now
        assert (await replay(http, delivered)).status_code == 401
        clock.set(at(delivered["signing"]["verify_at"]))
        tampered = {**delivered, "body": delivered["body"].replace("ana.lima", "bob")}
        assert (await replay(http, tampered)).status_code == 401
        plain = {**delivered, "headers": {**delivered["headers"], "Content-Type": "text/plain"}}
        assert (await replay(http, plain)).status_code == 415
    response = await _post_signed(ctx, clock, "msg_bad", b'{"type": "email.sent",')
    assert response.status_code == 400 and response.json() == {"error": "malformed JSON"}
    assert db.count("webhook_events") == 0


async def test_body_over_the_limit_is_413(ctx: Context, db: Db, clock: ManualClock) -> None:
    response = await _post_signed(ctx, clock, "msg_big", b'{"x":"' + b"a" * 5_300_000 + b'"}')
    assert response.status_code == 413
    assert db.count("webhook_events") == 0
