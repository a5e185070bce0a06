"""Shared by the alert and guardian tests: on-call settings, a context whose providers wait
on the ManualClock (never really sleeping), and read-only views of what was stored."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from app.alerts.direct import DirectPager
from app.core.clock import ManualClock
from app.core.settings import Settings
from app.db.transport import PostgresTransport, Transport
from app.jobs.bootstrap import Context, Overrides, bootstrap
from app.providers.spool import DirectorySpool
from tests.conftest import make_settings
from tests.providers.conftest import (
    BASE_URL,
    FROM_NUMBER,
    RESEND_KEY,
    TWILIO_SID,
    TWILIO_TOKEN,
    VAPI_KEY,
    FakeSleep,
)

PHONE = "+15551230001"
EMAIL = "oncall@acme.test"
ESCALATION = "+15551239999"
STRANGER = "+15557770000"
MESSAGES_URL = f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
ACCOUNT_URL = f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_SID}.json"
RESEND_EMAILS = "https://api.resend.com/emails"
RESEND_DOMAINS = "https://api.resend.com/domains"
VAPI_NUMBERS = "https://api.vapi.ai/phone-number"

RESEND = {
    "resend_api_key": RESEND_KEY,
    "email_from": "nightshift <alerts@mail.acme.test>",
    "resend_webhook_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
}
TWILIO = {
    "twilio_account_sid": TWILIO_SID,
    "twilio_auth_token": TWILIO_TOKEN,
    "twilio_from_number": FROM_NUMBER,
    "public_base_url": BASE_URL,
}
VAPI = {
    "vapi_api_key": VAPI_KEY,
    "vapi_phone_number_id": "pn_5f1c2d3e",
    "vapi_assistant_id": "asst_9a8b7c6d",
    "vapi_webhook_secret": "s3cr3t-vapi-hook",
}


def oncall(**values: Any) -> Settings:
    """Development settings with one on-call phone, email and escalation phone; providers
    without credentials run dry; one attempt per provider call (no retry waits)."""
    base: dict[str, Any] = {
        "nightshift_env": "development",
        "oncall_phones": PHONE,
        "oncall_emails": EMAIL,
        "oncall_escalation_phones": ESCALATION,
        "provider_retry_max_attempts": 1,
    }
    return make_settings(**{**base, **values})


MakeCtx = Callable[..., Awaitable[Context]]


@pytest.fixture
async def make_ctx(
    clock: ManualClock, transport: PostgresTransport, tmp_path: Path
) -> AsyncIterator[MakeCtx]:
    """`await make_ctx(**settings)`: a graph on the test database with on-call settings;
    `make_ctx(transport=..., **settings)`: the same over another transport (a dead one).
    Every graph of a test shares one spool directory (and so one direct-page memory, as
    containers of one deployment share the spool's store), never the checkout's."""
    spool = DirectorySpool(tmp_path / "spool")
    async with AsyncExitStack() as stack:

        async def make(*, transport: Transport = transport, **values: Any) -> Context:
            settings = oncall(**values)
            overrides = Overrides(clock=clock, transport=transport, sleep=FakeSleep(clock),
                                  spool=spool)  # fmt: skip
            return await stack.enter_async_context(bootstrap(settings, overrides))

        yield make


@pytest.fixture(autouse=True)
def fresh_pager(monkeypatch: pytest.MonkeyPatch) -> DirectPager:
    """Each test starts with an empty direct-page memory (it is process-wide)."""
    pager = DirectPager()
    monkeypatch.setattr("app.alerts.direct.PAGER", pager)
    return pager


def query(dsn: str, sql: str, *params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return list(cur.fetchall())


def alert_messages(dsn: str) -> list[dict[str, Any]]:
    return query(
        dsn,
        "select id, channel, to_address, status, provider, payload, idempotency_key"
        " from messages where kind = 'alert' order by id",
    )


def sent_to(dsn: str, address: str) -> list[dict[str, Any]]:
    return [m for m in alert_messages(dsn) if m["to_address"] == address]


def twilio_created(sid: str, to: str, body: str) -> dict[str, Any]:
    from tests.providers.bodies import twilio_message

    return twilio_message(sid, to, body, "Thu, 26 Nov 2026 15:00:00 +0000")
