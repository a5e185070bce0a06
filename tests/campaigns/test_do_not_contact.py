"""Do-not-contact set by the operator, the way an operator works: `nightshift leads dnc` on a
lead already enrolled, a `do_not_contact` column in the lead CSV, and `nightshift dnc import`
of a do-not-call export with the odd formatting such files have."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner, Result

from app.campaigns import drip, manager
from app.campaigns.do_not_contact import dnc_channels, parse_dnc_list
from app.campaigns.leads_import import import_csv
from app.cli import cli
from app.core.clock import ManualClock
from app.core.settings import Settings, get_settings
from app.jobs.bootstrap import Context
from app.jobs.campaign_manager import manager_deps
from app.jobs.drip import drip_deps
from tests.campaigns.helpers import load, query
from tests.consented import consented_lead

CALLS = """
slug: callback
name: Callback
timezone: America/New_York
window: {days: [mon, tue, wed, thu, fri, sat, sun], start: "08:00", end: "21:00"}
caps: {new_per_day: 100}
call_timing: asap
steps:
  - channel: call
    delay: 0m
"""
# As a do-not-call export arrives: a quoted header, punctuation of every kind, the national
# registry's area-code/number pairs, a country code, blank lines, and one line with no area
# code (skipped and reported, never guessed).
DNC_EXPORT = """\ufeff"Phone Number","Date Added"
"(212) 555-0147","11/02/2026"
212.555.0148,11/02/2026

1-212-555-0149,
"+1 212 555 0150"
212,5550151
555-0199,11/03/2026
"""


@pytest.fixture
def operator(database_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """The operator's shell on the same database (no provider keys: reading and marking
    leads needs none)."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("DATABASE_URL", database_dsn)
    monkeypatch.chdir(Path(__file__).parent)  # no .env here
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


async def type_in(operator: CliRunner, *args: str) -> Result:
    """The operator's command, from another process's point of view (its own event loop)."""
    return await asyncio.to_thread(operator.invoke, cli, list(args))


async def queue_calls(ctx: Context, phones: list[str]) -> None:
    clock = ctx.clock
    assert isinstance(clock, ManualClock)
    clock.set(datetime(2026, 11, 26, 11, tzinfo=ZoneInfo("America/New_York")).astimezone(UTC))
    await load(ctx, CALLS)
    leads = [consented_lead(name=f"Pat {i}", phone=p) for i, p in enumerate(phones)]
    await ctx.repos.leads.upsert(leads, clock.now())
    await ctx.repos.campaigns.enroll(clock.now())
    assert await drip.run(drip_deps(ctx)) == {"advance:call_queued": len(phones)}


async def test_operator_marks_an_enrolled_lead_do_not_call(
    ctx: Context, operator: CliRunner
) -> None:
    await queue_calls(ctx, ["+12125550147", "+12125550160"])
    # The customer asked on the phone; the operator types the number as they heard it.
    result = await type_in(operator, "leads", "dnc", "(212) 555-0147", "--channel", "calls")
    assert result.exit_code == 0, result.output
    assert "1 lead(s) opted out" in result.stdout
    counts = await manager.run(manager_deps(ctx), ctx.rng)
    assert counts["calls_placed"] == 1
    calls = {r["to_number"]: r for r in await query(ctx, "select * from calls")}
    assert calls["+12125550147"]["placed_at"] is None  # the queued call never rang
    assert calls["+12125550147"]["vapi_call_id"] is None
    assert calls["+12125550160"]["placed_at"] is not None
    [lead] = await query(
        ctx, "select calls_opted_out_at, sms_opted_out_at from leads where phone = '+12125550147'"
    )
    assert lead["calls_opted_out_at"] is not None and lead["sms_opted_out_at"] is None


def test_operator_typo_is_refused_not_guessed(operator: CliRunner) -> None:
    assert operator.invoke(cli, ["leads", "dnc", "555-01"]).exit_code == 2
    assert operator.invoke(cli, ["leads", "dnc", "a@b.co", "--channel", "fax"]).exit_code == 2


async def test_dnc_list_import_scrubs_queued_calls(
    ctx: Context, operator: CliRunner, tmp_path: Path
) -> None:
    await queue_calls(ctx, ["+12125550148", "+12125550151", "+12125550170"])
    export = tmp_path / "national-dnc-212.csv"
    export.write_text(DNC_EXPORT, encoding="utf-8")
    result = await type_in(
        operator, "dnc", "import", str(export), "--source", "FTC registry", "--date", "2026-11-20"
    )
    assert result.exit_code == 0, result.output
    assert "5 number(s), 1 line(s) skipped" in result.stdout
    assert "line 8: skipped" in result.stdout  # the number without an area code
    listed = await query(ctx, "select phone, source, list_date from dnc_numbers order by phone")
    assert [r["phone"] for r in listed] == [f"+12125550{n}" for n in (147, 148, 149, 150, 151)]
    assert {(r["source"], r["list_date"]) for r in listed} == {("FTC registry", date(2026, 11, 20))}
    counts = await manager.run(manager_deps(ctx), ctx.rng)
    assert counts["calls_placed"] == 1
    calls = {r["to_number"]: r["status"] for r in await query(ctx, "select * from calls")}
    assert calls["+12125550148"] == calls["+12125550151"] == "cancelled"
    assert calls["+12125550170"] != "cancelled"


async def test_lead_csv_do_not_contact_column(ctx: Context) -> None:
    csv_text = (
        "Name,Phone,Email,Do_Not_Contact\n"
        "Ana Ruiz,(212) 555-0181,ana@example.com,Yes\n"
        "Bo Chen,212-555-0182,bo@example.com,\n"
        "Cy Park,212 555 0183,cy@example.com,calls\n"
        "Di Moss,212.555.0184,di@example.com,SMS; Calls\n"
        "Ed Fox,212-555-0185,ed@example.com,maybe later\n"
    )
    report = await import_csv(csv_text, ctx.repos.leads, ctx.clock.now(), ctx.repos.outbox)
    assert (report.imported, report.rejected, report.do_not_contact) == (4, 1, 3)
    assert "line 6, do_not_contact" in str(report.errors[0])
    rows = await query(
        ctx, "select name, email_opted_out_at e, sms_opted_out_at s, calls_opted_out_at c,"
        " attributes from leads order by name",
    )  # fmt: skip
    flags = {r["name"]: tuple(r[k] is not None for k in "esc") for r in rows}
    assert flags == {
        "Ana Ruiz": (True, True, True),
        "Bo Chen": (False, False, False),
        "Cy Park": (False, False, True),
        "Di Moss": (False, True, True),
    }
    assert all("do_not_contact" not in r["attributes"] for r in rows)


def test_dnc_values_and_export_parsing() -> None:
    assert dnc_channels("X") == ["email", "sms", "call"]
    assert dnc_channels(" no ") == [] and dnc_channels("") == []
    assert dnc_channels("texts and calls") == ["sms", "call"]
    with pytest.raises(ValueError, match="use yes/no"):
        dnc_channels("unsure")
    parsed = parse_dnc_list(DNC_EXPORT)
    assert len(parsed.phones) == 5 and [line for line, _ in parsed.errors] == [8]
