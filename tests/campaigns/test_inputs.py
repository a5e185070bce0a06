"""CSV import with bad rows, campaign YAML validation, templates and SMS segments."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.campaigns.definition import CampaignError, load_campaign_yaml, parse_delay
from app.campaigns.leads_import import import_csv
from app.campaigns.templates import check_template, rewrite_links, sms_segments
from app.jobs.bootstrap import Context
from tests.campaigns.helpers import CAMPAIGN, query

ROOT = Path(__file__).resolve().parents[2]

CSV = """Name,Phone,Email,Company,Industry,State,Timezone,Source,Unit Count
Ann Lee,(512) 555-0100,ann@example.com,Lee HVAC,hvac,TX,America/Chicago,web,3
Bob Roe,not a phone,bob@example.com,,hvac,TX,,web,
Cy Doe,,cy@example,,dental,CA,,ads,
Di Poe,512-555-0101,,,hvac,Texas,Mars/Olympus,web,
,,,Nobody Inc,,,,,
Ann Lee,+15125550100,ANN@example.com,,,,,,4
Eve Fox,+1 212 555 0199,eve@example.com,,dental,ny,,referral,
"""


async def test_csv_import_reports_bad_rows_and_imports_the_rest(ctx: Context) -> None:
    report = await import_csv(CSV, ctx.repos.leads, ctx.clock.now())
    assert [(e.line, e.column) for e in report.errors] == [
        (3, "phone"), (4, "email"), (5, "timezone"), (6, "phone/email"),
    ]  # fmt: skip
    assert (report.read, report.imported, report.updated, report.rejected) == (7, 2, 1, 4)
    leads = await query(ctx, "select name, phone, email, state, attributes from leads order by id")
    assert leads[0]["phone"] == "+15125550100" and leads[0]["email"] == "ann@example.com"
    assert leads[0]["attributes"] == {"unit count": "4"}  # merged on phone, extra column kept
    assert leads[1]["state"] == "NY" and leads[1]["phone"] == "+12125550199"
    again = await import_csv(CSV, ctx.repos.leads, ctx.clock.now())
    assert (again.imported, again.updated) == (0, 3)  # idempotent


async def test_csv_without_phone_or_email_column_is_unreadable(ctx: Context) -> None:
    with pytest.raises(ValueError, match="neither a phone nor an email"):
        await import_csv("name,company\nA,B\n", ctx.repos.leads, ctx.clock.now())


def test_cli_import_exit_codes(
    tmp_path: Path, database_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.cli import cli
    from app.core.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", database_dsn)
    get_settings.cache_clear()
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(CSV, encoding="utf-8-sig")
    bad.write_text("name,phone\nX,123\n")
    result = CliRunner().invoke(cli, ["leads", "import", str(good)])
    assert result.exit_code == 0, result.output
    assert "line 3, phone: not a phone number" in result.output
    assert "imported 2, updated 1, rejected 4" in result.output
    assert CliRunner().invoke(cli, ["leads", "import", str(bad)]).exit_code == 1
    get_settings.cache_clear()


def test_yaml_missing_template_variable_names_the_field() -> None:
    broken = CAMPAIGN.replace(
        "{{ lead.first_name }}, {{ business.name }}", "{{ lead.frist_name }}, {{ business.name }}"
    )
    with pytest.raises(CampaignError, match=r"steps\[0\]\.body: .*frist_name"):
        load_campaign_yaml(broken)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("delay: 2d", "delay: soon"), r"steps\[1\]\.delay: .*not a delay"),
        (("    subject:", "    subjekt:"), r"steps\[1\]\.subjekt: Extra inputs"),
        (("channel: email", "channel: fax"), r"steps\[1\]\.channel: Input should be"),
        (("Reply STOP to opt out.", ""), r"first SMS must name the business"),
        (("timezone: America/New_York", "timezone: Mars/Base"), r"timezone: "),
    ],
)
def test_invalid_yaml_names_the_field(change: tuple[str, str], message: str) -> None:
    with pytest.raises(CampaignError, match=message):
        load_campaign_yaml(CAMPAIGN.replace(*change))


def test_sms_over_max_segments_fails_at_load() -> None:
    long = CAMPAIGN.replace("time for your tune-up?", "time for your tune-up? " + "x" * 320)
    with pytest.raises(CampaignError, match=r"3 GSM-7 segments, more than max_segments=2"):
        load_campaign_yaml(long)


def test_examples_load() -> None:
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        assert load_campaign_yaml(path.read_text()).steps


def test_segments() -> None:
    assert sms_segments("a" * 160) == ("GSM-7", 1)
    assert sms_segments("a" * 161) == ("GSM-7", 2)
    assert sms_segments("{" * 80) == ("GSM-7", 1)  # extension characters count twice
    assert sms_segments("{" * 81) == ("GSM-7", 2)
    assert sms_segments("é" * 160) == ("GSM-7", 1)  # é is in the GSM-7 basic set
    assert sms_segments("ê" * 70) == ("UCS-2", 1)
    assert sms_segments("ê" * 71) == ("UCS-2", 2)
    assert sms_segments("👍" * 35) == ("UCS-2", 1)  # surrogate pairs: 2 units each


def test_sandbox_refuses_attribute_tricks() -> None:
    with pytest.raises(Exception, match=r"unsafe|not safely|access"):
        check_template("{{ lead.__class__.__mro__ }}")


def test_tracked_links_keep_one_token_per_url() -> None:
    link = '<a href="https://a.example/x">1</a>'
    html = link + link + '<a href="mailto:z@q.co">m</a>'
    seen: list[str] = []

    def make(url: str) -> str:
        seen.append(url)
        return f"https://t/{len(seen)}"

    out = rewrite_links(html, make)
    assert (
        out.count("https://t/1") == 2 and "mailto:z@q.co" in out and seen == ["https://a.example/x"]
    )


def test_delays() -> None:
    assert parse_delay("15m").total_seconds() == 900
    assert parse_delay("2d").days == 2
    assert parse_delay(30).total_seconds() == 30
