"""Providers misbehaving under a drip run, all on the injected clock (nothing really sleeps):

- 429 with Retry-After for a minute, then recovery: every message goes out once, and no
  retry comes before the wait the provider asked for;
- a read timeout AFTER the provider accepted the request: the retry reconciles (Twilio:
  listed back; Resend: same Idempotency-Key) and nothing is sent twice;
- Vapi creating the call but answering with a timeout or a 502: reconciled, placed once;
- Resend's daily quota (429 daily_quota_exceeded): nothing sent, a warning alert raised, the
  step rescheduled; once the quota is back, each email goes out once.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import httpx
import pytest
import respx

from app.campaigns import drip, manager
from app.core.clock import ManualClock
from app.jobs.campaign_manager import manager_deps
from app.jobs.drip import drip_deps
from tests.campaigns.helpers import add_leads, load
from tests.chaos.helpers import (
    EMAIL_ONLY,
    SMS_ONLY,
    Accepted,
    FakeProviders,
    FakeSleep,
    assert_exactly_once,
    real_settings,
    rows,
    twilio_429,
    worker,
)
from tests.providers.bodies import resend_error, vapi_call

LEADS = 6
OUTAGE = timedelta(minutes=1)
RETRY_AFTER = 20  # seconds, as the provider's Retry-After header says

CAMPAIGNS = {"sms": SMS_ONLY, "email": EMAIL_ONLY}


def resend_429(name: str, retry_after: int | None = None) -> httpx.Response:
    headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
    body = resend_error(429, name, "Too many requests. You can only make 10 requests per second.")
    return httpx.Response(429, json=body, headers=headers)


@pytest.mark.parametrize("channel", ["sms", "email"])
async def test_429_for_a_minute_then_recovery_sends_each_message_once(
    channel: str, database_dsn: str, clock: ManualClock
) -> None:
    settings = real_settings(drip_concurrency=1)
    fake = FakeProviders(clock)
    recovers_at = clock.now() + OUTAGE
    seen: dict[str, list[tuple[datetime, bool]]] = defaultdict(list)  # key → (when, refused)

    def rate_limited(key: str, _: object) -> httpx.Response | None:
        refused = clock.now() < recovers_at
        seen[key].append((clock.now(), refused))
        if not refused:
            return None
        return (
            twilio_429(RETRY_AFTER)
            if channel == "sms"
            else resend_429("rate_limit_exceeded", RETRY_AFTER)
        )

    fake.twilio_hook = rate_limited
    fake.resend_hook = rate_limited
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        fake.install(router)
        async with worker(settings, clock, database_dsn) as ctx:
            await load(ctx, CAMPAIGNS[channel])
            await add_leads(ctx, LEADS)
            await ctx.repos.campaigns.enroll(clock.now())
            assert await drip.run(drip_deps(ctx)) == {"advance": LEADS}
            sleep = ctx.providers.delivery.sms.retry.sleep  # type: ignore[attr-defined]
    assert_exactly_once(database_dsn, fake.accepted, steps=1)
    assert clock.now() >= recovers_at  # the outage was waited out, not skipped
    refused = [t for attempts in seen.values() for t in attempts if t[1]]
    assert len(refused) == 3  # the first message: t+0, t+20, t+40 refused; t+60 accepted
    for attempts in seen.values():  # every retry waited at least what the provider asked
        for (before, was_refused), (after, _) in pairwise(attempts):
            assert was_refused
            assert (after - before).total_seconds() >= RETRY_AFTER
    assert isinstance(sleep, FakeSleep)
    assert sleep.waits.count(RETRY_AFTER) == 3


@pytest.mark.parametrize("channel", ["sms", "email"])
async def test_timeout_after_the_provider_accepted_never_sends_twice(
    channel: str, database_dsn: str, clock: ManualClock
) -> None:
    settings = real_settings(drip_concurrency=4)
    fake = FakeProviders(clock)
    timed_out: set[str] = set()

    def accept_then_time_out(item: Accepted) -> None:
        if item.key not in timed_out:  # the provider acted; the answer never arrived
            timed_out.add(item.key)
            raise httpx.ReadTimeout("read timed out")

    fake.after_accept = accept_then_time_out
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        fake.install(router)
        async with worker(settings, clock, database_dsn) as ctx:
            await load(ctx, CAMPAIGNS[channel])
            await add_leads(ctx, LEADS)
            await ctx.repos.campaigns.enroll(clock.now())
            assert await drip.run(drip_deps(ctx)) == {"advance": LEADS}
        lists = [c for c in router.calls if c.request.method == "GET"]
    assert len(timed_out) == LEADS  # every single send timed out after being accepted
    assert_exactly_once(database_dsn, fake.accepted, steps=1)
    if channel == "sms":
        assert len(lists) == LEADS  # each retry asked Twilio first, and found the message
        assert [r for r in fake.requests if r[2] == "accepted"] == []
    else:
        assert len([r for r in fake.requests if r[2] == "replayed"]) == LEADS


async def test_resend_daily_quota_raises_a_warning_then_sends_once_after_reset(
    database_dsn: str, clock: ManualClock
) -> None:
    settings = real_settings()
    fake = FakeProviders(clock)
    quota_spent = True

    def quota(key: str, _: object) -> httpx.Response | None:
        return resend_429("daily_quota_exceeded") if quota_spent else None

    fake.resend_hook = quota
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        fake.install(router)
        async with worker(settings, clock, database_dsn) as ctx:
            await load(ctx, EMAIL_ONLY)
            await add_leads(ctx, LEADS)
            await ctx.repos.campaigns.enroll(clock.now())
            counts = await drip.run(drip_deps(ctx))
            assert counts == {"reschedule:requeued": LEADS}
            assert fake.accepted == []
            # Never retried in-process: one request per message.
            assert len(fake.requests) == LEADS
            alerts = rows(database_dsn, "select key, severity, status, title from alerts")
            assert len(alerts) == 1  # deduplicated: one alert for the whole batch
            assert alerts[0]["severity"] == "warning" and alerts[0]["status"] == "firing"
            assert "daily_quota_exceeded" in alerts[0]["key"]
            queued = rows(database_dsn, "select status, error_code from messages")
            assert {(r["status"], r["error_code"]) for r in queued} == {
                ("queued", "daily_quota_exceeded")
            }

            quota_spent = False
            clock.advance(drip.RETRY_LATER + timedelta(minutes=1))
            assert await drip.run(drip_deps(ctx)) == {"advance": LEADS}
    assert_exactly_once(database_dsn, fake.accepted, steps=1)


CALLS = """
slug: chaos-calls
name: Chaos calls
call_timing: asap
window: {days: [mon, tue, wed, thu, fri, sat, sun], start: "08:00", end: "21:00"}
steps:
  - channel: call
