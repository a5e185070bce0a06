"""Shared pieces of the fault-injection suite.

- `worker()`: one drip worker = its own connection pool and its own context, on the shared
  test database and the shared ManualClock; its providers are rebuilt with a sleep that moves
  the clock, so retries and rate limits never really sleep.
- `FakeProviders`: respx-mocked Twilio and Resend that keep a ledger of what they ACCEPTED
  (the provider's side of the truth): Twilio lists it back for reconciliation, Resend dedupes
  on `Idempotency-Key` the way the real API does for 24 h.
- `assert_exactly_once()`: the suite's invariants — every due step's outbox row accepted by
  the provider exactly once, and every enrollment advanced (none lost, none leased forever).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import psycopg
import respx
from psycopg.rows import dict_row

from app.core.clock import ManualClock
from app.core.settings import Settings
from app.db.transport import PostgresTransport
from app.jobs.bootstrap import Context, Overrides, bootstrap
from tests.conftest import make_settings
from tests.providers.bodies import twilio_error, twilio_message, twilio_page

TWILIO_SID = "AC0123456789abcdef0123456789abcdef"
TWILIO_TOKEN = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
RESEND_KEY = "re_TestKey_9f8e7d6c"
FROM_NUMBER = "+15005550006"
BASE_URL = "https://acme--nightshift-web.modal.run"
MESSAGES_URL = f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
RESEND_URL = "https://api.resend.com/emails"

# One SMS then one email, both due at once: a run that loops over full batches takes the
# email step of an enrollment in a later batch, so both channels go through the chaos.
TWO_STEPS = """
slug: chaos
name: Chaos
window: {days: [mon, tue, wed, thu, fri, sat, sun], start: "08:00", end: "21:00"}
caps: {new_per_day: 5000}
steps:
  - channel: sms
    body: "Hi {{ lead.first_name }}, {{ business.name }} here. Reply STOP to opt out."
  - channel: email
    subject: "Your tune-up, {{ lead.first_name }}"
    html: '<p>Book here: <a href="https://example.com/book">book</a></p>'
"""

SMS_ONLY = """
slug: chaos-sms
name: Chaos SMS
window: {days: [mon, tue, wed, thu, fri, sat, sun], start: "08:00", end: "21:00"}
caps: {new_per_day: 5000}
steps:
  - channel: sms
    body: "Hi {{ lead.first_name }}, {{ business.name }} here. Reply STOP to opt out."
"""

EMAIL_ONLY = """
slug: chaos-email
name: Chaos email
window: {days: [mon, tue, wed, thu, fri, sat, sun], start: "08:00", end: "21:00"}
caps: {new_per_day: 5000}
steps:
  - channel: email
    subject: "Your tune-up, {{ lead.first_name }}"
    html: '<p>Book here: <a href="https://example.com/book">book</a></p>'
"""


def real_settings(**overrides: Any) -> Settings:
    """Real Twilio and Resend adapters (respx-mocked), Vapi as its dry-run twin."""
    values: dict[str, Any] = {
        "nightshift_env": "development",
        "public_base_url": BASE_URL,
        "twilio_account_sid": TWILIO_SID,
        "twilio_auth_token": TWILIO_TOKEN,
        "twilio_from_number": FROM_NUMBER,
        "resend_api_key": RESEND_KEY,
        "email_from": "Acme <hi@mail.acme.test>",
        "resend_webhook_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "calls_enabled": False,
        "twilio_rate_per_second_per_sender": 1000.0,
        "resend_rate_per_second": 1000.0,
    }
    return make_settings(**{**values, **overrides})


class FakeSleep:
    """Moves the shared ManualClock instead of sleeping; records every wait."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(timedelta(seconds=seconds))


@asynccontextmanager
async def worker(
    settings: Settings, clock: ManualClock, dsn: str, *, pool_size: int = 4
) -> AsyncIterator[Context]:
    """One drip worker: its own pool and context (a separate container in production)."""
    transport = await PostgresTransport(dsn, max_size=pool_size).open()
    try:
        overrides = Overrides(clock=clock, transport=transport, sleep=FakeSleep(clock))
        async with bootstrap(settings, overrides) as ctx:
            yield ctx
    finally:
        await transport.close()


