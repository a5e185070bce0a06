"""A STOP texted during a database outage, as the web app spools it, and the graph of a job
run that drains it through the web app's routes (as app.modal_entry builds it): what the
tests of a run's begin build (tests/appointments/test_run_begin.py,
tests/campaigns/test_run_begin.py; the `graph` fixture of tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime
from urllib.parse import urlencode

from pydantic import SecretStr

from app.db.transport import Transport
from app.jobs.bootstrap import Context, Overrides, bootstrap
from app.providers.spool import SpooledRequest
from app.webhooks import ingest
from app.webhooks.signatures import twilio_signature

PUBLIC = "https://hooks.example.com"
TWILIO_TOKEN = "f0e1d2c3b4a5968778695a4b3c2d1e0f"

MakeGraph = Callable[[Transport], Awaitable[Context]]


def spooled_stop(phone: str, sid: str, at: datetime) -> SpooledRequest:
    """`phone` texting STOP (Twilio's signed form post, message `sid`), spooled at `at`."""
    path = "/webhooks/twilio/sms"
    params = {"MessageSid": sid, "From": phone, "To": "+14155550123", "Body": "STOP"}
    signature = twilio_signature(TWILIO_TOKEN, PUBLIC + path, params.items())
    headers = {"content-type": "application/x-www-form-urlencoded",
               "x-twilio-signature": signature}  # fmt: skip
    return SpooledRequest.new(path, "", headers, urlencode(params).encode(), at)


@asynccontextmanager
async def graphs(ctx: Context) -> AsyncIterator[MakeGraph]:
    """`await make(transport)`: a job's graph over `transport`, with Twilio's signing token
    and the web app's routes to drain the spool through, on `ctx`'s clock and spool."""
    settings = ctx.settings.model_copy(
        update={"public_base_url": PUBLIC, "twilio_auth_token": SecretStr(TWILIO_TOKEN)}
    )
    async with AsyncExitStack() as stack:

        async def make(transport: Transport) -> Context:
            overrides = Overrides(clock=ctx.clock, transport=transport, spool=ctx.spool,
                                  ingest=ingest)  # fmt: skip
            return await stack.enter_async_context(bootstrap(settings, overrides))

        yield make
