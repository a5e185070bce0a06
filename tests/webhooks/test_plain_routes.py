"""The providers' webhooks are plain Starlette routes in front of FastAPI's routers (stop 24):
no per-request dependency solving on the busiest paths, and nothing else changed for a
caller — a wrong method is still 405, an unsigned request still refused."""

from __future__ import annotations

from fastapi.routing import APIRoute
from starlette.routing import Route

from app.jobs.bootstrap import Context
from app.webhooks import create_app
from tests.webhooks.helpers import client

PROVIDER_PATHS = ("/webhooks/vapi", "/webhooks/twilio/sms", "/webhooks/twilio/status",
                  "/webhooks/resend")  # fmt: skip


async def test_each_provider_webhook_is_a_plain_route_matched_first(ctx: Context) -> None:
    routes = create_app(ctx).router.routes
    for path in PROVIDER_PATHS:
        [index] = [i for i, r in enumerate(routes) if getattr(r, "path", None) == path]
        route = routes[index]
        assert type(route) is Route and not isinstance(route, APIRoute), path
        assert route.methods is not None and "POST" in route.methods
        first_api_route = min(i for i, r in enumerate(routes) if isinstance(r, APIRoute))
        assert index < first_api_route, path


async def test_a_wrong_method_or_no_signature_is_refused_as_before(ctx: Context) -> None:
    async with client(ctx) as http:
        for path in PROVIDER_PATHS:
            got = await http.get(path)
            assert got.status_code == 405, path
            assert "POST" in got.headers["allow"]
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        assert (await http.post("/webhooks/twilio/status", content=b"a=b", headers=form)
                ).status_code == 403  # fmt: skip
        resend = await http.post("/webhooks/resend", content=b"{}",
                                 headers={"Content-Type": "application/json"})  # fmt: skip
        assert resend.status_code == 401