def rows(dsn: str, statement: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Test-only read straight from the database."""
    with psycopg.connect(dsn, row_factory=dict_row, autocommit=True) as conn:
        return list(conn.execute(statement, params).fetchall())


@dataclass
class Accepted:
    """One message the provider accepted (its side of the truth)."""

    channel: str
    provider_id: str
    to: str
    key: str  # Twilio: the outbox id from the StatusCallback; Resend: the Idempotency-Key
    body: dict[str, Any]


@dataclass
class FakeProviders:
    """Twilio + Resend on respx, with the providers' ledgers and request logs."""

    clock: ManualClock
    accepted: list[Accepted] = field(default_factory=list)
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # (channel, key, verdict)
    # Hooks: return a Response (or raise) to override the normal answer for a request.
    twilio_hook: Callable[[str, dict[str, str]], httpx.Response | None] | None = None
    resend_hook: Callable[[str, dict[str, Any]], httpx.Response | None] | None = None
    after_accept: Callable[[Accepted], None] | None = None
    twilio_messages: list[dict[str, Any]] = field(default_factory=list)
    _by_key: dict[str, Accepted] = field(default_factory=dict)

    def install(self, router: respx.MockRouter) -> None:
        router.post(MESSAGES_URL).mock(side_effect=self._twilio_post)
        router.get(MESSAGES_URL).mock(side_effect=self._twilio_list)
        router.post(RESEND_URL).mock(side_effect=self._resend_post)

    # --- Twilio ----------------------------------------------------------------------------
    def _twilio_post(self, request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        key = form.get("StatusCallback", "").rsplit("outbox=", 1)[-1]
        if self.twilio_hook is not None and (answer := self.twilio_hook(key, form)) is not None:
            self.requests.append(("sms", key, f"http {answer.status_code}"))
            return answer
        sid = f"SM{len(self.twilio_messages):032x}"
        item = twilio_message(sid, form["To"], form["Body"], format_datetime(self.clock.now()))
        self.twilio_messages.append(item)
        self._accept(Accepted("sms", sid, form["To"], key, form))
        self.requests.append(("sms", key, "accepted"))
        return httpx.Response(201, json=item)

    def _twilio_list(self, request: httpx.Request) -> httpx.Response:
        to = request.url.params.get("To")
        return httpx.Response(
            200, json=twilio_page([m for m in self.twilio_messages if m["to"] == to])
        )

    # --- Resend ----------------------------------------------------------------------------
    def _resend_post(self, request: httpx.Request) -> httpx.Response:
        key = request.headers.get("Idempotency-Key", "")
        body = json.loads(request.content)
        if self.resend_hook is not None and (answer := self.resend_hook(key, body)) is not None:
            self.requests.append(("email", key, f"http {answer.status_code}"))
            return answer
        if key in self._by_key:  # Resend answers a replayed key with the first response
            self.requests.append(("email", key, "replayed"))
            return httpx.Response(200, json={"id": self._by_key[key].provider_id})
        email_id = f"4ef9a417-02e9-4d39-ad75-{len(self._by_key):012x}"
        self._accept(Accepted("email", email_id, body["to"][0], key, body))
        self.requests.append(("email", key, "accepted"))
        return httpx.Response(200, json={"id": email_id})

    def _accept(self, item: Accepted) -> None:
        self.accepted.append(item)
        if item.channel == "email":
            self._by_key[item.key] = item
        if self.after_accept is not None:
            self.after_accept(item)


def twilio_429(retry_after: int) -> httpx.Response:
    body = twilio_error(20429, "Too Many Requests", 429)
    return httpx.Response(429, json=body, headers={"Retry-After": str(retry_after)})


def assert_exactly_once(dsn: str, accepted: list[Accepted], *, steps: int) -> None:
    """Every enrollment completed all `steps`, each outbox row is `sent` with the id the
    provider gave it, and the provider accepted each (recipient, channel) exactly once."""
    enrollments = rows(
        dsn, "select id, status, current_step, lease_owner from enrollments order by id"
    )
    assert enrollments, "nothing was enrolled"
    lost = [e for e in enrollments if (e["status"], e["current_step"]) != ("completed", steps)]
    assert lost == [], f"steps lost or stuck: {lost[:5]}"
    messages = rows(
        dsn,
        "select id, enrollment_id, channel, status, provider_id, to_address from messages",
    )
    assert len(messages) == steps * len(enrollments)
    per_step = Counter((m["enrollment_id"], m["channel"]) for m in messages)
    assert set(per_step.values()) == {1}, "two outbox rows for one step"
    not_sent = [m for m in messages if m["status"] != "sent"]
    assert not_sent == [], f"rows not sent: {not_sent[:5]}"
    sends = Counter((a.channel, a.to) for a in accepted)
    duplicates = {k: n for k, n in sends.items() if n > 1}
    assert duplicates == {}, f"DUPLICATE SENDS: {duplicates}"
    assert sorted(sends) == sorted((m["channel"], m["to_address"]) for m in messages)
    by_id = {a.provider_id for a in accepted}
    assert {m["provider_id"] for m in messages} == by_id, "a row records an id never accepted"