"""
VAPI_CALL_URL = "https://api.vapi.ai/call"


@pytest.mark.parametrize("failure", ["read_timeout", "http_502"])
async def test_vapi_failing_after_creating_the_call_never_places_it_twice(
    failure: str, database_dsn: str, clock: ManualClock
) -> None:
    settings = real_settings(
        calls_enabled=True,
        vapi_api_key="8c1d4a9e-2f3b-4c5d-9e8f-7a6b5c4d3e2f",
        vapi_phone_number_id="pn_5f1c2d3e",
        vapi_assistant_id="asst_9a8b7c6d",
        vapi_webhook_secret="vapi-chaos-secret",
    )
    created: list[dict[str, Any]] = []
    failed_once: set[str] = set()

    def create(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        number = body["customer"]["number"]
        metadata = body["assistantOverrides"]["metadata"]
        call = vapi_call(f"call-{len(created):04d}", number, metadata["outbox_id"],
                         clock.now().isoformat().replace("+00:00", "Z"))  # fmt: skip
        created.append(call)
        if number not in failed_once:  # Vapi created the call; its answer is lost
            failed_once.add(number)
            if failure == "read_timeout":
                raise httpx.ReadTimeout("read timed out")
            return httpx.Response(502, text="<html>502 Bad Gateway</html>")
        return httpx.Response(201, json=call)

    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        router.post(VAPI_CALL_URL).mock(side_effect=create)
        listing = router.get(VAPI_CALL_URL).mock(
            side_effect=lambda r: httpx.Response(200, json=created)
        )
        async with worker(settings, clock, database_dsn) as ctx:
            assert ctx.providers.calls.name == "vapi"
            await load(ctx, CALLS)
            await add_leads(ctx, 3)
            await ctx.repos.campaigns.enroll(clock.now())
            assert await drip.run(drip_deps(ctx)) == {"advance:call_queued": 3}
            counts = await manager.run(manager_deps(ctx), ctx.rng)
            assert counts["calls_placed"] == 3
    numbers = Counter(c["customer"]["number"] for c in created)
    assert set(numbers.values()) == {1}, f"DUPLICATE CALLS: {numbers}"
    assert listing.call_count == 3  # each retry looked before placing again
    calls = rows(database_dsn, "select vapi_call_id, status, placed_at, ambiguous_since from calls")
    assert len(calls) == 3
    assert {c["vapi_call_id"] for c in calls} == {c["id"] for c in created}
    # Placed and settled: the status moves on with Vapi's status-update webhooks.
    assert {(c["status"], c["ambiguous_since"]) for c in calls} == {("placing", None)}
    assert all(c["placed_at"] is not None for c in calls)
