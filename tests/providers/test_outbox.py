"""The outbox functions on a real Postgres: enqueue, claim (opt-outs re-checked), record."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.core.clock import ManualClock
from app.db.errors import NotFound
from app.db.outbox import CallIn, MessageIn, OutboxRepository
from app.db.repositories import Repositories
from app.db.transport import PostgresTransport
from tests.providers.db import PHONE, make_lead, sql


def sms_in(lead_id: int | None, key: str = "msg-1") -> MessageIn:
    return MessageIn(
        idempotency_key=key, channel="sms", to_address=PHONE, provider="twilio",
        lead_id=lead_id, payload={"body": "Hi Dana"},
    )  # fmt: skip


@pytest.fixture
def repos(transport: PostgresTransport) -> Repositories:
    return Repositories(transport)


@pytest.fixture
def outbox(repos: Repositories) -> OutboxRepository:
    return repos.outbox


async def test_enqueue_is_idempotent_on_the_key(
    outbox: OutboxRepository, clock: ManualClock
) -> None:
    first = await outbox.enqueue_message(sms_in(None), clock.now())
    again = await outbox.enqueue_message(
        sms_in(None).model_copy(update={"payload": {"body": "changed"}}), clock.now()
    )
    assert again.id == first.id and again.payload == {"body": "Hi Dana"}
    assert first.status == "queued" and first.attempts == 0


async def test_claim_then_busy_then_reclaimed_as_ambiguous(
    outbox: OutboxRepository, clock: ManualClock
) -> None:
    row = await outbox.enqueue_message(sms_in(None), clock.now())
    claim = await outbox.claim_message(row.id, clock.now())
    assert claim.outcome == "claimed"
    assert (claim.message.status, claim.message.attempts) == ("sending", 1)
    assert claim.message.claimed_at == clock.now() and claim.message.ambiguous_since is None
    first_claim = clock.now()
    clock.advance(timedelta(seconds=30))
    assert (await outbox.claim_message(row.id, clock.now(), 600)).outcome == "busy"
    clock.advance(timedelta(minutes=15))  # the first worker died mid-send
    reclaim = await outbox.claim_message(row.id, clock.now(), 600)
    assert reclaim.outcome == "reclaimed"
    assert reclaim.message.ambiguous_since == first_claim and reclaim.message.attempts == 2


async def test_claim_cancels_a_message_an_opt_out_covers(
    outbox: OutboxRepository, repos: Repositories, clock: ManualClock, database_dsn: str
) -> None:
    lead = await make_lead(repos, clock, database_dsn)
    sql(database_dsn, "update leads set sms_opted_out_at = now() where id = %s", lead)
    row = await outbox.enqueue_message(sms_in(lead), clock.now())
    claim = await outbox.claim_message(row.id, clock.now())
    assert claim.outcome == "suppressed"
    assert (claim.message.status, claim.message.error_code) == ("cancelled", "suppressed")
    assert (await outbox.claim_message(row.id, clock.now())).outcome == "done"


async def test_a_suppression_row_for_all_channels_also_blocks(
    outbox: OutboxRepository, clock: ManualClock, database_dsn: str
) -> None:
    sql(
        database_dsn,
        "insert into suppressions (channel, address, reason) values ('all', %s, 'manual')",
        PHONE,
    )
    row = await outbox.enqueue_message(sms_in(None), clock.now())
    assert (await outbox.claim_message(row.id, clock.now())).outcome == "suppressed"


async def test_record_sent_never_regresses_a_status_a_webhook_already_set(
    outbox: OutboxRepository, clock: ManualClock, database_dsn: str
) -> None:
    row = await outbox.enqueue_message(sms_in(None), clock.now())
    await outbox.claim_message(row.id, clock.now())
    sql(database_dsn, "update messages set status = 'delivered' where id = %s", row.id)
    sent = await outbox.record_message_sent(row.id, "twilio", "SM1", clock.now())
    assert (sent.status, sent.provider_id) == ("delivered", "SM1")


async def test_record_failed_with_opt_out_opts_the_lead_out_atomically(
    outbox: OutboxRepository, repos: Repositories, clock: ManualClock, database_dsn: str
) -> None:
    lead = await make_lead(repos, clock, database_dsn)
    row = await outbox.enqueue_message(sms_in(lead), clock.now())
    await outbox.claim_message(row.id, clock.now())
    failed = await outbox.record_message_failed(
        row.id, "21610", "unsubscribed recipient", clock.now(), opt_out="sms"
    )
    assert (failed.status, failed.error_code) == ("failed", "21610")
    leads = sql(
        database_dsn, "select sms_opted_out_at, email_opted_out_at from leads where id = %s", lead
    )
    assert leads[0]["sms_opted_out_at"] == clock.now() and leads[0]["email_opted_out_at"] is None
    rows = sql(database_dsn, "select channel, address, reason, source from suppressions")
    assert rows == [{"channel": "sms", "address": PHONE, "reason": "stop", "source": "21610"}]


async def test_record_failed_retry_requeues_and_stamps_ambiguity(
    outbox: OutboxRepository, clock: ManualClock
) -> None:
    row = await outbox.enqueue_message(sms_in(None), clock.now())
    claimed_at = clock.now()
    await outbox.claim_message(row.id, clock.now())
    clock.advance(timedelta(seconds=40))
    back = await outbox.record_message_failed(
        row.id, "ReadTimeout", "no answer", clock.now(), retry=True, ambiguous=True
    )
    assert (back.status, back.ambiguous_since) == ("queued", claimed_at)
    again = await outbox.claim_message(row.id, clock.now())
    assert again.outcome == "claimed" and again.message.ambiguous_since == claimed_at
    sent = await outbox.record_message_sent(row.id, "twilio", "SM2", clock.now())
    assert sent.ambiguous_since is None and sent.status == "sent"


async def test_unknown_message_is_not_found(outbox: OutboxRepository, clock: ManualClock) -> None:
    with pytest.raises(NotFound):
        await outbox.claim_message(999, clock.now())
    assert await outbox.get_message(999) is None


async def test_call_claim_respects_the_concurrency_limit_and_do_not_call(
    outbox: OutboxRepository, repos: Repositories, clock: ManualClock, database_dsn: str
) -> None:
    calls = [
        await outbox.enqueue_call(
            CallIn(idempotency_key=f"c{i}", to_number=f"+1555000000{i}"), clock.now()
        )
        for i in range(3)
    ]
    assert (await outbox.claim_call(calls[0].id, clock.now(), max_in_flight=2)).outcome == "claimed"
    assert (await outbox.claim_call(calls[1].id, clock.now(), max_in_flight=2)).outcome == "claimed"
    full = await outbox.claim_call(calls[2].id, clock.now(), max_in_flight=2)
    assert full.outcome == "concurrency" and full.call.status == "queued"

    lead = await make_lead(repos, clock, database_dsn)
    sql(database_dsn, "update leads set calls_opted_out_at = now() where id = %s", lead)
    dnc = await outbox.enqueue_call(
        CallIn(idempotency_key="dnc", to_number=PHONE, lead_id=lead), clock.now()
    )
    assert (await outbox.claim_call(dnc.id, clock.now())).outcome == "suppressed"


async def test_record_call_placed_stamps_the_lead(
    outbox: OutboxRepository, repos: Repositories, clock: ManualClock, database_dsn: str
) -> None:
    lead = await make_lead(repos, clock, database_dsn)
    row = await outbox.enqueue_call(
        CallIn(idempotency_key="c", to_number=PHONE, lead_id=lead), clock.now()
    )
    await outbox.claim_call(row.id, clock.now())
    placed = await outbox.record_call_placed(row.id, "vapi", "vapi-1", clock.now())
    assert (placed.vapi_call_id, placed.status, placed.placed_at) == (
        "vapi-1",
        "placing",
        clock.now(),
    )
    lead_row = sql(
        database_dsn, "select last_called_at, call_attempts from leads where id = %s", lead
    )
    assert lead_row == [{"last_called_at": clock.now(), "call_attempts": 1}]


async def test_a_placed_call_is_never_claimed_again(
    outbox: OutboxRepository, clock: ManualClock
) -> None:
    row = await outbox.enqueue_call(CallIn(idempotency_key="c", to_number=PHONE), clock.now())
    await outbox.claim_call(row.id, clock.now())
    await outbox.record_call_placed(row.id, "vapi", "vapi-1", clock.now())
    clock.advance(timedelta(hours=1))  # no webhook came: still 'placing', but Vapi has it
    assert (await outbox.claim_call(row.id, clock.now())).outcome == "done"


async def test_stale_in_flight_calls_stop_counting_after_two_hours(
    outbox: OutboxRepository, clock: ManualClock
) -> None:
    stuck = await outbox.enqueue_call(CallIn(idempotency_key="s", to_number=PHONE), clock.now())
    await outbox.claim_call(stuck.id, clock.now(), max_in_flight=1)
    waiting = await outbox.enqueue_call(
        CallIn(idempotency_key="w", to_number="+15550001111"), clock.now()
    )
    assert (
        await outbox.claim_call(waiting.id, clock.now(), max_in_flight=1)
    ).outcome == "concurrency"
    clock.advance(timedelta(hours=2, minutes=1))
    assert (await outbox.claim_call(waiting.id, clock.now(), max_in_flight=1)).outcome == "claimed"
