"""The guardian's watch on the webhooks (issue 15 item 6): it probes the public web URL from
outside (PUBLIC_BASE_URL/healthz, respx) and alerts when a provider we keep sending through
has sent no callback for GUARDIAN_CALLBACK_SILENCE_HOURS (a wrong webhook URL, a dead
endpoint or a rotated signing secret loses every STOP and every call report)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
import respx

from app.core.clock import ManualClock
from app.guardian.loop import guard
from app.jobs import JOBS
from app.jobs.guardian import guardian_deps
from tests.alerts.support import MakeCtx, query
from tests.guardian.test_heartbeats import RecordingLauncher
from tests.providers.conftest import BASE_URL

HEALTHZ = f"{BASE_URL}/healthz"
WEB = {"public_base_url": BASE_URL}


@pytest.fixture
def web() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        router.get(HEALTHZ, name="web").mock(
            return_value=httpx.Response(200, json={"status": "ok", "jobs": {}})
        )
        yield router


def firing(dsn: str) -> dict[str, str]:
    rows = query(dsn, "select key, severity from alerts where status = 'firing'")
    return {r["key"]: r["severity"] for r in rows}


async def test_the_public_endpoint_down_twice_in_a_row_pages_and_recovery_resolves(
    make_ctx: MakeCtx, database_dsn: str, web: respx.MockRouter
) -> None:
    ctx = await make_ctx(**WEB)
    web["web"].mock(side_effect=httpx.ConnectError("connection refused"))
    first = await guard(guardian_deps(ctx), RecordingLauncher(), JOBS)
    second = await guard(guardian_deps(ctx), RecordingLauncher(), JOBS)
    assert (first["web"], second["web"]) == ("failing", "alerted")
    assert firing(database_dsn) == {"probe.web.down": "critical"}

    web["web"].mock(return_value=httpx.Response(200, json={"status": "ok", "jobs": {}}))
    assert (await guard(guardian_deps(ctx), RecordingLauncher(), JOBS))["web"] == "ok"
    assert firing(database_dsn) == {}
    assert web["web"].calls.last.request.url == HEALTHZ


async def test_a_502_from_the_proxy_fails_but_the_databases_own_503_does_not(
    make_ctx: MakeCtx, web: respx.MockRouter
) -> None:
    ctx = await make_ctx(**WEB)
    web["web"].mock(return_value=httpx.Response(502, text="<html>Bad Gateway</html>"))
    assert (await guard(guardian_deps(ctx), RecordingLauncher(), JOBS))["web"] == "failing"
    down = {"status": "down", "database": {"ok": False, "error": "DatabaseUnavailable"}}
    web["web"].mock(return_value=httpx.Response(503, json=down))
    assert (await guard(guardian_deps(ctx), RecordingLauncher(), JOBS))["web"] == "ok"


async def test_a_local_public_url_is_not_probed(make_ctx: MakeCtx) -> None:
    ctx = await make_ctx()  # PUBLIC_BASE_URL=http://127.0.0.1:8000, the development default
    assert (await guard(guardian_deps(ctx), RecordingLauncher(), JOBS))["web"] is None


def sent(dsn: str, provider: str, n: int, minutes_ago: int, now: object) -> None:
    for i in range(n):
        query(dsn, "insert into messages (idempotency_key, channel, provider, provider_id,"
              " to_address, status, created_at, sent_at, updated_at)"
              " values (%s, 'sms', %s, %s, '+14155550199', 'sent',"
              " %s - make_interval(mins => %s), %s - make_interval(mins => %s), %s)"
              " returning id",
              f"{provider}-{minutes_ago}-{i}", provider, f"SM{minutes_ago:04d}{i:028d}",
              now, minutes_ago, now, minutes_ago, now)  # fmt: skip


def event(dsn: str, provider: str, minutes_ago: int, now: object) -> None:
    query(dsn, "insert into webhook_events (provider, dedupe_key, event_type, payload,"
          " received_at) values (%s, %s, 'sms.status', '{}', %s - make_interval(mins => %s))"
          " returning id", provider, f"{provider}:{minutes_ago}", now, minutes_ago)  # fmt: skip


async def test_texts_sent_for_hours_without_one_callback_raise_an_alert(
    make_ctx: MakeCtx, database_dsn: str, clock: ManualClock, web: respx.MockRouter
) -> None:
    ctx = await make_ctx(**WEB)
    now = clock.now()
    event(database_dsn, "twilio", 5 * 60, now)  # the last callback: five hours ago
    sent(database_dsn, "twilio", 40, 90, now)  # forty texts sent since, no callback
    counts = await guard(guardian_deps(ctx), RecordingLauncher(), JOBS)

    assert counts["silent_callbacks"] == ["twilio"]
    assert firing(database_dsn) == {"callbacks.twilio.silent": "critical"}
    (alert,) = query(database_dsn, "select title, details from alerts")
    assert "no twilio webhook for 3 h while 40 were sent" in alert["title"]

    event(database_dsn, "twilio", 1, clock.now())  # callbacks arrive again
    clock.advance(timedelta(minutes=5))
    assert (await guard(guardian_deps(ctx), RecordingLauncher(), JOBS))["silent_callbacks"] == []
    assert firing(database_dsn) == {}


async def test_no_alert_when_callbacks_flow_when_nothing_was_sent_or_sends_are_fresh(
    make_ctx: MakeCtx, database_dsn: str, clock: ManualClock, web: respx.MockRouter
) -> None:
    ctx = await make_ctx(**WEB)
    now = clock.now()
    assert (await guard(guardian_deps(ctx), RecordingLauncher(), JOBS))["silent_callbacks"] == []
    sent(database_dsn, "twilio", 3, 5, now)  # sent five minutes ago: callbacks not due yet
    sent(database_dsn, "resend", 3, 60, now)
    event(database_dsn, "resend", 20, now)  # Resend's events flow
    assert (await guard(guardian_deps(ctx), RecordingLauncher(), JOBS))["silent_callbacks"] == []
    assert firing(database_dsn) == {}


def test_a_text_queued_more_than_a_week_before_its_send_is_not_counted(
    database_dsn: str, clock: ManualClock
) -> None:
    """callback_gaps counts the sends of its window created in the week before it (its bound
    on created_at, checked on the window's rows since migration 20261211131000)."""
    now = clock.now()
    sent(database_dsn, "twilio", 2, 90, now)
    query(database_dsn, "update messages set created_at = %s - interval '8 days'"
          " where idempotency_key = 'twilio-90-0' returning id", now)  # fmt: skip
    since, until = now - timedelta(hours=3), now - timedelta(minutes=15)

    rows = query(database_dsn, "select * from callback_gaps(%s, %s)", since, until)

    assert [(r["provider"], r["sends"]) for r in rows] == [("twilio", 1)]
