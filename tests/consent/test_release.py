"""A doubtful text holds the lead for a human; the human reads it in `nightshift status` and
the digest, decides it was no opt-out and types `nightshift leads release` with the number as
they read it: the campaign picks up again, and the release is on record."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from app.appointments.digest import build_digest
from app.cli import cli
from app.core.clock import ManualClock
from app.core.settings import Settings, get_settings
from app.jobs.bootstrap import Context
from tests.webhooks.helpers import Db, client, seed_campaign, seed_lead, signed_twilio

USER = "+14155550199"


@pytest.fixture
def operator(database_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """The operator's shell on the same database."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("DATABASE_URL", database_dsn)
    monkeypatch.chdir(Path(__file__).parent)  # no .env here
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


async def type_in(operator: CliRunner, *args: str) -> Result:
    return await asyncio.to_thread(operator.invoke, cli, list(args))


async def _text_in(ctx: Context, body: str) -> None:
    params = {"MessageSid": "SMdoubt1", "AccountSid": "AC123", "From": USER,
              "To": "+14155550123", "Body": body, "NumMedia": "0"}  # fmt: skip
    path, content, headers = signed_twilio("/webhooks/twilio/sms", params)
    async with client(ctx) as http:
        assert (await http.post(path, content=content, headers=headers)).status_code == 200


async def test_a_held_lead_is_shown_then_released_by_the_operator(
    ctx: Context, db: Db, clock: ManualClock, operator: CliRunner
) -> None:
    lead_id = await seed_lead(ctx, db, phone=USER, email="ana@example.com", name="Ana")
    await seed_campaign(ctx)
    await _text_in(ctx, "how did you get my number??")
    assert db.one("select status from enrollments")["status"] == "paused"

    summary = await ctx.repos.consent.summary(clock.now() - timedelta(days=30))
    assert summary["held"] == 1
    [held] = summary["held_leads"]
    assert held["id"] == lead_id and held["phone"] == USER and held["reason"]
    digest = await build_digest(ctx.repos.appointments, clock.now() + timedelta(days=1),
                                ctx.settings)  # fmt: skip
    assert "Held for review (is this an opt-out?): 1" in digest.text
    assert USER in digest.text

    clock.advance(timedelta(hours=2))
    result = await type_in(operator, "leads", "release", "(415) 555-0199", "--by", "maria",
                           "--note", "they asked where we got it; answered")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"lead #{lead_id} released" in result.stdout
    assert "1 enrollment(s) active again" in result.stdout
    assert db.one("select needs_review from leads")["needs_review"] is None
    enrollment = db.one("select status, stopped_reason from enrollments")
    assert (enrollment["status"], enrollment["stopped_reason"]) == ("active", None)
    record = db.one("select released_by, held_reason, enrollments from consent_releases")
    assert record["released_by"] == "maria" and record["enrollments"] == 1
    assert (await ctx.repos.consent.summary(clock.now() - timedelta(days=30)))["held"] == 0

    again = await type_in(operator, "leads", "release", USER)
    assert again.exit_code == 0 and "was not held" in again.stdout


async def test_release_of_an_unknown_number_says_so(operator: CliRunner) -> None:
    result = await type_in(operator, "leads", "release", "+14155550000")
    assert result.exit_code == 1
    bad = await type_in(operator, "leads", "release", "555-01")
    assert bad.exit_code == 2


async def test_operator_records_consent_given_on_the_phone(
    ctx: Context, db: Db, operator: CliRunner
) -> None:
    from app.db.models import LeadIn
    from app.db.outbox import CallIn

    await ctx.repos.leads.upsert([LeadIn(name="Bo", phone=USER)], ctx.clock.now())

    async def call(key: str) -> str:
        queued = await ctx.repos.outbox.enqueue_call(
            CallIn(idempotency_key=key, lead_id=int(db.one("select id from leads")["id"]),
                   to_number=USER), ctx.clock.now())  # fmt: skip
        return (await ctx.providers.delivery.place_call(queued.id)).outcome

    assert await call("call-1") == "refused"  # no ai_voice consent on record
    said = "Said yes to a callback by our assistant"
    result = await type_in(
        operator, "leads", "consent", "415-555-0199", "--channel", "ai_voice", "--text", said
    )
    assert result.exit_code == 0, result.output
    assert "consent to ai_voice recorded for 1 lead(s)" in result.stdout
    assert await call("call-2") == "sent"
    record = db.one("select channel, source, consent_text from consents")
    assert (record["channel"], record["source"]) == ("ai_voice", "operator")
    bad = await type_in(operator, "leads", "consent", USER, "--channel", "ai_voice")
    assert bad.exit_code == 2  # what did they agree to?
