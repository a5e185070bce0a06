"""API health probes (respx, provider-shaped bodies): recorded in health_checks, alerting
after N failures in a row, at once for rejected credentials, resolved on recovery; the
HEARTBEAT_URL ping; new error fingerprints."""

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
from tests.alerts.support import (
    ACCOUNT_URL,
    MESSAGES_URL,
    PHONE,
    RESEND,
    RESEND_DOMAINS,
    RESEND_EMAILS,
    TWILIO,
    VAPI,
    VAPI_NUMBERS,
    MakeCtx,
    query,
    twilio_created,
)
from tests.guardian.test_heartbeats import RecordingLauncher
from tests.providers.conftest import BASE_URL, TWILIO_SID

REAL = {**RESEND, **TWILIO, **VAPI}
HEALTHZ = f"{BASE_URL}/healthz"
HEARTBEAT = "https://hc-ping.com/5f1c2d3e-8a9b-4c0d-9e8f-7a6b5c4d3e2f"


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        router.post(MESSAGES_URL).mock(
            return_value=httpx.Response(201, json=twilio_created("SM0001", PHONE, "x"))
        )
        router.post(RESEND_EMAILS).mock(return_value=httpx.Response(200, json={"id": "e-1"}))
        router.get(RESEND_DOMAINS, name="resend").mock(
            return_value=httpx.Response(200, json={"object": "list", "data": []})
        )
        router.get(ACCOUNT_URL, name="twilio").mock(
            return_value=httpx.Response(
                200, json={"sid": TWILIO_SID, "status": "active", "type": "Full"}
            )
        )
        router.get(url__startswith=VAPI_NUMBERS, name="vapi").mock(
            return_value=httpx.Response(200, json=[{"id": "pn_5f1c2d3e", "number": "+1555"}])
        )
        router.get(HEALTHZ, name="web").mock(
            return_value=httpx.Response(200, json={"status": "ok", "jobs": {}})
        )
        yield router


def checks(dsn: str) -> list[tuple[str, bool]]:
    rows = query(dsn, "select target, ok from health_checks order by id")
    return [(r["target"], r["ok"]) for r in rows]


def firing(dsn: str) -> dict[str, str]:
    rows = query(dsn, "select key, severity from alerts where status = 'firing'")
    return {r["key"]: r["severity"] for r in rows}


async def test_healthy_providers_are_probed_and_recorded(
    make_ctx: MakeCtx, database_dsn: str, api: respx.MockRouter
) -> None:
    ctx = await make_ctx(**REAL)
    counts = await guard(guardian_deps(ctx), RecordingLauncher(), JOBS)

    assert counts["probes"] == {"resend": "ok", "twilio": "ok", "vapi": "ok"}
    assert checks(database_dsn) == [
        ("database", True),
        ("resend", True),
        ("twilio", True),
        ("vapi", True),
        ("web", True),
    ]
    assert api["twilio"].calls.last.request.headers["Authorization"].startswith("Basic ")
    assert api["vapi"].calls.last.request.url.params["limit"] == "1"
    assert firing(database_dsn) == {}


async def test_dry_run_providers_are_not_probed(make_ctx: MakeCtx, database_dsn: str) -> None:
    ctx = await make_ctx()
    counts = await guard(guardian_deps(ctx), RecordingLauncher(), JOBS)
    assert counts["probes"] == {} and checks(database_dsn) == [("database", True)]


async def test_a_send_only_resend_key_counts_as_healthy(
    make_ctx: MakeCtx, database_dsn: str, api: respx.MockRouter
) -> None:
    api["resend"].mock(
        return_value=httpx.Response(
            401,
            json={
                "statusCode": 401,
                "name": "restricted_api_key",
                "message": "This API key is restricted to only send emails",
            },
        )
    )
    ctx = await make_ctx(**REAL)
    assert (await guard(guardian_deps(ctx), RecordingLauncher(), JOBS))["probes"]["resend"] == "ok"


