"""A drip run that claimed steps reads the due rescue texts with the settle of its last batch
(drip_settle, supabase/migrations/20261209121000_drip_settle.sql): one round trip where the
settle and the read were two, and the rescue texts still go out in that run."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from app.jobs.runner import run_job
from tests.webhooks.helpers import Db, client, post_vapi, seed_campaign, seed_lead, vapi_message

MIAMI = "+13055550142"


async def test_a_run_with_steps_due_settles_and_reads_the_rescue_texts_in_one_call(
    ctx: Context, clock: ManualClock, database_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kim (New York) and a Miami lead are enrolled at 20:55 EST, their first text due an
    hour later, outside the permitted hours; the Miami lead's missed call queues a rescue
    text, held until 08:00 EST (Florida: 08-20). At 09:00 EST one drip run sends both
    campaign texts and the rescue text; its settle is drip_settle, and no separate rescue
    read (webhook_due_rescue_checks) is made."""
    db = Db(database_dsn)
    clock.set(datetime(2026, 11, 27, 1, 55, tzinfo=UTC))  # 20:55 EST
    await seed_lead(ctx, db, phone="+12125550177", name="Kim", state="NY",
                    timezone="America/New_York")  # fmt: skip
    await seed_lead(ctx, db, phone=MIAMI, state="FL", timezone="America/New_York")
    await seed_campaign(ctx)
    body = copy.deepcopy(vapi_message("06-end-of-call-report-customer-did-not-answer.json"))
    body["message"]["call"]["id"] = "call-fl"
    body["message"]["call"]["customer"]["number"] = MIAMI
    async with client(ctx) as http:
        await post_vapi(http, body)
    clock.set(datetime(2026, 11, 27, 14, 0, tzinfo=UTC))  # 09:00 EST
    called: list[str] = []
    real = ctx.transport.call

    async def counted(function: str, args: Any = None) -> Any:
        called.append(function)
        return await real(function, args)

    monkeypatch.setattr(ctx.transport, "call", counted)
    outcome = await run_job(ctx, "drip")

    assert outcome.status == "succeeded"
    assert outcome.counts == {"advance": 2, "rescue_texts": 1}
    assert called.count("drip_settle") == 1
    assert "complete_steps" not in called and "webhook_due_rescue_checks" not in called
    # the settle comes after every send of the batch was recorded, the rescue text after it
    assert called.index("drip_settle") > called.index("record_messages_sent")
    assert called.index("drip_settle") < called.index("claim_message")
    sent = db.rows("select kind, status, to_address from messages order by kind, to_address")
    assert sent == [
        {"kind": "marketing", "status": "dry_run", "to_address": "+12125550177"},
        {"kind": "marketing", "status": "dry_run", "to_address": MIAMI},
        {"kind": "rescue", "status": "dry_run", "to_address": MIAMI},
    ]
    assert db.one("select count(*) n from enrollments where lease_owner is null") == {"n": 2}
