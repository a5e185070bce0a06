"""Property-based fuzzing of every public endpoint (hypothesis, derandomized for CI).

1. With every secret configured (as in production): arbitrary bodies and headers — random
   bytes, JSON, forms, and real provider payloads with random mutations, random signature
   headers — never get a 5xx, and nothing unverified is stored (no webhook_events, clicks,
   suppressions or appointments appear).
2. With no webhook secrets (development: unsigned webhooks are accepted and PARSED), the same
   kind of bodies reach the handlers: still never a 5xx.
3. Verified (correctly signed) hostile bodies to Vapi, Resend and the booking webhook: lone
   surrogates, NUL, odd Unicode, out-of-range dates and huge integers written into real
   payloads, and JSON nested up to 100,000 deep: never a 5xx (issue 15).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from app.core.clock import ManualClock
from app.core.settings import Settings
from app.db.transport import PostgresTransport
from app.jobs.bootstrap import Overrides, bootstrap
from app.webhooks.signatures import svix_signature
from tests.conftest import make_settings
from tests.webhooks.helpers import PUBLIC, client, fixtures_dir

# Hypothesis' caches go to the temp dir, not into the checkout (`.hypothesis/`).
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "nightshift-hypothesis")
FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SECRETS: dict[str, Any] = {
    "public_base_url": PUBLIC,
    "twilio_auth_token": "f0e1d2c3b4a5968778695a4b3c2d1e0f",
    "resend_webhook_secret": "whsec_GGSAYQ2BaJJVFNgBJoLuuKR+jeWOdX/t",
    "vapi_webhook_secret": "vapi-fuzz-secret",
    "vapi_webhook_hmac_secret": "vapi-fuzz-hmac-secret",
    "booking_webhook_secret": "booking-fuzz-secret",
    "link_signing_secret": "3f6c0e7b9a2d4c1e8f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f80912",
    "status_token": "status-fuzz-token",
}
STORED = ("webhook_events", "click_events", "suppressions", "appointments", "alerts")

# --- strategies ------------------------------------------------------------------------------
ascii_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)
any_text = st.text(max_size=60)
leaf = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63), st.floats(allow_nan=False),
    any_text, ascii_text,
)  # fmt: skip
json_value = st.recursive(
    leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)


def _fixture_bodies() -> dict[str, list[tuple[str, Any]]]:
    """(kind, parsed body) of every shared provider fixture, by provider: the mutation seeds."""
    root = fixtures_dir()
    seeds: dict[str, list[tuple[str, Any]]] = {"vapi": [], "resend": [], "twilio": []}
    for path in sorted((root / "vapi").glob("*.json")):
        seeds["vapi"].append(("json", json.loads(path.read_text())))
    for path in sorted((root / "resend").glob("email_*.json")):
        seeds["resend"].append(("json", json.loads(json.loads(path.read_text())["body"])))
    for path in sorted((root / "twilio").glob("*_*.json")):
        data = json.loads(path.read_text())
        if "body" in data:
            seeds["twilio"].append(("form", dict(httpx.QueryParams(data["body"]))))
    booking = {"external_id": "cal-1", "starts_at": "2026-11-27T15:00:00Z", "name": "Dana",
               "phone": "+12125550100", "email": "dana@example.com"}  # fmt: skip
    seeds["booking"] = [("json", booking)]
    return seeds


SEEDS = _fixture_bodies()
ALL_SEEDS = [seed for group in SEEDS.values() for seed in group]


def _slots(node: Any, out: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Every (container, key) in a JSON tree, depth first."""
    if isinstance(node, dict):
        for key, value in node.items():
            out.append((node, key))
            _slots(value, out)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out.append((node, index))
            _slots(value, out)
    return out


def _mutate(seed: tuple[str, Any], edits: list[tuple[int, Any]]) -> tuple[str, bytes]:
    kind, body = seed
    body = json.loads(json.dumps(body))  # a private copy
    for where, value in edits:
        slots = _slots(body, [])
        if slots:
            container, key = slots[where % len(slots)]
            container[key] = value if kind == "json" else str(value)
    if kind == "form":
        return "application/x-www-form-urlencoded", urlencode(body).encode()
    return "application/json", json.dumps(body).encode()


