"""The last-moment check on a real Postgres: `mark_sending` (messages) and `claim_call`'s
`send_before` (calls) refuse a claimed row an opt-out or a closed window now covers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.core.clock import ManualClock
from app.db.outbox import CallIn, MessageIn, OutboxRepository
from app.db.repositories import Repositories
from app.db.transport import PostgresTransport
from tests.providers.db import PHONE, make_lead, sql


@pytest.fixture
def repos(transport: PostgresTransport) -> Repositories:
    return Repositories(transport)


def sms(lead_id: int | None, key: str, **payload: str) -> MessageIn:
    return MessageIn(
        idempotency_key=key, channel="sms", to_address=PHONE, provider="twilio",
        lead_id=lead_id, payload={"body": "Hi Dana, Acme here. Reply STOP to opt out.", **payload},
    )  # fmt: skip


async def test_one_round_trip_gives_each_claimed_row_its_verdict(
    repos: Repositories, clock: ManualClock, database_dsn: str
) -> None:
    outbox: OutboxRepository = repos.outbox
    lead = await make_lead(repos, clock, database_dsn)
    closes = clock.now() + timedelta(minutes=10)
    ok = await outbox.enqueue_message(sms(None, "ok", send_before=closes.isoformat()), clock.now())
    late = await outbox.enqueue_message(sms(None, "late", send_before=clock.now().isoformat()),
                                        clock.now())  # fmt: skip
    stop = await outbox.enqueue_message(sms(lead, "stop"), clock.now())
    claimed = await outbox.claim_messages([ok.id, late.id, stop.id], clock.now())
    assert [c.outcome for c in claimed] == ["claimed"] * 3
    clock.advance(timedelta(seconds=1))  # the rows wait in the limiter; the lead texts STOP
    sql(database_dsn, "update leads set sms_opted_out_at = %s where id = %s", clock.now(), lead)

    verdicts = await outbox.mark_sending([ok.id, late.id, stop.id, 999_999], clock.now())

    assert verdicts == {ok.id: "go", late.id: "window", stop.id: "suppressed"}
    rows = {r.id: r for r in [await outbox.get_message(i) for i in (ok.id, late.id, stop.id)] if r}
    assert rows[ok.id].status == "sending" and rows[ok.id].claimed_at < clock.now()
    assert (rows[late.id].status, rows[late.id].error_code) == ("queued", "outside_window")
    assert (rows[stop.id].status, rows[stop.id].error_code) == ("cancelled", "suppressed")
    # a row no longer 'sending' is not ours to send
    assert await outbox.mark_sending([stop.id, late.id], clock.now()) == {
        stop.id: "done",
        late.id: "done",
    }


async def test_a_step_written_again_brings_its_new_window(
    repos: Repositories, clock: ManualClock
) -> None:
    outbox = repos.outbox
    first = await outbox.enqueue_message(
        sms(None, "step-1", send_before=clock.now().isoformat()), clock.now()
    )
    await outbox.claim_messages([first.id], clock.now())
    assert await outbox.mark_sending([first.id], clock.now()) == {first.id: "window"}
    tomorrow = clock.now() + timedelta(days=1)  # drip's gate, the next morning
    again = await outbox.enqueue_message(
        sms(None, "step-1", send_before=(tomorrow + timedelta(hours=9)).isoformat()), tomorrow
    )
    assert again.id == first.id and again.status == "queued"
    await outbox.claim_messages([first.id], tomorrow)
    assert await outbox.mark_sending([first.id], tomorrow) == {first.id: "go"}


async def test_a_call_whose_window_closed_stays_queued(
    repos: Repositories, clock: ManualClock
) -> None:
    outbox = repos.outbox
    call = await outbox.enqueue_call(CallIn(idempotency_key="c1", to_number=PHONE), clock.now())
    closed = await outbox.claim_call(call.id, clock.now(), send_before=clock.now())
    assert (closed.outcome, closed.call.status) == ("window", "queued")
    open_ = await outbox.claim_call(
        call.id, clock.now(), send_before=clock.now() + timedelta(minutes=5)
    )
    assert (open_.outcome, open_.call.status) == ("claimed", "placing")
