"""Every failure reaches system_logs in one stable shape (issue 15 item 5): source, code, key,
lead, message — provider rejections, retried provider failures, reconciliation outcomes, a
crashed batch delivery and the spool's drain (tests/webhooks/test_spool.py too), the input
of failure learning (they used to go to stdout only)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import httpx
import psycopg
import pytest
import respx

from app.core.clock import ManualClock
from app.jobs import drip
from app.jobs.bootstrap import Context
from app.jobs.spool import drain_spool
from app.providers.spool import SpooledRequest
from app.providers.spool_store import ModalDictSpool
from app.webhooks import ingest
from tests.providers.bodies import twilio_error, twilio_page
from tests.webhooks.helpers import Db, enqueue_sms, seed_campaign, seed_lead
from tests.webhooks.test_message_reconcile import ACCOUNT, live, mock
from tests.webhooks.test_spool import _Aio, _DictLike

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


TERMINATE = """
select count(pg_terminate_backend(pid)) n from pg_stat_activity
 where datname = current_database() and pid <> pg_backend_pid()
"""


async def test_a_batch_delivery_cut_off_by_the_database_is_logged(
    ctx: Context, db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database drops every connection as the drip's delivery makes its first call (the
    last-moment check: the outbox write claimed the batch's texts): the steps are rescheduled
    and the crash is in system_logs (it used to reach stdout only)."""
    await seed_lead(ctx, db, phone="+14155550145", name="Di")
    await seed_campaign(ctx)
    assert isinstance(ctx.clock, ManualClock)
    ctx.clock.advance(timedelta(hours=2))
    check = ctx.repos.outbox.mark_sending

    async def drop_then_check(*args: Any, **kwargs: Any) -> Any:
        with psycopg.connect(db.dsn, autocommit=True) as admin:
            admin.execute(TERMINATE)
        return await check(*args, **kwargs)

    monkeypatch.setattr(ctx.repos.outbox, "mark_sending", drop_then_check)
    counts = await drip.run(ctx)

    assert counts.get("reschedule:error:delivery") == 1, counts
    (row,) = failures(db)
    assert (row["level"], row["source"], row["code"]) == (
        "error", "drip:delivery", "DatabaseUnavailable")  # fmt: skip
    assert row["message"].startswith("batch delivery failed (1 sms message(s) rescheduled)")
    assert row["key"].startswith("outbox:") and row["lead_id"] is None


async def test_a_spool_store_that_cannot_be_reached_fails_the_drain_and_is_logged(
    ctx: Context, db: Db, rebuild: Any
) -> None:
    """The Modal Dict holding the spool cannot be reached (Modal's API down): the drain
    fails, the job goes on, and system_logs says so (the next run drains again)."""
    store = _DictLike()
    request = SpooledRequest.new("/webhooks/twilio/sms", "", {}, b"Body=STOP", ctx.clock.now())
    await ModalDictSpool("nightshift-spool", store=store).put(request)

    async def unreachable(key: str, default: Any = None) -> Any:
        raise ConnectionError("Deadline exceeded: modal-http: api.modal.com")

    store.get = _Aio(unreachable)
    graph = await rebuild()
    on_modal = dataclasses.replace(graph, spool=ModalDictSpool("nightshift-spool", store=store))
    assert await drain_spool(on_modal, ingest(on_modal)) == {"spool_drain_failed": 1}
    (row,) = failures(db)
    assert (row["level"], row["source"], row["code"]) == ("error", "spool", "ConnectionError")
    assert row["message"] == "spool drain failed: Deadline exceeded: modal-http: api.modal.com"