def bodies(seeds: list[tuple[str, Any]]) -> st.SearchStrategy[tuple[str, bytes]]:
    """Random JSON, forms and bytes, and (most often) the endpoint's own real payloads with a
    few random edits, so the fuzz gets past the parsers into the handlers."""
    edits = st.lists(st.tuples(st.integers(0, 10_000), json_value), max_size=3)
    mutated = st.builds(_mutate, st.sampled_from(seeds), edits)
    return st.integers(0, 3).flatmap(lambda i: raw_body if i == 0 else mutated)  # 3/4 mutated


raw_body = st.one_of(
    st.tuples(st.just("application/json"), json_value.map(lambda v: json.dumps(v).encode())),
    st.tuples(
        st.just("application/x-www-form-urlencoded"),
        st.dictionaries(ascii_text, any_text, max_size=6).map(lambda d: urlencode(d).encode()),
    ),
    st.tuples(st.sampled_from(["application/json", "text/plain", ""]), st.binary(max_size=300)),
)
HEADER_NAMES = [
    "x-vapi-secret", "authorization", "x-signature", "x-timestamp", "x-twilio-signature",
    "svix-id", "svix-timestamp", "svix-signature", "webhook-id", "webhook-timestamp",
    "webhook-signature", "x-booking-signature", "x-signature-256",
    "content-encoding", "cookie", "user-agent", "i-twilio-idempotency-token",
]  # fmt: skip
headers_st = st.dictionaries(st.sampled_from(HEADER_NAMES), ascii_text, max_size=5)
token_st = st.text(
    st.characters(categories=["L", "N"], include_characters="-_.~=%"), min_size=0, max_size=120
)
TARGETS = {
    "/webhooks/vapi": "vapi", "/webhooks/twilio/sms": "twilio", "/webhooks/twilio/status": "twilio",
    "/webhooks/resend": "resend", "/webhooks/booking": "booking", "/r/": None, "/u/": None,
    "/l/": None, "/status": None, "/status/login": None,
}  # fmt: skip


@st.composite
def requests(draw: st.DrawFn, target: str) -> tuple[str, str, bytes, dict[str, str]]:
    """(method, path, body, headers) against `target`."""
    provider = TARGETS[target]
    content_type, body = draw(bodies(SEEDS[provider] if provider else ALL_SEEDS))
    headers = {"content-type": content_type} if content_type else {}
    headers.update(draw(headers_st))
    if draw(st.integers(0, 9)) == 0:  # now and then a junk content type
        headers["content-type"] = draw(ascii_text)
    if target in ("/r/", "/u/", "/l/"):
        token = draw(token_st)
        method = "POST" if target == "/u/" and draw(st.booleans()) else "GET"
        return method, target + (token or "x"), body, headers
    if target == "/status":
        query = draw(st.dictionaries(st.sampled_from(["token", "t", "view"]), ascii_text))
        return "GET", "/status?" + urlencode(query), b"", headers
    if target == "/webhooks/twilio/status":
        outbox = draw(st.one_of(ascii_text, st.integers(-(2**70), 2**70).map(str)))
        return "POST", f"{target}?{urlencode({'outbox': outbox})}", body, headers
    return "POST", target, body, headers


# --- fixtures --------------------------------------------------------------------------------
async def _http(
    values: dict[str, Any], clock: ManualClock, transport: PostgresTransport
) -> AsyncIterator[httpx.AsyncClient]:
    config: Settings = make_settings(nightshift_env="development", **values)
    async with (
        bootstrap(config, Overrides(clock=clock, transport=transport)) as ctx,
        client(ctx) as http,
    ):
        yield http


@pytest.fixture
async def signed_http(
    clock: ManualClock, transport: PostgresTransport
) -> AsyncIterator[httpx.AsyncClient]:
    async for http in _http(SECRETS, clock, transport):
        yield http


@pytest.fixture
async def open_http(
    clock: ManualClock, transport: PostgresTransport
) -> AsyncIterator[httpx.AsyncClient]:
    async for http in _http({"public_base_url": PUBLIC}, clock, transport):
        yield http


async def _count(transport: PostgresTransport, table: str) -> int:
    async with transport._pool.connection() as conn:
        cursor = await conn.execute(f"select count(*) from {table}")
        row = await cursor.fetchone()
        assert row is not None
        return int(row[0])


async def _send(http: httpx.AsyncClient, request: tuple[str, str, bytes, dict[str, str]]) -> int:
    method, path, body, headers = request
    response = await http.request(method, path, content=body or None, headers=headers)
    route = path.split("?")[0]
    route = route[:3] if route.startswith(("/r/", "/u/", "/l/")) else route
    event(f"{method} {route} -> {response.status_code}")  # --hypothesis-show-statistics
    return response.status_code


