"""The .ics invite, email attachments on the wire, quiet hours in a stricter state, drips
stopped by a booking, a Vapi booking confirmed by the loop, and the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from app.appointments.ics import invite
from app.appointments.loop import run
from app.appointments.quiet_hours import latest_permitted
from app.cli import cli
from app.compliance.gate import LeadFacts, evaluate
from app.core.clock import ManualClock
from app.core.settings import Settings, get_settings
from app.jobs.appointments import appointment_deps
from app.jobs.bootstrap import Context
from app.providers.content import Business
from app.providers.ports import EmailAttachment, EmailMessage
from app.providers.resend import ResendConfig, build_email_request
from tests.appointments.helpers import book, execute, keys, plan_rows, rows
from tests.campaigns.helpers import add_leads, load

NOW = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)


def test_email_attachments_reach_the_resend_body() -> None:
    config = ResendConfig(api_key=None, from_address="a@b.test", business=Business("B", "1 St"))
    message = EmailMessage(
        outbox_id=1, idempotency_key="k", to="x@y.test", subject="s", html="<p>h</p>",
        kind="transactional",
        attachments=[EmailAttachment(filename="invite.ics", content="QkVHSU4=",
                                     content_type="text/calendar")],
    )  # fmt: skip
    body = build_email_request(message, config).json
    assert body is not None and body["attachments"] == [
        {"filename": "invite.ics", "content": "QkVHSU4=", "content_type": "text/calendar"}
    ]
    plain = build_email_request(message.model_copy(update={"attachments": []}), config).json
    assert plain is not None and "attachments" not in plain


def test_ics_lines_are_folded_escaped_and_crlf() -> None:
    text = invite(uid="u@h", sequence=2, starts_at=NOW, ends_at=NOW + timedelta(hours=1),
                  summary="Visit; with, commas", location="é" * 60, description="a\nb",
                  now=NOW)  # fmt: skip
    lines = text.split("\r\n")
    assert all(len(line.encode()) <= 75 for line in lines)
    assert "SUMMARY:Visit\\; with\\, commas" in lines and "DESCRIPTION:a\\nb" in lines
    assert "SEQUENCE:2" in lines and "DTSTART:20270301T150000Z" in lines
    unfolded = text.replace("\r\n ", "")
    assert "LOCATION:" + "é" * 60 in unfolded


def test_latest_permitted_in_florida_ends_at_eight_pm() -> None:
    lead = LeadFacts(phone="+13055550100", timezone="America/New_York", state="FL")
    before = datetime(2027, 3, 10, 12, 30, tzinfo=UTC)  # 07:30 EST
    assert latest_permitted(before, NOW, lead, "America/New_York") == datetime(
        2027, 3, 10, 0, 44, tzinfo=UTC
    )  # 19:44 EST: FL's window closes at 20:00
    assert latest_permitted(before, before - timedelta(hours=3), lead, "America/New_York") is None


async def test_booking_stops_the_leads_drips(
    ctx: Context, clock: ManualClock, database_dsn: str
) -> None:
    clock.set(NOW)
    campaign = await load(ctx)
    await add_leads(ctx, 1)
    [lead] = rows(database_dsn, "select id, phone from leads")
    execute(database_dsn, "insert into enrollments (campaign_id, lead_id, status, next_run_at)"
            " values (%s, %s, 'active', %s)", (campaign, lead["id"], NOW))  # fmt: skip
    await book(ctx, NOW + timedelta(days=2), phone=lead["phone"], email=None)
    [enrollment] = rows(database_dsn, "select status, stopped_reason from enrollments")
    assert enrollment == {"status": "stopped", "stopped_reason": "booking"}


async def test_vapi_booking_is_confirmed_by_the_loop(
    ctx: Context, clock: ManualClock, database_dsn: str
) -> None:
    clock.set(NOW)
    booking = {"external_id": "vapi:tool-1", "phone": "+12125550150", "name": "Val",
               "starts_at": "2027-03-03T15:00:00+00:00", "ends_at": "2027-03-03T16:00:00+00:00",
               "timezone": "America/New_York"}  # fmt: skip
    result = await ctx.repos.webhooks.book_appointment(booking, clock.now())
    assert result.outcome == "booked" and result.appointment_id is not None
    await run(appointment_deps(ctx))
    assert keys(database_dsn, result.appointment_id) == [
        f"appt:{result.appointment_id}:v1:confirmation:sms"
    ]
    plan = plan_rows(database_dsn, result.appointment_id)
    assert plan[(1, "confirmation", "email")]["reason"] == "no_email"


@pytest.fixture
def configured(database_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("DATABASE_URL", database_dsn)
    monkeypatch.setenv("NIGHTSHIFT_DRY_RUN", "1")  # no provider keys here: a dry run, on purpose
    monkeypatch.chdir(Path(__file__).parent)  # no .env here
    get_settings.cache_clear()
    yield database_dsn
    get_settings.cache_clear()


def test_cli_add_complete_and_list(configured: str) -> None:
    starts = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT10:00")
    runner = CliRunner()
    added = runner.invoke(cli, ["appointments", "add", starts, "--phone", "+12125550160",
                                "--email", "Cli@Example.com", "--name", "Cleo"])  # fmt: skip
    assert added.exit_code == 0, added.output
    assert added.stdout.startswith("booked: #")
    [a] = rows(configured, "select id, status from appointments")
    # confirmed at once; the CLI reads the real clock, and a text to a New York number
    # between 21:00 and 08:00 there waits for 08:00 (it failed at night with a fixed count)
    sent, sms = keys(configured, a["id"]), plan_rows(configured, a["id"])[1, "confirmation", "sms"]
    assert f"appt:{a['id']}:v1:confirmation:email" in sent
    if evaluate("sms", LeadFacts(phone="+12125550160"), datetime.now(UTC)).allowed:
        assert f"appt:{a['id']}:v1:confirmation:sms" in sent
    else:
        assert sms["status"] == "scheduled"
        assert sms["due_at"].astimezone(ZoneInfo("America/New_York")).time() == time(8)
    listed = runner.invoke(cli, ["appointments", "list"])
    assert f"#{a['id']} " in listed.stdout and "Cleo" in listed.stdout
    done = runner.invoke(cli, ["appointments", "complete", str(a["id"])])
    assert done.exit_code == 0 and done.stdout.startswith("completed: ")
    again = runner.invoke(cli, ["appointments", "complete", str(a["id"])])
    assert again.exit_code == 1 and again.stdout.startswith("refused: ")
    missing = runner.invoke(cli, ["appointments", "add", starts])
    assert missing.exit_code != 0


def test_cli_digest_preview_prints_and_sends_nothing(configured: str) -> None:
    execute(configured, "insert into leads (name, phone, created_at) values ('Y', '+12125550170',"
            " now() - interval '1 day')")  # fmt: skip
    result = CliRunner().invoke(cli, ["digest", "--preview"])
    assert result.exit_code == 0, result.output
    assert "daily digest for" in result.stdout and "Hot leads to call:" in result.stdout
    assert rows(configured, "select count(*) n from messages") == [{"n": 0}]
    assert rows(configured, "select count(*) n from digests") == [{"n": 0}]
