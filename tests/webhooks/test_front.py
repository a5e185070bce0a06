"""The providers' webhook POSTs are served in front of FastAPI's own layers
(app.webhooks.front): through the app's middleware to the route's handler, and nothing else
changes for a caller — a signed event is stored, a wrong method is still 405, an unexpected
error still a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from app.jobs.bootstrap import Context
from app.webhooks import create_app, twilio
from tests.webhooks.helpers import PUBLIC, Db, fixture, replay

PROVIDER_PATHS = ("/webhooks/vapi", "/webhooks/twilio/sms", "/webhooks/twilio/status",
                  "/webhooks/resend")  # fmt: skip
SEEN: list[Scope] = []


class Recorder:
    """A middleware the app adds after create_app: it must wrap the fast path too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            SEEN.append(scope)  # the scope the layers below fill in
        await self.app(scope, receive, send)


def _client(ctx: Context, *, raise_errors: bool = True) -> httpx.AsyncClient:
    app = create_app(ctx)
    app.state.context = ctx
    app.add_middleware(Recorder)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_errors)
    return httpx.AsyncClient(transport=transport, base_url=PUBLIC)


async def test_a_provider_post_skips_fastapis_layers_and_keeps_the_apps(ctx: Context) -> None:
    SEEN.clear()
    async with _client(ctx) as http:
        for path in PROVIDER_PATHS:
            # unsigned: refused by the handler itself, behind the app's middleware
            got = await http.post(path, content=b"{}", headers={"Content-Type": "application/json"})
            assert got.status_code in (401, 403), path
        await http.get("/webhooks/vapi")  # not a POST: FastAPI's whole stack, as before
    posts, get = SEEN[:-1], SEEN[-1]
    assert [s["path"] for s in posts] == list(PROVIDER_PATHS)
    for scope in posts:
        assert "starlette.exception_handlers" not in scope  # no ExceptionMiddleware
        assert scope["endpoint"].__name__ == "safe"  # the route's own handler (database_safe)
        assert scope["app"] is not None and scope["path_params"] == {}
    assert "starlette.exception_handlers" in get


async def test_a_signed_status_callback_is_stored_through_the_fast_path(
    ctx: Context, db: Db
) -> None:
    SEEN.clear()
    async with _client(ctx) as http:
        got = await replay(http, fixture("twilio", "status_delivered.json"))
    assert got.status_code == 200, got.text
    assert "starlette.exception_handlers" not in SEEN[0]  # the fast path served it
    assert db.one("select dedupe_key from webhook_events")["dedupe_key"] == (
        "twilio:SM5d7f9b1d3f5b7d9f1b3d5f7b9d1f3b5d:delivered"
    )


async def test_an_unexpected_error_is_still_a_500(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("a bug, not a database outage")

    monkeypatch.setattr(twilio, "verified_params", broken)
    async with _client(ctx, raise_errors=False) as http:
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        got = await http.post("/webhooks/twilio/status", content=b"a=b", headers=form)
    assert got.status_code == 500
