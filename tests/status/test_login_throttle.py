"""The status login as a password guesser meets it: a few tries, then 429 with Retry-After
(per client address, on the app's clock), while the right token still works afterwards.
And the route map is not published in production."""

from __future__ import annotations

from datetime import timedelta

import httpx

from app.core.clock import ManualClock
from app.core.settings import Env
from app.jobs.bootstrap import Context
from app.webhooks import create_app
from app.webhooks.status_page import LOGIN_BURST
from tests.conftest import Rebuild
from tests.status.conftest import TOKEN

FORM = {"content-type": "application/x-www-form-urlencoded"}


def _client(app: object, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 4711))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="https://status.example.com")


async def test_guessing_is_throttled_with_retry_after(ctx: Context, clock: ManualClock) -> None:
    app = create_app(ctx)
    async with app.router.lifespan_context(app), _client(app, "198.51.100.9") as guesser:
        answers = [
            (await guesser.post("/status/login", content=f"token=guess{i}", headers=FORM))
            for i in range(LOGIN_BURST + 3)
        ]
        assert [r.status_code for r in answers] == [401] * LOGIN_BURST + [429] * 3
        assert answers[-1].headers["retry-after"] == "10"
        assert "too many attempts" in answers[-1].text
        # even the right token waits: the throttle answers before any comparison
        right = await guesser.post("/status/login", content=f"token={TOKEN}", headers=FORM)
        assert right.status_code == 429
        async with _client(app, "203.0.113.50") as operator:  # another address is not held up
            ok = await operator.post("/status/login", content=f"token={TOKEN}", headers=FORM)
            assert ok.status_code == 303
        clock.advance(timedelta(seconds=10))  # one attempt earned back
        later = await guesser.post("/status/login", content=f"token={TOKEN}", headers=FORM)
        assert later.status_code == 303


async def test_openapi_is_served_in_development_only(ctx: Context, rebuild: Rebuild) -> None:
    production = await rebuild(nightshift_env=Env.production)
    for context, expected in ((ctx, 200), (production, 404)):
        app = create_app(context)
        async with app.router.lifespan_context(app), _client(app, "192.0.2.1") as http:
            assert (await http.get("/openapi.json")).status_code == expected
            for path in ("/docs", "/redoc"):
                assert (await http.get(path)).status_code == 404