@pytest.mark.parametrize(
    ("target", "severity"), [("resend", "warning"), ("twilio", "critical"), ("vapi", "warning")]
)
async def test_5xx_alerts_after_two_failures_in_a_row_and_resolves_on_recovery(
    make_ctx: MakeCtx,
    clock: ManualClock,
    database_dsn: str,
    api: respx.MockRouter,
    target: str,
    severity: str,
) -> None:
    ctx = await make_ctx(**REAL)
    healthy = api[target].return_value
    api[target].mock(return_value=httpx.Response(503, json={"message": "Service Unavailable"}))
    first = await guard(guardian_deps(ctx), RecordingLauncher(), JOBS)
    assert first["probes"][target] == "failing" and firing(database_dsn) == {}

    clock.advance(timedelta(minutes=5))
    second = await guard(guardian_deps(ctx), RecordingLauncher(), JOBS)
    assert second["probes"][target] == "alerted"
    assert firing(database_dsn) == {f"probe.{target}.down": severity}

    api[target].mock(return_value=healthy)
    clock.advance(timedelta(minutes=5))
    await guard(guardian_deps(ctx), RecordingLauncher(), JOBS)
    assert firing(database_dsn) == {}
    rows = query(
        database_dsn,
        "select ok, error from health_checks where target = %s order by id",
        target,
    )
    assert rows == [
        {"ok": False, "error": "HTTP 503"},
        {"ok": False, "error": "HTTP 503"},
        {"ok": True, "error": None},
    ]


@pytest.mark.parametrize("target", ["resend", "twilio", "vapi"])
async def test_rejected_credentials_alert_critical_at_once(
    make_ctx: MakeCtx, database_dsn: str, api: respx.MockRouter, target: str
) -> None:
    api[target].mock(return_value=httpx.Response(401, json={"message": "Invalid key"}))
    ctx = await make_ctx(**REAL)
    counts = await guard(guardian_deps(ctx), RecordingLauncher(), JOBS)
    assert counts["probes"][target] == "alerted"
    assert firing(database_dsn) == {f"probe.{target}.auth": "critical"}


async def test_timeouts_count_as_failures_and_never_leak_the_key(
    make_ctx: MakeCtx, clock: ManualClock, database_dsn: str, api: respx.MockRouter
) -> None:
    api["vapi"].mock(side_effect=httpx.ConnectTimeout("timed out"))
    ctx = await make_ctx(**REAL)
    await guard(guardian_deps(ctx), RecordingLauncher(), JOBS)
    clock.advance(timedelta(minutes=5))
    await guard(guardian_deps(ctx), RecordingLauncher(), JOBS)

    assert firing(database_dsn) == {"probe.vapi.down": "warning"}
    stored = str(query(database_dsn, "select * from health_checks")) + str(
        query(database_dsn, "select * from alerts")
    )
    assert "ConnectTimeout" in stored and VAPI["vapi_api_key"] not in stored


async def test_each_run_pings_the_heartbeat_url_and_survives_its_failure(
    make_ctx: MakeCtx, api: respx.MockRouter
) -> None:
    ping = api.get(HEARTBEAT).mock(return_value=httpx.Response(200, text="OK"))
    ctx = await make_ctx(heartbeat_url=HEARTBEAT)
    assert (await guard(guardian_deps(ctx), RecordingLauncher(), JOBS))["heartbeat_pinged"] is True
    ping.mock(side_effect=httpx.ConnectError("refused"))
    assert (await guard(guardian_deps(ctx), RecordingLauncher(), JOBS))["heartbeat_pinged"] is False
    assert ping.call_count == 2


async def test_a_new_error_fingerprint_seen_often_raises_a_warning(
    make_ctx: MakeCtx, clock: ManualClock, database_dsn: str
) -> None:
    ctx = await make_ctx(guardian_error_fingerprint_threshold=3)
    old = clock.now()
    await ctx.repos.logs.write("error", "job:drip", "lead 7 has no timezone", old)
    clock.advance(timedelta(days=1))
    for n in range(4):  # 4 > 3: both fingerprints; only the first is new
        await ctx.repos.logs.write(
            "error", "job:drip", f"render failed for lead {n} at https://x.test/{n}", clock.now()
        )
        await ctx.repos.logs.write("error", "job:drip", f"lead {n} has no timezone", clock.now())
    counts = await guard(guardian_deps(ctx), RecordingLauncher(), JOBS)

    assert counts["new_error_fingerprints"] == 1
    (row,) = query(database_dsn, "select key, title, details from alerts")
    assert row["key"].startswith("errors.new.")
    assert row["title"].startswith("new error, 4x in the last hour: render failed for lead")
    assert row["details"] == {"fingerprint": "render failed for lead <n> at <url>"}

    clock.advance(timedelta(hours=2))  # gone quiet: resolved
    await guard(guardian_deps(ctx), RecordingLauncher(), JOBS)
    assert firing(database_dsn) == {}
