"""Storm cap, fallback when a provider is down, and the database-down path, with the real
Resend/Twilio adapters against respx-mocked APIs (provider-shaped bodies)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from app.alerts import flush_alerts
from app.alerts.direct import DB_DOWN_KEY, DirectPager, page_directly, record_direct_pages
from app.core.clock import ManualClock
from app.db.errors import DatabaseUnavailable
from app.jobs.alerting import alert_dispatch, direct_line
from app.jobs.guardian import guardian_tick, page_without_context
from tests.alerts.support import (
    ACCOUNT_URL,
    EMAIL,
    MESSAGES_URL,
    PHONE,
    RESEND,
    RESEND_DOMAINS,
    RESEND_EMAILS,
    TWILIO,
    MakeCtx,
    alert_messages,
    oncall,
    query,
    sent_to,
    twilio_created,
)
from tests.providers.bodies import twilio_error
from tests.providers.conftest import BASE_URL

WINDOW = timedelta(seconds=30)


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        yield router


def twilio_ok(api: respx.MockRouter) -> respx.Route:
    return api.post(MESSAGES_URL).mock(
        return_value=httpx.Response(201, json=twilio_created("SM0001", PHONE, "x"))
    )


def resend_ok(api: respx.MockRouter) -> respx.Route:
    return api.post(RESEND_EMAILS).mock(
        return_value=httpx.Response(200, json={"id": "4ef9a417-02e9-4d39-ad75-9611e0fcc33c"})
    )


async def test_storm_cap_one_summary_sms_then_the_rest_by_email(
    make_ctx: MakeCtx, clock: ManualClock, database_dsn: str
) -> None:
    ctx = await make_ctx(alert_sms_per_hour=3, oncall_escalation_phones="")
    for n in range(6):  # six separate critical notifications within the hour
        await ctx.alerts.raise_alert(f"job.j{n}.down", "critical", f"job {n} is down")
        clock.advance(WINDOW)
        await flush_alerts(alert_dispatch(ctx))

    sms = sent_to(database_dsn, PHONE)
    bodies = [m["payload"]["body"] for m in sms]
    assert len(sms) == 4  # three alerts, then one summary, then nothing
    assert [b.split()[1] for b in bodies[:3]] == ["job.j0.down:", "job.j1.down:", "job.j2.down:"]
    assert bodies[3].startswith("nightshift: SMS storm cap reached (3/h). 1 alert")
    emails = [m["payload"]["text"] for m in sent_to(database_dsn, EMAIL)]
    assert len(emails) == 6 and all(f"job.j{n}.down" in emails[n] for n in range(6))

    clock.advance(timedelta(hours=1))  # the window slides: SMS again
    await ctx.alerts.raise_alert("job.j9.down", "critical", "job 9 is down")
    clock.advance(WINDOW)
    await flush_alerts(alert_dispatch(ctx))
    assert "job.j9.down" in sent_to(database_dsn, PHONE)[-1]["payload"]["body"]


async def test_email_provider_down_warnings_go_by_sms(
    make_ctx: MakeCtx, clock: ManualClock, database_dsn: str, api: respx.MockRouter
) -> None:
    ctx = await make_ctx(**RESEND)  # Twilio without credentials: its dry-run twin
    resend = api.post(RESEND_EMAILS).mock(
        return_value=httpx.Response(
            503, json={"statusCode": 503, "name": "service_unavailable", "message": "down"}
        )
    )
    await ctx.alerts.raise_alert("probe.vapi.down", "warning", "vapi unhealthy")
    clock.advance(WINDOW)
    report = await flush_alerts(alert_dispatch(ctx))

    assert resend.call_count == 1 and report.fallbacks == 1
    email, sms = alert_messages(database_dsn)
    assert (email["channel"], email["status"]) == ("email", "queued")  # retried later
    assert (sms["channel"], sms["to_address"], sms["status"]) == ("sms", PHONE, "dry_run")
    assert sms["payload"]["fallback"] is True and "probe.vapi.down" in sms["payload"]["body"]

    await flush_alerts(
        alert_dispatch(ctx)
    )  # email still down: the queued row is retried, no second SMS
    assert resend.call_count == 2 and len(sent_to(database_dsn, PHONE)) == 1


async def test_email_down_with_two_recipients_tries_resend_once_and_texts_once(
    make_ctx: MakeCtx, clock: ManualClock, database_dsn: str, api: respx.MockRouter
) -> None:
    ctx = await make_ctx(**RESEND, oncall_emails=f"{EMAIL},second@acme.test")
    resend = api.post(RESEND_EMAILS).mock(
        return_value=httpx.Response(
            401,
            json={"statusCode": 401, "name": "invalid_api_key", "message": "API key is invalid"},
        )
    )
    await ctx.alerts.raise_alert("probe.vapi.down", "warning", "vapi unhealthy")
    clock.advance(WINDOW)
    report = await flush_alerts(alert_dispatch(ctx))

    assert resend.call_count == 1  # the second email row is deferred, not tried
    assert report.outcomes == {"failed": 1, "deferred": 1}
    (sms,) = sent_to(database_dsn, PHONE)
    assert sms["status"] == "dry_run" and sms["idempotency_key"].startswith("alert-fallback:sms:")


async def test_twilio_down_criticals_go_by_email(
    make_ctx: MakeCtx, clock: ManualClock, database_dsn: str, api: respx.MockRouter
) -> None:
    ctx = await make_ctx(**RESEND, **TWILIO, alert_routes_critical="sms")
    twilio = api.post(MESSAGES_URL).mock(
        return_value=httpx.Response(401, json=twilio_error(20003, "Authenticate", 401))
    )
    resend = resend_ok(api)
    await ctx.alerts.raise_alert("job.drip.down", "critical", "drip is down")
    clock.advance(WINDOW)
    await flush_alerts(alert_dispatch(ctx))

    assert twilio.call_count == 1 and resend.call_count == 1
    sms, email = alert_messages(database_dsn)
    assert (sms["status"], email["status"], email["to_address"]) == ("failed", "sent", EMAIL)
    sent = resend.calls.last.request
    assert b"job.drip.down" in sent.content and sent.headers["Idempotency-Key"].startswith(
        "alert-fallback:email:"
    )


async def test_twilio_down_with_default_routes_still_emails_once(
    make_ctx: MakeCtx, clock: ManualClock, database_dsn: str, api: respx.MockRouter
) -> None:
    ctx = await make_ctx(**RESEND, **TWILIO)
    api.post(MESSAGES_URL).mock(return_value=httpx.Response(500, json={"message": "oops"}))
    api.get(MESSAGES_URL).mock(return_value=httpx.Response(500, json={"message": "oops"}))
    resend = resend_ok(api)
    await ctx.alerts.raise_alert("job.drip.down", "critical", "drip is down")
    clock.advance(WINDOW)
    await flush_alerts(alert_dispatch(ctx))
    assert resend.call_count == 1  # the email route; no duplicate fallback email
    assert len(sent_to(database_dsn, EMAIL)) == 1


async def test_database_down_pages_directly_then_records_it_when_back(
    make_ctx: MakeCtx, clock: ManualClock, database_dsn: str, api: respx.MockRouter
) -> None:
    ctx = await make_ctx(**RESEND, **TWILIO)
    twilio, resend = twilio_ok(api), resend_ok(api)
    pager = DirectPager()
    line = direct_line(ctx)
    page = await page_directly(
        line, DB_DOWN_KEY, "database unreachable", {"error": "X"}, pager=pager
    )
    clock.advance(timedelta(minutes=5))
    again = await page_directly(line, DB_DOWN_KEY, "database unreachable", {}, pager=pager)

    assert page is not None and page.channels == ["sms", "email"] and again is None
    assert twilio.call_count == 1 and resend.call_count == 1  # once per repeat interval
    assert b"database.unreachable" in twilio.calls.last.request.content
    assert alert_messages(database_dsn) == []  # nothing stored while "down"

    assert await record_direct_pages(ctx.repos.alerts, ctx.clock, pager=pager) == 1
    (row,) = query(
        database_dsn,
        "select key, severity, status, notified_channels, last_notified_at from alerts",
    )
    assert row == {
        "key": DB_DOWN_KEY,
        "severity": "critical",
        "status": "firing",
        "notified_channels": ["email", "sms"],
        "last_notified_at": page.sent_at,
    }
    assert pager.unrecorded == []


class _DeadTransport:
    name = "dead"

    async def call(
        self, function: str, args: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        raise DatabaseUnavailable("connection refused", function=function)

    async def close(self) -> None:
        return None


async def test_guardian_tick_with_the_database_down_pages_through_the_providers(
    make_ctx: MakeCtx, api: respx.MockRouter, fresh_pager: DirectPager, database_dsn: str
) -> None:
    down = await make_ctx(transport=_DeadTransport(), **RESEND, **TWILIO)
    twilio, resend = twilio_ok(api), resend_ok(api)

    outcome = await guardian_tick(down)
    assert outcome is None
    assert twilio.call_count == 1 and resend.call_count == 1
    assert [p.key for p in fresh_pager.unrecorded] == [DB_DOWN_KEY]

    # the database is back (a graph over it): the next run records the page and resolves it
    ctx = await make_ctx(**RESEND, **TWILIO)
    api.get(RESEND_DOMAINS).mock(return_value=httpx.Response(200, json={"data": []}))
    api.get(ACCOUNT_URL).mock(return_value=httpx.Response(200, json={"sid": "AC1"}))
    api.get(f"{BASE_URL}/healthz").mock(return_value=httpx.Response(200, json={"status": "ok"}))
    back = await guardian_tick(ctx)
    assert back is not None and back.status == "succeeded"
    assert back.counts["direct_pages_recorded"] is True and fresh_pager.unrecorded == []
    (row,) = query(database_dsn, "select key, status from alerts")
    assert row == {"key": DB_DOWN_KEY, "status": "resolved"}
    resolved = [m["payload"]["body"] for m in sent_to(database_dsn, PHONE)]
    assert resolved == [
        "[RESOLVED CRIT] database.unreachable: database unreachable: every job is stopped"
    ]


async def test_without_any_context_the_page_still_goes_out(
    api: respx.MockRouter, fresh_pager: DirectPager, tmp_path: Path
) -> None:
    twilio, resend = twilio_ok(api), resend_ok(api)
    settings = oncall(**RESEND, **TWILIO, spool_dir=str(tmp_path / "spool"))
    await page_without_context(settings, DatabaseUnavailable("cannot connect"))
    assert twilio.call_count == 1 and resend.call_count == 1
    assert fresh_pager.unrecorded[0].channels == ["sms", "email"]
