"""Shared helpers for the webhook tests: the recorded provider fixtures and a client on the
real app."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from app.jobs.bootstrap import Context
from app.webhooks import create_app

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
PUBLIC = "https://hooks.example.com"
TWILIO_TOKEN = "f0e1d2c3b4a5968778695a4b3c2d1e0f"
RESEND_SECRET = "whsec_GGSAYQ2BaJJVFNgBJoLuuKR+jeWOdX/t"
VAPI_SECRET = "vapi-test-secret"


def fixtures_dir() -> Path:
    """`tests/fixtures` in this repository: `vapi/`, `twilio/`, `resend/` (see their READMEs).
    Tests read nothing outside the repository (tests/test_self_contained.py)."""
    return FIXTURES


def fixture(provider: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((fixtures_dir() / provider / name).read_text())
    return data


def vapi_body(name: str) -> bytes:
    return (fixtures_dir() / "vapi" / name).read_bytes()


def at(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


@asynccontextmanager
async def client(ctx: Context, base_url: str = PUBLIC) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ctx)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4711))
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
            yield http


async def replay(http: httpx.AsyncClient, data: dict[str, Any]) -> httpx.Response:
    """Send a recorded Twilio/Resend fixture exactly as is (raw body, its headers)."""
    url = data["url"].removeprefix(PUBLIC)
    skip = {"host", "content-length"}
    headers = {k: v for k, v in data["headers"].items() if k.lower() not in skip}
    return await http.post(url, content=data["body"].encode(), headers=headers)


class Db:
    """Reads rows straight from the test database (assertions and seeding only)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def rows(self, statement: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(self.dsn, row_factory=dict_row) as conn:
            return list(conn.execute(statement, params).fetchall())

    def one(self, statement: str, params: tuple[Any, ...] = ()) -> dict[str, Any]:
        found = self.rows(statement, params)
        assert len(found) == 1, found
        return found[0]

    def count(self, table: str) -> int:
        return int(self.one(f"select count(*) n from {table}")["n"])


async def seed_lead(ctx: Context, db: Db, **fields: Any) -> int:
    """A lead (by phone, else email) with consent to every channel; its id."""
    from tests.consented import consented_lead

    await ctx.repos.leads.upsert([consented_lead(**fields)], ctx.clock.now())
    column = "phone" if fields.get("phone") else "email"
    return int(db.one(f"select id from leads where {column} = %s", (fields[column],))["id"])


async def seed_campaign(
    ctx: Context, slug: str = "recall", stop: dict[str, bool] | None = None
) -> None:
    """An active campaign with one SMS step, and every matching lead enrolled."""
    campaign = {
        "slug": slug,
        "name": slug,
        "status": "active",
        "definition": {"stop": stop or {}},
        "steps": [{"channel": "sms", "delay_seconds": 3600, "template": {"body": "Hi"}}],
    }
    await ctx.transport.call("upsert_campaign", {"p_campaign": campaign, "p_now": ctx.clock.now()})
    await ctx.transport.call("enroll_leads", {"p_now": ctx.clock.now()})


def signed_twilio(path: str, params: dict[str, str]) -> tuple[str, bytes, dict[str, str]]:
    """A Twilio request signed with the fixtures' token for PUBLIC + path."""
    from urllib.parse import urlencode

    from app.webhooks.signatures import twilio_signature

    signature = twilio_signature(TWILIO_TOKEN, PUBLIC + path, params.items())
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
    return path, urlencode(params).encode(), headers


async def enqueue_sms(ctx: Context, lead_id: int | None, to: str, key: str) -> int:
    from app.db.outbox import MessageIn

    message = MessageIn(
        idempotency_key=key,
        channel="sms",
        to_address=to,
        provider="twilio",
        lead_id=lead_id,
        payload={"body": "Hi"},
    )
    return (await ctx.repos.outbox.enqueue_message(message, ctx.clock.now())).id


async def sent_email(ctx: Context, lead_id: int | None, to: str, email_id: str, key: str) -> int:
    """An outbox email accepted by Resend under `email_id`."""
    from app.db.outbox import MessageIn

    message = MessageIn(
        idempotency_key=key,
        channel="email",
        to_address=to,
        provider="resend",
        lead_id=lead_id,
        payload={"subject": "Hi", "html": "<p>Hi</p>"},
    )
    row = await ctx.repos.outbox.enqueue_message(message, ctx.clock.now())
    await ctx.repos.outbox.claim_message(row.id, ctx.clock.now())
    await ctx.repos.outbox.record_message_sent(row.id, "resend", email_id, ctx.clock.now())
    return row.id


def vapi_message(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(vapi_body(name))
    return data


def vapi_headers() -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Vapi-Secret": VAPI_SECRET}


async def post_vapi(http: httpx.AsyncClient, body: dict[str, Any] | bytes) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await http.post("/webhooks/vapi", content=content, headers=vapi_headers())


def vapi_time(body: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(body["message"]["timestamp"] / 1000, UTC)
