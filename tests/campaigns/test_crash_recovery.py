"""A drip run killed after the provider accepted a send but before the result was recorded:
the next run must not send again (SMS: reconciliation with Twilio; email: same key)."""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import respx

from app.campaigns import drip
from app.core.clock import ManualClock
from app.db.transport import PostgresTransport
from app.jobs.bootstrap import Overrides, bootstrap
from app.jobs.drip import drip_deps
from tests.campaigns.helpers import add_leads, load, query
from tests.conftest import make_settings
from tests.providers.bodies import twilio_message, twilio_page
from tests.providers.conftest import FROM_NUMBER, MESSAGES_URL, TWILIO_SID, TWILIO_TOKEN

SMS_ONLY = """
slug: sms-only
name: SMS only
window: {start: "08:00", end: "21:00"}
steps:
  - channel: sms
    body: "Hi {{ lead.first_name }}, {{ business.name }} here. Reply STOP to opt out."
"""


class Crash(Exception):
    """The container died between the provider's answer and the database write."""


async def test_killed_after_provider_accepted_sms_is_not_sent_twice(
    transport: PostgresTransport, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(
        twilio_account_sid=TWILIO_SID,
        twilio_auth_token=TWILIO_TOKEN,
        twilio_from_number=FROM_NUMBER,
        public_base_url="https://acme--nightshift-web.modal.run",
    )
    async with bootstrap(settings, Overrides(clock=clock, transport=transport)) as ctx:
        assert ctx.providers.sms.name == "twilio"
        await load(ctx, SMS_ONLY)
        await add_leads(ctx, 1)
        await ctx.repos.campaigns.enroll(clock.now())
        sent: list[dict[str, Any]] = []

        def accept(request: httpx.Request) -> httpx.Response:
            form = dict(httpx.QueryParams(request.content.decode()))
            created = format_datetime(clock.now())
            sent.append(twilio_message("SM" + "a" * 32, form["To"], form["Body"], created))
            return httpx.Response(201, json=sent[-1])

        with respx.mock(assert_all_mocked=True) as router:
            post = router.post(MESSAGES_URL).mock(side_effect=accept)
            router.get(MESSAGES_URL).mock(
                side_effect=lambda r: httpx.Response(200, json=twilio_page(sent))
            )
            original = ctx.repos.outbox.record_messages_sent

            async def crash(*args: Any, **kwargs: Any) -> Any:
                raise Crash("killed")

            monkeypatch.setattr(ctx.repos.outbox, "record_messages_sent", crash)
            assert await drip.run(drip_deps(ctx)) == {"reschedule:error:delivery": 1}
            monkeypatch.setattr(ctx.repos.outbox, "record_messages_sent", original)

            clock.advance(timedelta(minutes=16))  # the step's retry time; the claim is stale
            assert await drip.run(drip_deps(ctx)) == {"advance": 1}
            assert post.call_count == 1  # reconciliation found it: no second text

        [row] = await query(ctx, "select status, provider_id, attempts from messages")
        assert (row["status"], row["provider_id"], row["attempts"]) == ("sent", "SM" + "a" * 32, 2)
