"""Every failure reaches system_logs in one stable shape (issue 15 item 5): source, code, key,
lead, message — provider rejections, retried provider failures and reconciliation outcomes,
the input of failure learning (they used to go to stdout only)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import respx

from app.core.clock import ManualClock
from app.jobs import drip
from app.jobs.bootstrap import Context
from tests.providers.bodies import twilio_error, twilio_page
from tests.webhooks.helpers import Db, enqueue_sms, seed_campaign, seed_lead
from tests.webhooks.test_message_reconcile import ACCOUNT, live, mock

__all__ = ["live", "mock"]  # the fixtures of the reconcile tests: a graph with Twilio keys
MESSAGES = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages.json"


def failures(db: Db) -> list[dict[str, Any]]:
    return db.rows("select level, source, code, key, lead_id, message, run_id from system_logs"
                   " where code is not null order by id")  # fmt: skip


async def test_a_number_twilio_rejects_is_logged_with_its_code_row_and_lead(
    live: Context, db: Db, mock: respx.MockRouter
) -> None:
    lead_id = await seed_lead(live, db, phone="+14155550142", name="Ana")
    outbox_id = await enqueue_sms(live, lead_id, "+14155550142", "recall:1")
    mock.post(MESSAGES).mock(return_value=httpx.Response(400, json=twilio_error(
        21211, "Invalid 'To' Phone Number: +14155550142")))  # fmt: skip

    delivery = await live.providers.delivery.deliver_message(outbox_id)

    assert delivery.outcome == "failed"
    (row,) = failures(db)
    assert row == {
        "level": "error", "source": "delivery:sms", "code": "21211",
        "key": f"outbox:{outbox_id}", "lead_id": lead_id, "run_id": None,
        "message": "rejected: twilio: Invalid 'To' Phone Number: +14155550142 (code 21211)",
    }  # fmt: skip


async def test_a_twilio_outage_is_logged_as_a_warning_and_the_text_waits(
    live: Context, db: Db, mock: respx.MockRouter
) -> None:
    lead_id = await seed_lead(live, db, phone="+14155550143", name="Bo")
    outbox_id = await enqueue_sms(live, lead_id, "+14155550143", "recall:2")
    mock.post(MESSAGES).mock(return_value=httpx.Response(503, json=twilio_error(
        20503, "Service Unavailable", 503)))  # fmt: skip
    mock.get(MESSAGES).mock(return_value=httpx.Response(200, json=twilio_page([])))

    delivery = await live.providers.delivery.deliver_message(outbox_id)

    assert delivery.outcome == "requeued"
    (row,) = failures(db)
    assert (row["level"], row["source"], row["key"], row["lead_id"]) == (
        "warning", "delivery:sms", f"outbox:{outbox_id}", lead_id)  # fmt: skip
    assert row["message"].startswith("failed, will retry: twilio: server error HTTP 503")


async def test_a_step_that_cannot_be_planned_is_logged_for_its_lead(ctx: Context, db: Db) -> None:
    lead_id = await seed_lead(ctx, db, phone="+14155550144", name="Cy")
    await seed_campaign(ctx, stop={"on_reply": "sometimes"})  # stored, unreadable later
    assert isinstance(ctx.clock, ManualClock)
    ctx.clock.advance(timedelta(hours=2))

    counts = await drip.run(ctx)

    assert any(key.startswith("reschedule:error:") for key in counts), counts
    (row,) = failures(db)
    assert (row["level"], row["source"], row["lead_id"]) == ("error", "drip:step", lead_id)
    assert row["key"].startswith("enrollment:") and row["message"].startswith("step not planned")
