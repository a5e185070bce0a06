"""Consent records, the way an owner's leads arrive: a CRM export with consent columns (some
filled, some blank, some with the date of the form), a campaign that texts then calls. An AI
call goes only to a lead with `ai_voice` consent on record, a campaign text only with `sms`
consent; the others are skipped, counted per reason for `nightshift status`; the last-moment
check refuses a row whose consent is gone, a lead held for a human, a number on a
do-not-call list that covers texts — and still lets an appointment text through."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rich.console import Console

from app.campaigns import drip, manager
from app.campaigns.consent_columns import consent_cells, parse_when
from app.campaigns.leads_import import import_csv
from app.cli.status import consent_tables
from app.core.clock import ManualClock
from app.db.outbox import MessageIn
from app.jobs.bootstrap import Context
from app.jobs.campaign_manager import manager_deps
from app.jobs.drip import drip_deps
from tests.campaigns.helpers import load, query

TEXT_THEN_CALL = """
slug: new-lead
name: New lead
timezone: America/New_York
window: {days: [mon, tue, wed, thu, fri, sat, sun], start: "08:00", end: "21:00"}
caps: {new_per_day: 100}
call_timing: asap
steps:
  - channel: sms
    delay: 0m
    body: "Hi {{ lead.first_name }}, {{ business.name }} here. Reply STOP to opt out."
  - channel: call
    delay: 0m