# --- properties ------------------------------------------------------------------------------
@FUZZ
@given(data=st.data())
async def test_unsigned_requests_never_5xx_and_store_nothing(
    signed_http: httpx.AsyncClient, transport: PostgresTransport, data: st.DataObject
) -> None:
    for target in TARGETS:  # one request per endpoint per example: even coverage
        request = data.draw(requests(target), label=target)
        status = await _send(signed_http, request)
        assert status < 500, request
    for table in STORED:
        assert await _count(transport, table) == 0, table


@FUZZ
@given(data=st.data())
async def test_bodies_reaching_the_handlers_never_5xx(
    open_http: httpx.AsyncClient, data: st.DataObject
) -> None:
    for target in TARGETS:
        request = data.draw(requests(target), label=target)
        status = await _send(open_http, request)
        assert status < 500, request


async def test_a_signed_request_is_stored_so_the_empty_tables_mean_something(
    signed_http: httpx.AsyncClient, transport: PostgresTransport
) -> None:
    body = (fixtures_dir() / "vapi" / "02-status-update-ringing.json").read_bytes()
    headers = {"content-type": "application/json", "x-vapi-secret": SECRETS["vapi_webhook_secret"]}
    response = await signed_http.post("/webhooks/vapi", content=body, headers=headers)
    assert response.status_code == 200
    assert await _count(transport, "webhook_events") == 1


# --- hostile but verified (issue 15): odd text, deep nesting, dates out of range ------------
ODD = ["\ud83d", "\ude00", "\x00", "\ufffd", "\U0001f600", "\u202e", "\\", '"', "\u2028"]
odd_text = st.lists(st.one_of(st.sampled_from(ODD), any_text), max_size=6).map("".join)
deep_json = st.tuples(st.integers(1, 100_000), st.sampled_from([b"[]", b'{"a":}'])).map(
    lambda t: b"[" * t[0] + b"]" * t[0] if t[1] == b"[]" else b'{"a":' * t[0] + b"1" + b"}" * t[0]
)
odd_date = st.one_of(
    st.integers(1, 9999).map(lambda y: f"{y:04d}-12-31T23:30:00-05:00"),
    st.sampled_from(["9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00-12:00", "2027-02-30",
                     "2027-03-04T10:00:00", "+275760-09-13T00:00:00Z", "1e400"]),
)  # fmt: skip


def _hostile(draw: st.DrawFn, provider: str) -> bytes:
    """A real payload of `provider` with odd text, dates or numbers written into it, or a
    body nested up to 100,000 deep."""
    if draw(st.integers(0, 4)) == 0:
        return draw(deep_json)
    value = st.one_of(odd_text, odd_date, st.integers(-(2**80), 2**80), json_value)
    edits = draw(st.lists(st.tuples(st.integers(0, 10_000), value), min_size=1, max_size=4))
    _, body = _mutate(draw(st.sampled_from(SEEDS[provider])), edits)
    return body


@st.composite
def verified(draw: st.DrawFn, path: str, now: int) -> tuple[str, str, bytes, dict[str, str]]:
    """A hostile body to `path`, signed as its provider would sign it."""
    provider = {"/webhooks/vapi": "vapi", "/webhooks/resend": "resend"}.get(path, "booking")
    body = _hostile(draw, provider)
    headers = {"content-type": "application/json"}
    if provider == "vapi":
        headers["x-vapi-secret"] = SECRETS["vapi_webhook_secret"]
    elif provider == "resend":
        msg_id = f"msg_{draw(st.integers(0, 10**9))}"
        signature = svix_signature(SECRETS["resend_webhook_secret"], msg_id, str(now), body)
        headers.update({"svix-id": msg_id, "svix-timestamp": str(now), "svix-signature": signature})
    else:
        secret = SECRETS["booking_webhook_secret"].encode()
        headers["x-booking-signature"] = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return "POST", path, body, headers


@FUZZ
@given(data=st.data())
async def test_verified_hostile_bodies_never_5xx(
    signed_http: httpx.AsyncClient, clock: ManualClock, data: st.DataObject
) -> None:
    now = int(clock.now().timestamp())
    for path in ("/webhooks/vapi", "/webhooks/resend", "/webhooks/booking"):
        request = data.draw(verified(path, now), label=path)
        status = await _send(signed_http, request)
        assert status < 500, (*request[:2], request[2][:300])
