"""The console's tests: a status token, the business in Chicago, an HTTP client on the app."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from app.core.settings import Settings
from app.jobs.bootstrap import Context
from app.webhooks import create_app
from tests.conftest import make_settings

TOKEN = "console-test-token-8c2f"
BEARER = {"authorization": f"Bearer {TOKEN}"}
JSON = {**BEARER, "accept": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture
def settings() -> Settings:
    return make_settings(
        nightshift_env="development",
        status_token=TOKEN,
        business_name="Brightside HVAC",
        business_timezone="America/Chicago",
    )


async def client_for(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ctx)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://h.test") as client:
            yield client


@pytest.fixture
async def http(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_for(ctx):
        yield client


async def login(http: httpx.AsyncClient) -> str:
    """Sign in through the form as a browser would; returns the CSRF token of its pages."""
    answer = await http.post(
        "/status/login", content=f"token={TOKEN}&next=%2Fconsole", headers=FORM
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/console"
    page = await http.get("/console")
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf-token" content="([0-9a-f]{64})"', page.text)
    assert found, "the page's forms carry no CSRF token"
    return found.group(1)
