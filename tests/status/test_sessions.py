"""The status login's session, as an operator uses it: log in, read the page, log out — and
a copy of the cookie (another browser, a stolen one) stops working at logout, after 7 days,
or when STATUS_TOKEN is rotated. The database keeps only a hash of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from pydantic import SecretStr

from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from app.webhooks import create_app
from app.webhooks.status_page import COOKIE
from tests.appointments.helpers import rows
from tests.conftest import Rebuild
from tests.status.conftest import TOKEN

FORM = {"content-type": "application/x-www-form-urlencoded"}


@asynccontextmanager
async def browser(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ctx)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://h.test") as http:
            yield http


async def login(http: httpx.AsyncClient) -> str:
    response = await http.post("/status/login", content=f"token={TOKEN}", headers=FORM)
    assert response.status_code == 303
    cookie: str = response.cookies[COOKIE]
    return cookie


async def page(http: httpx.AsyncClient, cookie: str) -> int:
    http.cookies.clear()
    http.cookies.set(COOKIE, cookie)
    return (await http.get("/status")).status_code


async def test_logout_revokes_every_copy_of_the_cookie(ctx: Context, database_dsn: str) -> None:
    async with browser(ctx) as http:
        cookie = await login(http)
        assert await page(http, cookie) == 200
        assert rows(database_dsn, "select id_hash from status_sessions") != [{"id_hash": cookie}]
        http.cookies.set(COOKIE, cookie)
        out = await http.post("/status/logout")
        assert out.status_code == 303 and COOKIE in out.headers["set-cookie"]  # cleared
        assert await page(http, cookie) == 401  # the copy kept elsewhere
        assert await page(http, await login(http)) == 200  # logging in again works


async def test_a_session_expires_after_seven_days(ctx: Context, clock: ManualClock) -> None:
    async with browser(ctx) as http:
        cookie = await login(http)
        clock.advance(timedelta(days=7, seconds=-1))
        assert await page(http, cookie) == 200
        clock.advance(timedelta(seconds=1))
        assert await page(http, cookie) == 401


async def test_rotating_the_token_ends_the_sessions(ctx: Context, rebuild: Rebuild) -> None:
    async with browser(ctx) as http:
        cookie = await login(http)
    rotated = await rebuild(status_token=SecretStr("a-new-status-token-after-a-leak-7c1e"))
    async with browser(rotated) as http:
        assert await page(http, cookie) == 401
