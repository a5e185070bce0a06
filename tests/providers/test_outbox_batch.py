"""The batch outbox functions the drip loop uses: one claim call and one record call for a
whole batch, with exactly the single-row rules, in the order given."""

from __future__ import annotations

from datetime import timedelta

from app.core.clock import ManualClock
from app.db.outbox import MessageIn
from app.db.repositories import Repositories
from app.db.transport import PostgresTransport
from tests.consented import consented_lead
from tests.providers.db import make_lead, sql


def _sms(key: str, lead_id: int, to: str = "+15558675310") -> MessageIn:
    return MessageIn(
        idempotency_key=key, channel="sms", to_address=to, provider="twilio",
        lead_id=lead_id, payload={"body": "hi"},
    )  # fmt: skip


async def test_batch_claim_matches_the_single_rules_in_order(
    transport: PostgresTransport, clock: ManualClock, database_dsn: str
) -> None:
    repos = Repositories(transport)
    lead = await make_lead(repos, clock, database_dsn)
    await repos.leads.upsert([consented_lead(name="Otto", phone="+15558675311")], clock.now())
    other = sql(database_dsn, "select id from leads where phone = '+15558675311'")[0]["id"]
    ids = [
        (await repos.outbox.enqueue_message(_sms(k, lead), clock.now())).id
        for k in ("fresh", "busy", "stale", "done")
    ]
    opted = (
        await repos.outbox.enqueue_message(_sms("opted", other, "+15558675311"), clock.now())
    ).id
    await repos.outbox.claim_messages([ids[2]], clock.now())  # 'stale': claimed long ago
    clock.advance(timedelta(minutes=20))
    await repos.outbox.claim_messages([ids[1]], clock.now())  # 'busy': claimed just now
    await repos.outbox.claim_messages([ids[3]], clock.now())
    await repos.outbox.record_messages_sent(
        [{"id": ids[3], "provider": "twilio", "provider_id": "SM1", "request": None}], clock.now()
    )
    sql(database_dsn, "update leads set sms_opted_out_at = now() where id = %s", other)

    claims = await repos.outbox.claim_messages([opted, *reversed(ids), 999_999], clock.now())
    assert [(c.message.id, c.outcome) for c in claims] == [
        (opted, "suppressed"), (ids[3], "done"), (ids[2], "reclaimed"), (ids[1], "busy"),
        (ids[0], "claimed"),
    ]  # fmt: skip
    reclaimed = claims[2].message
    assert reclaimed.status == "sending" and reclaimed.attempts == 2
    assert reclaimed.ambiguous_since == clock.now() - timedelta(minutes=20)
    assert (
        sql(database_dsn, "select status from messages where id = %s", opted)[0]["status"]
        == "cancelled"
    )


async def test_batch_record_keeps_a_status_a_webhook_already_moved(
    transport: PostgresTransport, clock: ManualClock, database_dsn: str
) -> None:
    repos = Repositories(transport)
    lead = await make_lead(repos, clock, database_dsn)
    a, b = [(await repos.outbox.enqueue_message(_sms(k, lead), clock.now())).id for k in "ab"]
    await repos.outbox.claim_messages([a, b], clock.now())
    sql(database_dsn, "update messages set status = 'delivered' where id = %s", b)  # callback first
    recorded = await repos.outbox.record_messages_sent(
        [
            {
                "id": a,
                "provider": "dryrun",
                "provider_id": "dry-1",
                "request": {"form": {"Body": "hi"}},
            },
            {"id": b, "provider": "twilio", "provider_id": "SM2", "request": None},
        ],
        clock.now(),
    )
    assert recorded == 2
    rows = {
        r["id"]: r
        for r in sql(database_dsn, "select id, status, provider_id, payload from messages")
    }
    assert (rows[a]["status"], rows[a]["payload"]["request"]) == (
        "dry_run",
        {"form": {"Body": "hi"}},
    )
    assert (rows[b]["status"], rows[b]["provider_id"]) == ("delivered", "SM2")
    assert "request" not in rows[b]["payload"]
