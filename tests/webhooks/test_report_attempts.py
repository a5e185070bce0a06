"""The end-of-call report reads the lead's contacts of the last 24 h only for an outcome that
queues a rescue text (webhook_vapi_report, migration 20261207103000_ingest_store): every such
outcome still holds the text at a state's attempt cap; the other outcomes skip the read."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from app.campaigns.rescue import RESCUE_OUTCOMES
from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from app.providers.vapi_parse import EXACT, report_fields
from tests.webhooks.helpers import Db, client, post_vapi, seed_lead, vapi_message

MIAMI = "+13055550142"
REASON = {outcome: reason for reason, outcome in EXACT.items()}


async def _three_calls_placed(db: Db, lead_id: int, first: datetime) -> None:
    for n in range(3):  # FL's cap: three contacts in 24 h (calls and texts together)
        at = first + timedelta(hours=n)
        db.rows(
            "insert into calls (idempotency_key, lead_id, to_number, status, vapi_call_id,"
            " claimed_at, placed_at, created_at) values (%s, %s, %s, 'ended', %s, %s, %s, %s)"
            " returning id",
            (f"cap-{n}", lead_id, MIAMI, f"cap-{n}", at, at, at),
        )


@pytest.mark.parametrize("outcome", sorted(RESCUE_OUTCOMES))
async def test_every_rescue_outcome_holds_the_text_at_the_states_cap(
    ctx: Context, db: Db, clock: ManualClock, outcome: str
) -> None:
    lead_id = await seed_lead(ctx, db, phone=MIAMI, state="FL", timezone="America/New_York")
    first = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)  # 10:00 EST: inside FL's hours
    await _three_calls_placed(db, lead_id, first)
    body = copy.deepcopy(vapi_message("06-end-of-call-report-customer-did-not-answer.json"))
    body["message"]["endedReason"] = REASON[outcome]
    body["message"]["call"].update(id="missed-1", customer={"number": MIAMI})
    clock.set(first + timedelta(hours=3))
    async with client(ctx) as http:
        assert (await post_vapi(http, body)).status_code == 200
    assert db.one("select outcome from calls where vapi_call_id = 'missed-1'") == {
        "outcome": outcome
    }
    text = db.one("select status, payload from messages where kind = 'rescue'")
    assert text["status"] == "queued"  # not sent as a fourth contact in 24 h
    assert datetime.fromisoformat(text["payload"]["not_before"]) == first + timedelta(hours=24)


@pytest.mark.parametrize("reason", ["customer-ended-call", "pipeline-error-openai-llm-failed"])
async def test_other_outcomes_return_no_attempts_and_still_update_the_lead(
    ctx: Context, db: Db, clock: ManualClock, reason: str
) -> None:
    lead_id = await seed_lead(ctx, db, phone=MIAMI, state="FL", timezone="America/New_York")
    first = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
    await _three_calls_placed(db, lead_id, first)
    message = copy.deepcopy(vapi_message("06-end-of-call-report-customer-did-not-answer.json"))
    message = message["message"]
    message["endedReason"] = reason
    message["call"].update(id="talked-1", customer={"number": MIAMI})
    now = first + timedelta(hours=3)
    fields = report_fields(message)
    result = await ctx.repos.webhooks.apply_vapi_report(
        "vapi:talked-1:end-of-call-report", {"message": message}, fields, now
    )
    assert result.outcome not in RESCUE_OUTCOMES and result.lead_id == lead_id
    assert result.recent_attempts == []  # nothing reads them for this outcome
    lead = db.one("select last_called_at, call_attempts from leads where id = %s", (lead_id,))
    assert lead["call_attempts"] == 1 and lead["last_called_at"] is not None
