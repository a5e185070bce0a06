"""Lost end-of-call reports: the campaign_manager run asks Vapi (`GET /call/{id}`, mocked
with respx) about calls still open well after Vapi's maximum call duration, and applies an
ended call through the live report's path: outcome stored, rescue text for a missed call,
lead booked for a booked call; a late real report then changes nothing."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from app.core.clock import ManualClock
from app.jobs import campaign_manager
from app.jobs.bootstrap import Context, Overrides, bootstrap
from tests.providers.bodies import vapi_ended_call, vapi_error
from tests.webhooks.helpers import Db, client, post_vapi, seed_lead, vapi_message

MISSED = "06-end-of-call-report-customer-did-not-answer.json"
BOOKED = "05-end-of-call-report-completed-booked.json"
MARCUS = "+15125550148"  # the missed call's customer (Austin)
DANA = "+15125550123"  # the booked call's customer
PLACED = datetime(2026, 3, 17, 15, 10, 3, tzinfo=UTC)  # 10:10 in Austin
LATER = PLACED + timedelta(seconds=600 + 900 + 60)  # past max duration + margin
API = "https://api.vapi.ai/call"


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
    """The graph with a real Vapi key (every other provider still a dry run)."""
    settings = ctx.settings.model_copy(update={
        "vapi_api_key": SecretStr("8c1d4a9e-2f3b-4c5d-9e8f-7a6b5c4d3e2f"),
        "vapi_phone_number_id": "7e2c4a91-3b5d-4f0e-8a6c-d19b2f7e5c03",
    })  # fmt: skip
    clock = ctx.clock
    assert isinstance(clock, ManualClock)
    overrides = Overrides(clock=clock, transport=ctx.transport, rng=ctx.rng, sleep=FakeSleep(clock))
    async with bootstrap(settings, overrides) as graph:
        yield graph


def report(name: str, call_id: str | None = None) -> dict[str, Any]:
    body = copy.deepcopy(vapi_message(name))
    if call_id:
        body["message"]["call"]["id"] = call_id
    return body


def call_id_of(body: dict[str, Any]) -> str:
    return str(body["message"]["call"]["id"])


def placed_call(db: Db, lead_id: int | None, number: str, vapi_id: str, at: datetime) -> int:
    """A call the drip placed with Vapi (record_call_placed leaves it 'placing' until the
    webhooks move it), whose end-of-call report never came."""
    row = db.one(
        "insert into calls (idempotency_key, lead_id, to_number, status, provider, vapi_call_id,"
        " attempts, claimed_at, placed_at, created_at, updated_at)"
        " values (%s, %s, %s, 'placing', 'vapi', %s, 1, %s, %s, %s, %s) returning id",
        (f"call-{vapi_id}", lead_id, number, vapi_id, at, at, at, at),
    )
    return int(row["id"])


def call_row(db: Db, vapi_id: str) -> dict[str, Any]:
    return db.one("select * from calls where vapi_call_id = %s", (vapi_id,))


async def test_a_lost_no_answer_report_is_applied_and_the_rescue_text_goes(
    live: Context, db: Db, clock: ManualClock, mock: respx.MockRouter
) -> None:
    lead_id = await seed_lead(live, db, phone=MARCUS, name="Marcus")
    body = report(MISSED)
    vapi_id = call_id_of(body)
    placed_call(db, lead_id, MARCUS, vapi_id, PLACED)
    route = mock.get(f"{API}/{vapi_id}").mock(
        return_value=httpx.Response(200, json=vapi_ended_call(body))
    )
    clock.set(LATER)

    counts = await campaign_manager.run(live)

    assert counts["reconciled_applied"] == 1
    assert route.calls.last.request.headers["Authorization"].startswith("Bearer 8c1d4a9e")
    call = call_row(db, vapi_id)
    assert (call["status"], call["outcome"]) == ("ended", "no_answer")
    assert call["ended_reason"] == "customer-did-not-answer"
    texts = db.rows("select kind, to_address, status, payload from messages")
    assert [(t["kind"], t["to_address"], t["status"]) for t in texts] == [
        ("rescue", MARCUS, "dry_run")
    ]
    assert "Sorry we missed you" in texts[0]["payload"]["body"]
    stored = db.one("select payload from webhook_events where dedupe_key = %s",
                    (f"vapi:{vapi_id}:end-of-call-report",))  # fmt: skip
    assert stored["payload"]["source"] == "reconcile: GET /call/{id}"

    # Vapi's own report turns up after all: it changes nothing, and no second text goes.
    before = call_row(db, vapi_id)
    async with client(live) as http:
        assert (await post_vapi(http, body)).status_code == 200
    assert call_row(db, vapi_id) == before
    assert db.count("messages") == 1
    assert db.one("select call_attempts from leads where id = %s", (lead_id,))["call_attempts"] == 0
    # and the next run has nothing left to ask about
    assert "reconciled_applied" not in await campaign_manager.run(live)
    assert route.call_count == 1


async def test_a_lost_booked_report_books_the_lead(
    live: Context, db: Db, clock: ManualClock, mock: respx.MockRouter
) -> None:
    lead_id = await seed_lead(live, db, phone=DANA, name="Dana")
    body = report(BOOKED)
    vapi_id = call_id_of(body)
    placed_call(db, lead_id, DANA, vapi_id, PLACED)
    mock.get(f"{API}/{vapi_id}").mock(return_value=httpx.Response(200, json=vapi_ended_call(body)))
    clock.set(LATER)

    assert (await campaign_manager.run(live))["reconciled_applied"] == 1

    call = call_row(db, vapi_id)
    assert call["outcome"] == "booked"
    assert call["analysis"]["structuredData"]["appointmentBooked"] is True
    assert call["duration_seconds"] > 0  # from startedAt/endedAt: GET has no durationSeconds
    assert db.one("select status from leads where id = %s", (lead_id,))["status"] == "booked"
    assert db.count("messages") == 0  # a booked call gets no rescue text


async def test_an_opt_out_said_on_a_lost_call_is_honoured(
    live: Context, db: Db, clock: ManualClock, mock: respx.MockRouter
) -> None:
    lead_id = await seed_lead(live, db, phone=DANA, name="Dana")
    body = report(BOOKED)
    body["message"]["analysis"]["structuredData"]["appointmentBooked"] = False
    body["message"]["endedReason"] = "customer-ended-call"
    body["message"]["artifact"]["messages"][2]["message"] = (
        "Please take me off your list, I don't want these calls."
    )
    vapi_id = call_id_of(body)
    placed_call(db, lead_id, DANA, vapi_id, PLACED)
    mock.get(f"{API}/{vapi_id}").mock(return_value=httpx.Response(200, json=vapi_ended_call(body)))
    clock.set(LATER)

    assert (await campaign_manager.run(live))["reconciled_applied"] == 1

    lead = db.one("select calls_opted_out_at, sms_opted_out_at from leads where id = %s",
                  (lead_id,))  # fmt: skip
    assert lead["calls_opted_out_at"] == LATER and lead["sms_opted_out_at"] == LATER


async def test_unknown_failing_and_ringing_calls_are_left_and_the_rest_applied(
    live: Context, db: Db, clock: ManualClock, mock: respx.MockRouter
) -> None:
    lead_id = await seed_lead(live, db, phone=MARCUS, name="Marcus")
    body = report(MISSED)
    good = call_id_of(body)
    placed_call(db, None, "+15125550111", "gone-404", PLACED - timedelta(minutes=3))
    placed_call(db, None, "+15125550112", "broken-503", PLACED - timedelta(minutes=2))
    placed_call(db, None, "+15125550113", "long-call", PLACED - timedelta(minutes=1))
    placed_call(db, lead_id, MARCUS, good, PLACED)
    not_found = vapi_error(404, "Couldn't Get Call. Call Not Found.", "Not Found")
    gone = mock.get(f"{API}/gone-404").mock(return_value=httpx.Response(404, json=not_found))
    broken = mock.get(f"{API}/broken-503").mock(return_value=httpx.Response(503, text="busy"))
    still = {**vapi_ended_call(body), "id": "long-call", "status": "in-progress"}
    still.pop("endedReason")
    mock.get(f"{API}/long-call").mock(return_value=httpx.Response(200, json=still))
    mock.get(f"{API}/{good}").mock(return_value=httpx.Response(200, json=vapi_ended_call(body)))
    clock.set(LATER)

    counts = await campaign_manager.run(live)

    assert {k: v for k, v in counts.items() if k.startswith("reconciled_")} == {
        "reconciled_unknown_to_provider": 1, "reconciled_provider_unavailable": 1,
        "reconciled_not_ended": 1, "reconciled_applied": 1,
    }  # fmt: skip
    assert gone.call_count == 1  # a 404 is an answer: not retried
    assert broken.call_count == 4  # the retry policy's attempts, then left for the next run
    assert call_row(db, good)["outcome"] == "no_answer"
    left = db.rows("select vapi_call_id, status, outcome, payload from calls"
                   " where vapi_call_id <> %s order by id", (good,))  # fmt: skip
    assert [(c["status"], c["outcome"]) for c in left] == [("placing", None)] * 3
    reasons = [c["payload"]["reconcile_reason"] for c in left]
    assert reasons[0].startswith("unknown_to_provider")
    assert reasons[1].startswith("provider_unavailable") and "503" in reasons[1]
    assert reasons[2] == "not_ended: still in-progress at Vapi"


async def test_two_outages_in_a_row_defer_the_rest_to_the_next_run(
    live: Context, db: Db, clock: ManualClock, mock: respx.MockRouter
) -> None:
    for n in range(3):
        placed_call(db, None, f"+1512555012{n}", f"call-{n}", PLACED + timedelta(seconds=n))
    routes = [mock.get(f"{API}/call-{n}").mock(return_value=httpx.Response(502)) for n in range(2)]
    last = mock.get(f"{API}/call-2").mock(return_value=httpx.Response(200, json=vapi_ended_call(
        report(MISSED, "call-2"))))  # fmt: skip
    clock.set(LATER)

    counts = await campaign_manager.run(live)

    assert counts["reconciled_provider_unavailable"] == 2 and counts["reconciled_deferred"] == 1
    assert [r.call_count for r in routes] == [4, 4] and last.call_count == 0
    # the failed ones go to the back of the queue: the next run asks about call-2 first
    for n, route in enumerate(routes):
        ended = vapi_ended_call(report(MISSED, f"call-{n}"))
        route.mock(return_value=httpx.Response(200, json=ended))
    clock.advance(timedelta(minutes=15))
    assert (await campaign_manager.run(live))["reconciled_applied"] == 3
    asked = [str(c.request.url).rsplit("/", 1)[-1] for c in mock.calls][8:]
    assert asked == ["call-2", "call-0", "call-1"]


async def test_a_call_within_its_duration_is_not_fetched(
    live: Context, db: Db, clock: ManualClock, mock: respx.MockRouter
) -> None:
    body = report(MISSED)
    placed_call(db, None, MARCUS, call_id_of(body), PLACED)
    route = mock.get(f"{API}/{call_id_of(body)}").mock(return_value=httpx.Response(200, json={}))
    clock.set(PLACED + timedelta(seconds=600 + 900 - 1))  # a long call may still be going
    assert not [k for k in await campaign_manager.run(live) if k.startswith("reconciled_")]
    clock.set(PLACED + timedelta(days=7, seconds=1))  # past the horizon: not asked again
    assert not [k for k in await campaign_manager.run(live) if k.startswith("reconciled_")]
    assert route.call_count == 0


async def test_the_dry_run_twin_knows_no_call(
    ctx: Context, db: Db, clock: ManualClock, mock: respx.MockRouter
) -> None:
    placed_call(db, None, MARCUS, "placed-before-the-keys-went", PLACED)
    clock.set(LATER)
    counts = await campaign_manager.run(ctx)  # dry-run Vapi: no request (respx would refuse)
    assert counts["reconciled_unknown_to_provider"] == 1
    assert call_row(db, "placed-before-the-keys-went")["outcome"] is None
