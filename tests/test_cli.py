"""The command line: `dev --once` on a fresh checkout with nothing configured, and
migrate / run / status against a configured database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.core.settings import Settings, get_settings
from app.jobs import JOBS

ROOT = Path(__file__).resolve().parents[1]
SETTING_NAMES = {name.upper() for name in Settings.model_fields}


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment minus every nightshift setting: 'nothing configured'."""
    env = {k: v for k, v in os.environ.items() if k.upper() not in SETTING_NAMES}
    return {**env, **extra}


def test_dev_once_on_a_fresh_checkout_with_nothing_configured(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "dev", "--once"],
        cwd=tmp_path,  # no .env here
        env=_clean_env(EMBEDDED_PG_DIR=str(tmp_path / "pg"), PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "demo leads: 6 inserted, 0 updated"
    assert "demo campaign: speed-to-lead (4 steps)" in lines
    summaries = [line for line in lines if not line.startswith("demo ")]
    assert [line.split()[0] for line in summaries] == [job.name for job in JOBS]
    assert all(line.split()[1] == "succeeded" for line in summaries)
    # one short notice for every dry provider, not a warning each (a dry-run send, if the
    # wall clock allows one, logs "DRY RUN email" too: not counted)
    assert result.stderr.count("DRY RUN: no credentials for resend, twilio, vapi") == 1
    assert "provider credentials missing" not in result.stderr


@pytest.fixture
def configured(database_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database_dsn)
    monkeypatch.setenv("NIGHTSHIFT_DRY_RUN", "1")  # no provider keys here: a dry run, on purpose
    monkeypatch.chdir(ROOT / "tests")  # no .env
    get_settings.cache_clear()
    yield database_dsn
    get_settings.cache_clear()


def test_migrate_twice_is_a_no_op_the_second_time(
    fresh_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", fresh_dsn)
    get_settings.cache_clear()
    runner = CliRunner()
    first = runner.invoke(cli, ["migrate"])
    assert first.exit_code == 0 and first.stdout.startswith("applied: 2026")
    second = runner.invoke(cli, ["migrate"])
    assert second.exit_code == 0 and "up to date" in second.stdout
    get_settings.cache_clear()


def test_run_then_status_json(configured: str) -> None:
    runner = CliRunner()
    ran = runner.invoke(cli, ["run", "guardian"])
    assert ran.exit_code == 0, ran.output
    assert ran.stdout.split()[:2] == ["guardian", "succeeded"]
    status = runner.invoke(cli, ["status", "--json"])
    assert status.exit_code == 0, status.output
    snapshot = json.loads(status.stdout)
    rows = {row["job"]: row for row in snapshot["jobs"]}
    assert rows["guardian"]["status"] == "succeeded"
    assert rows["drip"]["status"] == "never_run"
    assert snapshot["call_queue"][0].startswith("no scoring model yet")
    table = runner.invoke(cli, ["status"])
    assert table.exit_code == 0, table.output
    assert "Call queue (hottest first, with reasons):" in table.stdout


def test_run_unknown_job_names_the_known_ones(configured: str) -> None:
    result = CliRunner().invoke(cli, ["run", "nope"])
    assert result.exit_code == 2
    assert "known: drip, campaign_manager" in result.output


@pytest.mark.parametrize("command", [[], ["dev"], ["migrate"], ["run"], ["status"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_dev_serves_healthz_on_the_embedded_database(tmp_path: Path) -> None:
    import time

    import httpx

    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "dev", "--port", str(port)],
        cwd=tmp_path,
        env=_clean_env(EMBEDDED_PG_DIR=str(tmp_path / "pg"), PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        body = None
        for _ in range(300):  # bounded: at most ~60 s
            if proc.poll() is not None:
                break
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                body = response.json()
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert body is not None, proc.stderr.read() if proc.stderr else ""
        assert body["status"] == "ok" and body["database"]["mode"] == "embedded"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode in (0, -15)


def test_next_fire_follows_the_cron() -> None:
    from datetime import UTC, datetime

    from app.devserver import next_fire
    from app.jobs import get_job

    at = datetime(2026, 11, 26, 15, 2, 30, tzinfo=UTC)
    assert next_fire(get_job("drip"), at) == datetime(2026, 11, 26, 15, 5, tzinfo=UTC)
    assert next_fire(get_job("growth"), at) == datetime(2026, 11, 26, 15, 7, tzinfo=UTC)


PRODUCTION_ENV = {
    "NIGHTSHIFT_ENV": "production",
    "DATABASE_URL": "postgresql://u:p@127.0.0.1:1/postgres",
    "PUBLIC_BASE_URL": "https://acme--nightshift-web.modal.run",
    "BUSINESS_NAME": "Acme HVAC",
    "BUSINESS_POSTAL_ADDRESS": "1 Elm St, Dayton, OH 45402",
    "BOOKING_URL": "https://cal.example.org/acme",
    "RESEND_API_KEY": "re_4f8Qa9_live",
    "EMAIL_FROM": "Acme <hi@mail.acme.test>",
    "RESEND_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "TWILIO_ACCOUNT_SID": "AC0123456789abcdef0123456789abcdef",
    "TWILIO_AUTH_TOKEN": "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
    "TWILIO_FROM_NUMBER": "+15005550006",
    "VAPI_API_KEY": "8c1d4a9e-2f3b-4c5d-9e8f-7a6b5c4d3e2f",
    "VAPI_PHONE_NUMBER_ID": "pn_1",
    "VAPI_ASSISTANT_ID": "asst_1",
    "VAPI_WEBHOOK_SECRET": "s3cr3t-vapi-hook",
    "ONCALL_PHONES": "+15551230001",
    "LINK_SIGNING_SECRET": "k3y-for-links-5f1c9a7e2d",
    "STATUS_TOKEN": "st-9c2e7f1a4b6d8e0f-4c1b7a2e9d3f6b80",
    "HEARTBEAT_URL": "https://hc-ping.com/5f1c2d3e-acme",
}


def _nightshift(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The real entry point (`python -m app.cli`), as a person runs it, in an empty directory."""
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=tmp_path,  # no .env here
        env=_clean_env(PYTHONPATH=str(ROOT), **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_status_with_a_missing_setting_prints_one_line_and_exits_2(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "VAPI_API_KEY"}
    result = _nightshift(tmp_path, "status", **env)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: configuration: NIGHTSHIFT_ENV=production but")
    assert "VAPI_API_KEY" in lines[0] and "Traceback" not in result.stderr
    debug = _nightshift(tmp_path, "--debug", "status", **env)
    assert debug.returncode == 1 and "Traceback" in debug.stderr  # --debug: the traceback


def test_an_unreachable_database_is_one_line_naming_database_url(tmp_path: Path) -> None:
    result = _nightshift(tmp_path, "status", **PRODUCTION_ENV)  # port 1: nothing listens
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: cannot reach the database") and "DATABASE_URL" in lines[0]


def test_alerts_test_without_a_recipient_exits_1(configured: str) -> None:
    result = CliRunner().invoke(cli, ["alerts", "test"])
    assert result.exit_code == 1
    assert "no on-call recipient for critical alerts: set ONCALL_PHONES" in result.output


def test_alerts_test_in_a_dry_run_says_would_send(
    configured: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONCALL_PHONES", "+15551230001")
    monkeypatch.setenv("ONCALL_EMAILS", "oncall@acme.test")
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["alerts", "test"])
    assert result.exit_code == 0, result.output
    assert "would send alerts.test." in result.stdout
    assert "to +15551230001, oncall@acme.test" in result.stdout
    assert "nothing was sent" in result.stdout and "'sent'" not in result.stdout


def test_an_appointment_in_the_past_is_refused(configured: str) -> None:
    runner = CliRunner()
    past = runner.invoke(
        cli, ["appointments", "add", "2026-01-05T10:00", "--phone", "+15125550100"]
    )
    assert past.exit_code == 2
    assert "2026-01-05 10:00 EST is in the past: give a future start" in past.output
    assert runner.invoke(cli, ["appointments", "list", "--days", "3650"]).stdout == ""


def test_times_are_shown_in_the_business_time_zone(
    configured: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUSINESS_TIMEZONE", "America/Chicago")
    get_settings.cache_clear()
    runner = CliRunner()
    added = runner.invoke(
        cli, ["appointments", "add", "2099-03-04T10:00", "--phone", "+15125550100"]
    )
    assert added.exit_code == 0, added.output
    assert "2099-03-04 10:00 CST" in added.stdout
    silenced = runner.invoke(cli, ["alerts", "silence", "job.drip.*", "--for", "2h"])
    assert silenced.stdout.rstrip().endswith(("CST", "CDT")), silenced.output
    assert "UTC" not in silenced.stdout


def test_leads_import_dry_run_then_import(configured: str, tmp_path: Path) -> None:
    export = tmp_path / "contacts.csv"
    export.write_bytes(
        b"First Name,Last Name,Mobile,Email Address\r\n"
        b"Maria,Gonzalez,(512) 555-0141,maria@example.com\r\n"
        b"Dupe,Maria,512.555.0141,maria@example.com\r\n"
        b"Oliver,Smith,+44 20 7946 0958,oliver@example.co.uk\r\n"
    )
    runner = CliRunner()
    dry = runner.invoke(cli, ["leads", "import", str(export), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.splitlines() == [
        "line 3: merged into line 2's lead (same phone): name kept 'Maria Gonzalez' "
        "(file: 'Dupe Maria')",
        "line 4, phone: +442079460958 is a GB number (+44); only US numbers are imported "
        "(--country US)",
        "dry run, nothing written: would import 1, update 1, reject 1",
    ]
    real = runner.invoke(cli, ["leads", "import", str(export)])
    assert real.stdout.splitlines()[-1] == "imported 1, updated 1, rejected 1"
    gb = runner.invoke(cli, ["leads", "import", str(export), "--country", "GB"])
    assert "line 2, phone: not a valid phone number" in gb.stdout  # (512) ... read in GB
    assert gb.stdout.splitlines()[-1] == "imported 1, updated 0, rejected 2"
    bad_country = runner.invoke(cli, ["leads", "import", str(export), "--country", "USA"])
    assert bad_country.exit_code == 2 and "--country USA: not a country code" in bad_country.output
    bad_map = runner.invoke(cli, ["leads", "import", str(export), "--map", "Mobile=fax"])
    assert bad_map.exit_code == 2 and "'fax' is not one of name" in bad_map.output


def test_status_tables_show_instants_in_the_business_time_zone() -> None:
    from datetime import UTC, datetime

    from app.cli.status import localise

    snap = {
        "jobs": [{"started_at": "2026-12-07T15:30:00.123456+00:00", "job": "drip"}],
        "health": [{"checked_at": datetime(2026, 7, 1, 12, 0, tzinfo=UTC), "latency_ms": 12}],
        "day": "2026-12-07",
    }
    assert localise(snap, "America/Chicago") == {
        "jobs": [{"started_at": "2026-12-07 09:30 CST", "job": "drip"}],
        "health": [{"checked_at": "2026-07-01 07:00 CDT", "latency_ms": 12}],
        "day": "2026-12-07",  # a day is not an instant
    }


@pytest.mark.parametrize(("assistant", "loaded"), [("john", True), ("sara", False)])
def test_a_campaign_names_an_assistant_of_agents_dir_or_is_refused(
    configured: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, assistant: str, loaded: bool
) -> None:
    """An owner who types `assistant: sara` hears so at load, not on the first call."""
    monkeypatch.setenv("AGENTS_DIR", str(ROOT / "agents"))
    get_settings.cache_clear()
    text = (ROOT / "examples" / "speed-to-lead.yaml").read_text()
    path = tmp_path / "campaign.yaml"
    path.write_text(text.replace("call_timing: asap", f"call_timing: asap\nassistant: {assistant}"))
    result = CliRunner().invoke(cli, ["campaigns", "load", str(path)])
    if loaded:
        assert result.exit_code == 0 and "speed-to-lead" in result.stdout, result.output
    else:
        assert result.exit_code == 1
        assert "no agent 'sara' (known: john, sarah)" in result.stderr
