"""GET /status behind STATUS_TOKEN (Bearer and the login form's cookie), its sections and
numbers, and `nightshift status` / `--json`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.core.settings import Settings, get_settings
from app.jobs.bootstrap import Context
from app.status.data import collect
from app.webhooks import create_app
from app.webhooks.status_page import COOKIE
from tests.conftest import Rebuild
from tests.daytime import zone_at_midday
from tests.status.conftest import TOKEN
from tests.status.seed import SECRET_NAME, SECRET_PHONE, seed

DAY_START = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
SECTIONS = ("jobs", "alerts", "funnel", "calls", "deliverability", "health", "model",
            "appointments")  # fmt: skip


@pytest.fixture
async def http(ctx: Context, database_dsn: str) -> AsyncIterator[httpx.AsyncClient]:
    seed(database_dsn, DAY_START)
    app = create_app(ctx)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://h.test") as client:
            yield client


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", "Bearer"])
async def test_without_the_token_401_and_no_data(
    http: httpx.AsyncClient, header: str | None
) -> None:
    response = await http.get("/status", headers={"authorization": header} if header else {})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert '<form method="post" action="/status/login">' in response.text
    for secret in (SECRET_NAME, SECRET_PHONE, "drip is late", "A1B2", TOKEN):
        assert secret not in response.text


async def test_bearer_token_shows_every_section(http: httpx.AsyncClient) -> None:
    response = await http.get("/status", headers={"authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    page = response.text
    for key in (*SECTIONS, "quality"):
        assert f'<section id="{key}">' in page
    assert "A1B2" in page and "drip is late" in page  # the open alert and its code
    assert "C3D4" not in page  # resolved: not open
    assert page.count("<svg") == 4  # three funnels (today, 7 and 30 days) and the calls chart
    assert 'id="verdict" data-level="red"' in page  # a critical alert is firing
    assert "<script" not in page


async def test_login_form_sets_a_secure_httponly_cookie(http: httpx.AsyncClient) -> None:
    form = {"content-type": "application/x-www-form-urlencoded"}
    wrong = await http.post("/status/login", content="token=nope", headers=form)
    assert wrong.status_code == 401 and "wrong token" in wrong.text
    ok = await http.post("/status/login", content=f"token={TOKEN}", headers=form)
    assert ok.status_code == 303 and ok.headers["location"] == "/status"
    cookie = ok.headers["set-cookie"]
    for attribute in ("Secure", "HttpOnly", "SameSite=strict", "Path=/;"):
        assert attribute in cookie
    assert TOKEN not in cookie  # the cookie holds an HMAC, not the token
    value = ok.cookies[COOKIE]
    http.cookies.set(COOKIE, value)
    page = await http.get("/status")
    assert page.status_code == 200 and '<section id="funnel">' in page.text
    http.cookies.clear()
    http.cookies.set(COOKIE, "0" * 64)
    forged = await http.get("/status")
    assert forged.status_code == 401


async def test_no_configured_token_refuses_everyone(rebuild: Rebuild) -> None:
    ctx = await rebuild(status_token=None)
    app = create_app(ctx)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://h.test") as http:
            response = await http.get("/status", headers={"authorization": "Bearer "})
    assert response.status_code == 401 and "STATUS_TOKEN is not configured" in response.text


async def test_snapshot_numbers(ctx: Context, clock: object, database_dsn: str) -> None:
    seed(database_dsn, DAY_START)
    snap = await collect(ctx)
    today, seven, thirty = snap["funnel"]  # the console's overview windows
    assert [f["window"] for f in snap["funnel"]] == ["today", "7 days", "30 days"]
    # contacted: leads with a message a provider accepted or a call placed (the seed's
    # messages went through the dry run: none); replies: the two texts; bookings: one
    assert (seven["leads"], seven["contacted"], seven["replied"], seven["booked"]) == (4, 0, 2, 1)
    assert (today["leads"], today["replied"]) == (0, 0)  # all of it was yesterday in Chicago
    assert thirty["leads"] == 4
    assert snap["overview"]["days_7"]["contacted"] == seven["contacted"]
    spring = next(d for d in snap["deliverability"] if d["campaign"] == "spring")
    assert (spring["sent"], spring["bounced"], spring["filtered"]) == (3, 1, 1)
    assert spring["bounced_rate"] == 33.33
    assert {(c["outcome"], c["n"]) for c in snap["calls_per_day"]} == {
        ("booked", 1),
        ("no_answer", 2),
    }
    health = {h["target"]: h for h in snap["health"]}
    assert health["resend"]["ok"] is False and health["twilio"]["latency_ms"] == 120
    assert [a["code"] for a in snap["alerts"]] == ["A1B2"]
    assert [j["job"] for j in snap["jobs"]][:2] == ["drip", "campaign_manager"]
    assert all(j["status"] == "never_run" and j["next_run_at"] for j in snap["jobs"])


@pytest.fixture
def configured(database_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("DATABASE_URL", database_dsn)
    monkeypatch.chdir(Path(__file__).parent)  # no .env here
    get_settings.cache_clear()
    yield database_dsn
    get_settings.cache_clear()


def test_cli_status_sections_and_json(configured: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The CLI reads the real clock: the seeded day ends 4 h before now (its activity 10 h ago),
    # never in the future; and the business is in a zone where it is now midday, so that
    # activity is on today's local date (funnel[0] is "today"). Seeded from midnight UTC the
    # run failed from 00:00 to 10:00 UTC; in New York (the default zone) from 05:00 to 15:00.
    now = datetime.now(UTC)
    monkeypatch.setenv("BUSINESS_TIMEZONE", zone_at_midday(now))
    seed(configured, now - timedelta(hours=20))
    runner = CliRunner()
    as_json = runner.invoke(cli, ["status", "--json"])
    assert as_json.exit_code == 0, as_json.output
    snap = json.loads(as_json.stdout)
    assert set(SECTIONS) - {"calls"} <= set(snap) and "calls_per_day" in snap
    assert snap["funnel"][0]["leads"] >= 3
    text = runner.invoke(cli, ["status"])
    assert text.exit_code == 0, text.output
    for title in ("Jobs", "Open alerts", "Funnel", "Calls per day", "Deliverability",
                  "API health", "Scoring model", "Appointments", "Call quality"):  # fmt: skip
        assert title in text.stdout
