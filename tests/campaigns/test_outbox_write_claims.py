"""The drip batch's outbox write claims its first chunk as it writes it (enqueue_outbox's
`p_claim`, supabase/migrations/20261207112100_outbox_write_claims.sql): the same rules and
outcomes as a claim_messages call right after the write, one row version instead of two."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from tests.campaigns.helpers import add_leads, query


def _text(key: str, phone: str, lead_id: int | None = None) -> dict[str, Any]:
    return {"idempotency_key": key, "channel": "sms", "provider": "twilio", "to_address": phone,
            "lead_id": lead_id, "payload": {"body": "Hi Lead, time for your tune-up? Reply STOP"
            " to opt out.", "send_before": "2026-11-27T02:00:00+00:00"}}  # fmt: skip


def _email(key: str, lead_id: int) -> dict[str, Any]:
    return {"idempotency_key": key, "channel": "email", "provider": "resend",
            "to_address": f"lead{lead_id}@example.com", "lead_id": lead_id,
            "payload": {"subject": "Your tune-up", "html": "<p>Book</p>"}}  # fmt: skip


async def _leads(ctx: Context, n: int) -> list[tuple[int, str]]:
    await add_leads(ctx, n)
    return [
        (r["id"], r["phone"]) for r in await query(ctx, "select id, phone from leads order by id")
    ]


async def test_rows_claimed_by_the_write_are_sending_the_rest_queued(
    ctx: Context, clock: ManualClock
) -> None:
    """The first n items of each channel, in item order, come back claimed and are written
    'sending' (attempts 1, claimed_at, a 'sending' entry in their history), exactly as a
    claim_messages call on fresh rows leaves them; the others are written queued."""
    leads = await _leads(ctx, 3)
    items = [_text(f"t{i}", phone, lead) for i, (lead, phone) in enumerate(leads)]
    items.insert(1, _email("e0", leads[0][0]))
    written = await ctx.repos.campaigns.enqueue(items, clock.now(), {"sms": 2, "email": 1})
    claimed = {key: row.claim for key, row in written.items()}
    assert {k for k, c in claimed.items() if c is not None} == {"t0", "t1", "e0"}
    for key in ("t0", "t1", "e0"):
        claim = claimed[key]
        assert claim is not None and claim.outcome == "claimed"
        assert claim.message.status == "sending" and claim.message.attempts == 1
        assert claim.message.claimed_at == clock.now() and claim.message.id == written[key].id
        assert [h["status"] for h in claim.message.status_history] == ["sending"]
        assert (
            claim.message.payload
            == next(i for i in items if i["idempotency_key"] == key)["payload"]
        )
    stored = {r["idempotency_key"]: r for r in await query(
        ctx, "select idempotency_key, status, attempts, claimed_at from messages")}  # fmt: skip
    assert stored["t2"]["status"] == "queued" and stored["t2"]["attempts"] == 0
    assert stored["t2"]["claimed_at"] is None and written["t2"].status == "queued"
    assert stored["t0"]["status"] == "sending" and stored["t0"]["claimed_at"] == clock.now()
    # the unclaimed row is claimed later by claim_messages, as its turn comes
    [later] = await ctx.repos.outbox.claim_messages([written["t2"].id], clock.now())
    assert later.outcome == "claimed"


async def test_an_opted_out_lead_s_row_is_written_cancelled(
    ctx: Context, clock: ManualClock
) -> None:
    """A STOP recorded between the drip claim and the write: the claim at the write re-checks
    every opt-out, and the row is written cancelled, never 'sending'."""
    (lead, phone), (other, other_phone) = await _leads(ctx, 2)
    await ctx.repos.outbox.do_not_contact([(phone, ["sms"])], "STOP reply", clock.now())
    written = await ctx.repos.campaigns.enqueue(
        [_text("stop", phone, lead), _text("ok", other_phone, other)], clock.now(), {"sms": 2}
    )
    stop = written["stop"].claim
    assert stop is not None and stop.outcome == "suppressed"
    assert stop.message.status == "cancelled" and stop.message.error_code == "suppressed"
    assert stop.message.claimed_at is None and stop.message.attempts == 0
    ok = written["ok"].claim
    assert ok is not None and ok.outcome == "claimed"
    [row] = await query(ctx, "select status, status_history from messages where id = %s",
                        written["stop"].id)  # fmt: skip
    assert row["status"] == "cancelled"
    assert row["status_history"][-1]["reason"] == "suppressed"


async def test_a_rerun_after_a_crash_claims_existing_rows_by_the_same_rules(
    ctx: Context, clock: ManualClock
) -> None:
    """The same keys written again by a run that follows a crash: the rows are found, not
    written twice, and claim_messages decides: a young claim is busy, an old one reclaimed
    (ambiguous: the provider may have it), a sent one done."""
    [(lead, phone)] = await _leads(ctx, 1)
    item = _text("k1", phone, lead)
    first = (await ctx.repos.campaigns.enqueue([item], clock.now(), {"sms": 1}))["k1"]
    assert first.claim is not None and first.claim.outcome == "claimed"
    again = (await ctx.repos.campaigns.enqueue([item], clock.now(), {"sms": 1}))["k1"]
    assert again.id == first.id and again.claim is not None and again.claim.outcome == "busy"
    clock.advance(timedelta(minutes=11))  # older than the reclaim age (600 s)
    late = (await ctx.repos.campaigns.enqueue([item], clock.now(), {"sms": 1}))["k1"]
    assert late.claim is not None and late.claim.outcome == "reclaimed"
    assert late.claim.message.ambiguous_since is not None and late.claim.message.attempts == 2
    await ctx.repos.outbox.record_messages_sent(
        [{"id": first.id, "provider": "twilio", "provider_id": "SM1", "request": None}],
        clock.now(),
    )
    done = (await ctx.repos.campaigns.enqueue([item], clock.now(), {"sms": 1}))["k1"]
    assert done.claim is not None and done.claim.outcome == "done" and done.status == "sent"
    assert len(await query(ctx, "select 1 from messages")) == 1
