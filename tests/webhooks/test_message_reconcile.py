"""Lost Twilio status callbacks (issue 15 item 2): Twilio gives up on a callback after 15 s,
so a text whose final status was lost stays `sent`. The campaign_manager run reads such a
text back a day later (`GET /2010-04-01/Accounts/{Sid}/Messages/{MessageSid}.json`, respx)
and applies its status through the callback's own function, under the callback's own dedupe
key: a late real callback then changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from app.core.clock import ManualClock
from app.jobs import campaign_manager
from app.jobs.bootstrap import Context, Overrides, bootstrap
from app.webhooks.signatures import twilio_signature
from tests.providers.bodies import twilio_error, twilio_message
from tests.webhooks.helpers import PUBLIC, TWILIO_TOKEN, Db, client, enqueue_sms, seed_lead

ACCOUNT = "AC7f3c2a9e4b1d4c8e9a0f6b2d3c4e5f6a"
OUR_NUMBER = "+14155550123"
PATIENT = "+14155550199"
SID = "SM9f1b3d5f7b9d1f3b5d7f9b1d3f5b7d9f"
SENT_AT = datetime(2026, 3, 2, 16, 15, tzinfo=UTC)
NEXT_DAY = SENT_AT + timedelta(hours=25)
API = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages"


class FakeSleep:
    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock

    async def __call__(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        yield router


@pytest.fixture
async def live(ctx: Context) -> AsyncIterator[Context]:
    """The graph with real Twilio credentials (every other provider still a dry run)."""
    settings = ctx.settings.model_copy(
        update={"twilio_account_sid": ACCOUNT, "twilio_from_number": OUR_NUMBER}
    )
    clock = ctx.clock
    assert isinstance(clock, ManualClock)
    overrides = Overrides(
        clock=clock, transport=ctx.transport, rng=ctx.rng, sleep=FakeSleep(clock), spool=ctx.spool
    )
    async with bootstrap(settings, overrides) as graph:
        yield graph


async def sent_text(live: Context, db: Db, sid: str = SID, to: str = PATIENT) -> tuple[int, int]:
    """A text Twilio accepted as `sid` at SENT_AT whose callbacks never came; (lead, outbox)."""
    assert isinstance(live.clock, ManualClock)
    live.clock.set(SENT_AT)
    lead_id = await seed_lead(live, db, phone=to, name="Rosa")
    outbox_id = await enqueue_sms(live, lead_id, to, f"recall:{sid}")
    await live.repos.outbox.claim_message(outbox_id, SENT_AT)
    await live.repos.outbox.record_message_sent(outbox_id, "twilio", sid, SENT_AT)
    return lead_id, outbox_id


def resource(status: str, error_code: int | None = None, sid: str = SID) -> dict[str, Any]:
    body = twilio_message(sid, PATIENT, "Hi", "Mon, 02 Mar 2026 16:15:00 +0000", status)
    body.update({"account_sid": ACCOUNT, "from": OUR_NUMBER, "error_code": error_code,
                 "date_sent": "Mon, 02 Mar 2026 16:15:01 +0000",
                 "uri": f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}.json"})  # fmt: skip
    return body


def row(db: Db, outbox_id: int) -> dict[str, Any]:
    return db.one("select * from messages where id = %s", (outbox_id,))


async def test_a_lost_undelivered_callback_is_applied_and_the_late_one_changes_nothing(
    live: Context, db: Db, clock: ManualClock, mock: respx.MockRouter
) -> None:
    _, outbox_id = await sent_text(live, db)
    route = mock.get(f"{API}/{SID}.json").mock(
        return_value=httpx.Response(200, json=resource("undelivered", 30007))
    )
    clock.set(NEXT_DAY)

    counts = await campaign_manager.run(live)

    assert counts["sms_reconciled_applied"] == 1
    assert route.calls.last.request.headers["Authorization"].startswith("Basic ")
    text = row(db, outbox_id)
    assert (text["status"], text["error_code"]) == ("undelivered", "30007")
    stored = db.one("select payload from webhook_events where dedupe_key = %s",
                    (f"twilio:{SID}:undelivered",))  # fmt: skip
    assert stored["payload"]["source"] == "reconcile: GET Messages/{sid}"

    # Twilio's own callback turns up after all: a duplicate, nothing changes.
    params = {"MessageSid": SID, "SmsSid": SID, "MessageStatus": "undelivered",
              "SmsStatus": "undelivered", "ErrorCode": "30007", "To": PATIENT,
              "From": OUR_NUMBER, "AccountSid": ACCOUNT, "ApiVersion": "2010-04-01"}  # fmt: skip
    path = f"/webhooks/twilio/status?outbox={outbox_id}"
    signature = twilio_signature(TWILIO_TOKEN, PUBLIC + path, params.items())
    async with client(live) as http:
        response = await http.post(path, data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200
    assert row(db, outbox_id) == text


async def test_a_lost_21610_opts_the_patient_out_as_the_callback_would(
    live: Context, db: Db, clock: ManualClock, mock: respx.MockRouter
) -> None:
    lead_id, _ = await sent_text(live, db)
    mock.get(f"{API}/{SID}.json").mock(
        return_value=httpx.Response(200, json=resource("failed", 21610))
    )
    clock.set(NEXT_DAY)
    assert (await campaign_manager.run(live))["sms_reconciled_applied"] == 1
    lead = db.one("select sms_opted_out_at from leads where id = %s", (lead_id,))
    assert lead["sms_opted_out_at"] is not None


async def test_a_text_left_without_a_final_status_is_logged_and_asked_about_three_times(
    live: Context, db: Db, clock: ManualClock, mock: respx.MockRouter
) -> None:
    lead_id, outbox_id = await sent_text(live, db)
    route = mock.get(f"{API}/{SID}.json").mock(
        return_value=httpx.Response(200, json=resource("sent"))  # no carrier receipt, ever
    )
    for day in range(5):
        clock.set(NEXT_DAY + timedelta(days=day))
        await campaign_manager.run(live)

    assert route.call_count == 3
    assert row(db, outbox_id)["status"] == "sent"
    logs = db.rows("select source, code, key, lead_id, message from system_logs"
                   " where source = 'reconcile:twilio'")  # fmt: skip
    assert len(logs) == 3
    assert logs[0] | {"message": None} == {
        "source": "reconcile:twilio",
        "code": "not_final",
        "key": SID,
        "lead_id": lead_id,
        "message": None,
    }


async def test_unknown_texts_and_a_twilio_outage_never_stop_the_batch_for_good(
    live: Context, db: Db, clock: ManualClock, mock: respx.MockRouter
) -> None:
    sids = [f"SM{n:032x}" for n in range(1, 5)]
    for n, sid in enumerate(sids):
        await sent_text(live, db, sid, f"+1415555030{n}")
    mock.get(f"{API}/{sids[0]}.json").mock(
        return_value=httpx.Response(404, json=twilio_error(20404, "not found", 404))
    )
    for sid in sids[1:]:
        mock.get(f"{API}/{sid}.json").mock(
            return_value=httpx.Response(503, json=twilio_error(20503, "unavailable", 503))
        )
    clock.set(NEXT_DAY)
    counts = await campaign_manager.run(live)

    assert counts["sms_reconciled_unknown_to_provider"] == 1
    assert counts["sms_reconciled_provider_unavailable"] == 2
    assert counts["sms_reconciled_deferred"] == 1  # Twilio looks down: the rest wait


async def test_a_text_whose_callback_arrived_is_never_asked_about(
    live: Context, db: Db, clock: ManualClock, mock: respx.MockRouter
) -> None:
    _, outbox_id = await sent_text(live, db)
    await live.repos.webhooks.apply_twilio_status(
        f"twilio:{SID}:delivered", {"MessageSid": SID},
        {"outbox_id": outbox_id, "message_sid": SID, "twilio_status": "delivered",
         "status": "delivered", "error_code": None, "permanent": False, "opt_out": False},
        SENT_AT,
    )  # fmt: skip
    route = mock.get(f"{API}/{SID}.json")
    clock.set(NEXT_DAY)
    await campaign_manager.run(live)
    assert route.call_count == 0
