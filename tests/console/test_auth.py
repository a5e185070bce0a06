"""/console behind the status page's auth: Bearer or the login form's session; forms carry
a CSRF token; nothing is shown or done without them."""

from __future__ import annotations

import httpx
import pytest

from app.jobs.bootstrap import Context
from tests.campaigns.helpers import load, query
from tests.console.conftest import BEARER, FORM, JSON, TOKEN, login

PAGES = (
    "/console",
    "/console/leads",
    "/console/leads/1",
    "/console/campaigns",
    "/console/calls",
    "/console/alerts",
    "/console/appointments",
)


@pytest.mark.parametrize("path", PAGES)
async def test_no_token_no_data(http: httpx.AsyncClient, path: str) -> None:
    page = await http.get(path)
    assert page.status_code == 401 and 'action="/status/login"' in page.text
    assert 'name="next" value="/console"' in page.text and "Brightside" not in page.text
    wrong = await http.get(
        path, headers={"authorization": "Bearer nope", "accept": "application/json"}
    )
    assert wrong.status_code == 401 and wrong.json() == {"error": "unauthorised"}


async def test_login_form_opens_the_console_and_logout_closes_it(
    http: httpx.AsyncClient,
) -> None:
    wrong = await http.post("/status/login", content="token=nope&next=%2Fconsole", headers=FORM)
    assert wrong.status_code == 401 and 'name="next" value="/console"' in wrong.text
    await login(http)
    cookie = http.cookies
    assert (await http.get("/console/leads")).status_code == 200
    out = await http.post("/status/logout")
    assert out.status_code == 303 and "Path=/" in out.headers["set-cookie"]
    assert (await http.get("/console")).status_code == 401
    assert cookie is not None


async def test_login_cookie_covers_the_console_and_next_is_not_open(
    http: httpx.AsyncClient,
) -> None:
    evil = await http.post(
        "/status/login", content=f"token={TOKEN}&next=https%3A%2F%2Fevil.test", headers=FORM
    )
    assert evil.status_code == 303 and evil.headers["location"] == "/status"
    assert "Path=/;" in evil.headers["set-cookie"] or evil.headers["set-cookie"].endswith("Path=/")


async def test_a_session_form_without_its_csrf_token_does_nothing(
    ctx: Context, http: httpx.AsyncClient
) -> None:
    await load(ctx)
    csrf = await login(http)
    for body in ("reason=forged", "reason=forged&csrf=" + "0" * 64):
        refused = await http.post("/console/campaigns/tune-up/pause", content=body, headers=FORM)
        assert refused.status_code == 403
    [row] = await query(ctx, "select status from campaigns")
    assert row["status"] == "active"
    done = await http.post(
        "/console/campaigns/tune-up/pause",
        content=f"reason=owner+on+holiday&csrf={csrf}",
        headers=FORM,
    )
    assert done.status_code == 303 and done.headers["location"] == "/console/campaigns"
    [row] = await query(ctx, "select status, paused_reason from campaigns")
    assert row == {"status": "paused", "paused_reason": "owner on holiday"}
    [audit] = await query(ctx, "select action, session, target from console_audit")
    assert audit["action"] == "pause" and audit["target"] == "tune-up"
    assert len(audit["session"]) == 12 and audit["session"] != "bearer"


async def test_bearer_clients_need_no_csrf_and_get_json(
    ctx: Context, http: httpx.AsyncClient
) -> None:
    await load(ctx)
    done = await http.post(
        "/console/campaigns/tune-up/pause", content="reason=api", headers={**JSON, **FORM}
    )
    assert done.status_code == 200 and done.json()["status"] == "paused"
    back = await http.post(
        "/console/campaigns/tune-up/resume", content="", headers={**JSON, **FORM}
    )
    assert back.json()["status"] == "active"
    page = await http.get("/console/campaigns/tune-up", headers=JSON)
    actions = page.json()["campaigns"][0]["actions"]
    assert [a["action"] for a in actions] == ["resume", "pause"]
    assert {a["session"] for a in actions} == {"bearer"}
    missing = await http.post(
        "/console/campaigns/nope/pause", content="", headers={**BEARER, **FORM}
    )
    assert missing.status_code == 400 and "no campaign 'nope'" in missing.text