"""
# As a CRM export arrives: consent as yes/no, an x, a date, blank; the form's wording.
EXPORT = (
    "Name,Phone,Email,consent_sms,consent_ai_voice,consent_source,consent_text,consent_at\n"
    "Ana Ruiz,(212) 555-0181,ana@example.com,Yes,yes,web form,"
    '"I agree to texts and AI calls",2026-10-02\n'
    "Bo Chen,212-555-0182,bo@example.com,,,,,\n"
    "Cy Park,212 555 0183,cy@example.com,2026-03-14,no,booking,,\n"
    "Di Moss,212.555.0184,di@example.com,0,X,,,\n"
    "Ed Fox,212-555-0185,ed@example.com,maybe,yes,,,\n"
)


async def _import_and_run(ctx: Context) -> dict[str, dict[str, Any]]:
    """The export imported, the campaign run through its text and its call; per lead: the
    texts sent and the calls placed."""
    report = await import_csv(EXPORT, ctx.repos.leads, ctx.clock.now(), ctx.repos.outbox)
    assert (report.imported, report.rejected) == (4, 1)
    assert "line 6, consent_sms" in str(report.errors[0])  # "maybe" is not a consent
    await load(ctx, TEXT_THEN_CALL)
    await ctx.repos.campaigns.enroll(ctx.clock.now())
    for _ in range(3):  # the text step, then the call step (queued), then nothing
        await drip.run(drip_deps(ctx))
    await manager.run(manager_deps(ctx), ctx.rng)
    out: dict[str, dict[str, Any]] = {}
    for r in await query(
        ctx,
        "select l.name, (select count(*) from messages m where m.lead_id = l.id"
        "   and m.channel = 'sms' and m.status in ('sent', 'dry_run')) texts,"
        " (select count(*) from calls k where k.lead_id = l.id and k.placed_at is not null) calls"
        " from leads l",
    ):
        out[r["name"]] = r
    return out


async def test_texts_and_ai_calls_go_only_to_leads_with_consent_on_record(ctx: Context) -> None:
    sent = await _import_and_run(ctx)
    assert {n: (r["texts"], r["calls"]) for n, r in sent.items()} == {
        "Ana Ruiz": (1, 1),  # both on record
        "Bo Chen": (0, 0),  # blank: nothing on record
        "Cy Park": (1, 0),  # texts (dated), "no" to AI calls
        "Di Moss": (0, 1),  # "0" to texts, "X" to AI calls
    }
    records = await query(
        ctx, "select l.name, c.channel, c.source, c.granted_at, c.consent_text from consents c"
        " join leads l on l.id = c.lead_id order by l.name, c.channel",
    )  # fmt: skip
    ana = [r for r in records if r["name"] == "Ana Ruiz"]
    assert [(r["channel"], r["source"]) for r in ana] == [("ai_voice", "web_form"),
                                                          ("sms", "web_form")]  # fmt: skip
    assert ana[0]["granted_at"] == datetime(2026, 10, 2, tzinfo=UTC)
    assert ana[0]["consent_text"] == "I agree to texts and AI calls"
    [cy] = [r for r in records if r["name"] == "Cy Park"]
    assert (cy["channel"], cy["source"], cy["granted_at"]) == (
        "sms", "booking_form", datetime(2026, 3, 14, tzinfo=UTC))  # fmt: skip


async def test_skipped_leads_are_counted_per_reason_for_status(ctx: Context) -> None:
    await _import_and_run(ctx)
    summary = await ctx.repos.consent.summary(ctx.clock.now() - timedelta(days=30))
    skipped = {(s["reason"], s["channel"]): s["leads"] for s in summary["skipped"]}
    assert skipped == {("no_sms_consent", "sms"): 2, ("no_ai_voice_consent", "call"): 2}
    console = Console(width=160, record=True)
    for table in consent_tables(summary):
        console.print(table)
    shown = console.export_text()
    assert "Skipped for want of consent" in shown and "no_ai_voice_consent" in shown


async def _claimed_text(ctx: Context, lead_id: int, key: str, kind: str = "marketing") -> int:
    message = MessageIn(
        idempotency_key=key, channel="sms", to_address="+12125550181", provider="twilio",
        lead_id=lead_id, kind=kind, payload={"body": "Hi"},
    )  # fmt: skip
    row = await ctx.repos.outbox.enqueue_message(message, ctx.clock.now())
    [claim] = await ctx.repos.outbox.claim_messages([row.id], ctx.clock.now(), 600)
    assert claim.outcome == "claimed"
    return row.id


async def _ana(ctx: Context, consent: str = "consent_sms") -> int:
    csv_text = f"Name,Phone,{consent}\nAna Ruiz,(212) 555-0181,yes\n"
    await import_csv(csv_text, ctx.repos.leads, ctx.clock.now(), ctx.repos.outbox)
    [row] = await query(ctx, "select id from leads")
    return int(row["id"])


async def test_last_moment_refuses_a_text_whose_consent_is_not_on_record(ctx: Context) -> None:
    lead_id = await _ana(ctx, consent="consent_ai_voice")  # AI calls only, no texts
    marketing = await _claimed_text(ctx, lead_id, "drip:1:0")
    reminder = await _claimed_text(ctx, lead_id, "appt:1:reminder", kind="transactional")
    verdicts = await ctx.repos.outbox.mark_sending([marketing, reminder], ctx.clock.now())
    assert verdicts == {marketing: "refused", reminder: "go"}
    [row] = await query(ctx, "select status, error_code from messages where id = %s", marketing)
    assert (row["status"], row["error_code"]) == ("cancelled", "no_sms_consent")


async def test_last_moment_refuses_a_held_lead_but_not_its_appointment_text(
    ctx: Context,
) -> None:
    lead_id = await _ana(ctx)
    marketing = await _claimed_text(ctx, lead_id, "drip:1:0")
    reminder = await _claimed_text(ctx, lead_id, "appt:1:reminder", kind="transactional")
    # "how did you get my number?" lands while both wait in the rate limiter
    body = {"Body": "how did you get my number?", "From": "+12125550181"}
    await ctx.repos.webhooks.apply_twilio_inbound(
        "twilio:SMheld", "ambiguous", body, "+12125550181", [], ctx.clock.now(),
        reason="doubt: how did you get my number")  # fmt: skip
    verdicts = await ctx.repos.outbox.mark_sending([marketing, reminder], ctx.clock.now())
    assert verdicts == {marketing: "refused", reminder: "go"}


@pytest.mark.parametrize(("scope", "verdict"), [("calls_texts", "refused"), ("calls", "go")])
async def test_a_do_not_call_list_covers_texts_when_it_says_so(
    ctx: Context, scope: str, verdict: str
) -> None:
    lead_id = await _ana(ctx)
    await ctx.repos.outbox.import_dnc(["+12125550181"], "internal list", None,
                                      ctx.clock.now(), scope)  # type: ignore[arg-type]  # fmt: skip
    text = await _claimed_text(ctx, lead_id, "drip:1:0")
    assert await ctx.repos.outbox.mark_sending([text], ctx.clock.now()) == {text: verdict}
    [listed] = await query(ctx, "select scope from dnc_numbers")
    assert listed["scope"] == scope


async def test_a_stop_revokes_the_consent_on_record(ctx: Context, clock: ManualClock) -> None:
    lead_id = await _ana(ctx)
    await ctx.repos.outbox.do_not_contact([("+12125550181", ["sms", "call"])], "operator",
                                          clock.now())  # fmt: skip
    [record] = await ctx.repos.consent.for_lead(lead_id)
    assert record.channel == "sms" and record.revoked_at == clock.now()
    assert record.revoked_by == "do_not_contact:operator"
    # a later import saying "yes" again does not undo the revocation
    await _ana(ctx)
    [record] = await ctx.repos.consent.for_lead(lead_id)
    assert record.revoked_at == clock.now()


def test_consent_cells_as_operators_write_them() -> None:
    consents, problems = consent_cells({"consent_sms": "Y", "consent_email": "",
                                        "consent_ai_voice": "3/14/2026",
                                        "consent_url": "https://acme.example/form"})  # fmt: skip
    assert problems == []
    march_14 = datetime(2026, 3, 14, tzinfo=UTC)
    assert [(c.channel, c.source, c.granted_at) for c in consents] == [
        ("sms", "import", None), ("ai_voice", "import", march_14)]  # fmt: skip
    assert consent_cells({"name": "Ana"}) == ([], [])
    _, problems = consent_cells({"consent_calls": "sure", "consent_source": "a friend"})
    assert [column for column, _ in problems] == ["consent_source", "consent_calls"]
    assert parse_when("2026-03-14T09:30:00-05:00") == datetime(2026, 3, 14, 14, 30, tzinfo=UTC)


async def test_a_call_refused_for_want_of_consent_is_not_counted_as_failed(
    ctx: Context,
) -> None:
    """The campaign manager's run says why a call did not go: a call queued before consent
    was on record (by an older version, or by hand) and refused at its claim is counted
    `calls_refused`, apart from the provider failures of `calls_failed`."""
    await import_csv(EXPORT, ctx.repos.leads, ctx.clock.now(), ctx.repos.outbox)
    for name, key in (("Bo Chen", "old-queue-1"), ("Ana Ruiz", "old-queue-2")):
        [lead] = await query(ctx, f"select id, phone from leads where name = '{name}'")
        await ctx.transport.call("enqueue_call", {"p_call": {
            "idempotency_key": key, "lead_id": lead["id"], "to_number": lead["phone"]},
            "p_now": ctx.clock.now()})  # fmt: skip
    counts = await manager.run(manager_deps(ctx), ctx.rng)
    assert (counts["calls_placed"], counts["calls_refused"], counts["calls_failed"]) == (1, 1, 0)
