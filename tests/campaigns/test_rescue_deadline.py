"""Missed-call rescue texts at the edge of the night: four calls went unanswered just before
21:00 in New York, the four rescue texts are due together, and the real Twilio adapter sends
one per second. The gate allowed them all at 20:59:58; the ones whose turn comes at 21:00 or
later must not reach the lead (federal quiet hours): the last-moment check refuses them and
they wait for the morning."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import respx

from app.campaigns.rescue import deliver_due_rescues
from app.core.clock import ManualClock
from app.db.transport import PostgresTransport
from app.jobs.bootstrap import Overrides, bootstrap
from tests.chaos.helpers import FakeProviders, FakeSleep, real_settings, rows
from tests.consented import consented_lead

NEW_YORK = ZoneInfo("America/New_York")
PHONES = [f"+1212555017{i}" for i in range(4)]


async def test_rescue_texts_reaching_their_turn_after_nine_pm_are_held(
    database_dsn: str, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 11, 26, 20, 59, 58, tzinfo=NEW_YORK).astimezone(UTC))
    settings = real_settings(twilio_rate_per_second_per_sender=1.0)
    fake, sleep = FakeProviders(clock), FakeSleep(clock)
    transport = await PostgresTransport(database_dsn, max_size=4).open()
    try:
        overrides = Overrides(clock=clock, transport=transport, sleep=sleep)
        with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
            fake.install(router)
            async with bootstrap(settings, overrides) as ctx:
                leads = [consented_lead(name=f"Pat {i}", phone=p, state="NY",
                                        timezone="America/New_York")
                         for i, p in enumerate(PHONES)]  # fmt: skip
                await ctx.repos.leads.upsert(leads, clock.now())
                for lead in rows(database_dsn, "select id from leads order by id"):
                    message = {
                        "idempotency_key": f"rescue:{lead['id']}:call-{lead['id']}",
                        "provider": "twilio", "payload": {"body": "Sorry we missed you!"},
                    }  # fmt: skip
                    assert await ctx.repos.webhooks.enqueue_rescue(lead["id"], message,
                                                                   clock.now())  # fmt: skip
                sent = await deliver_due_rescues(
                    ctx.repos.webhooks, ctx.providers.delivery, "America/New_York", clock.now()
                )
    finally:
        await transport.close()
    assert sent == 4  # the gate allowed all four at 20:59:58
    texted = {a.to for a in fake.accepted}  # at 20:59:58 and 20:59:59
    assert len(texted) == 2, f"texted after 21:00: {sorted(texted)}"
    held = rows(database_dsn, "select status, error_code, payload from messages"
                " where status <> 'sent' order by id")  # fmt: skip
    assert [(r["status"], r["error_code"]) for r in held] == [("queued", "outside_window")] * 2
    assert all(r["payload"]["send_before"] for r in held)
