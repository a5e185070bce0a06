"""`nightshift alerts list | ack | silence | test` against a configured database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from app.cli import cli
from app.cli.alerts import parse_duration
from app.core.settings import Settings, get_settings
from tests.alerts.support import EMAIL, PHONE, alert_messages, query

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def configured(database_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("DATABASE_URL", database_dsn)
    monkeypatch.setenv("ONCALL_PHONES", PHONE)
    monkeypatch.setenv("ONCALL_EMAILS", EMAIL)
    monkeypatch.chdir(ROOT / "tests")  # no .env
    get_settings.cache_clear()
    yield database_dsn
    get_settings.cache_clear()


def invoke(*args: str) -> tuple[int, str]:
    """Exit code and stdout (log lines go to stderr)."""
    result = CliRunner().invoke(cli, ["alerts", *args])
    return result.exit_code, result.stdout if result.exit_code == 0 else result.output


def test_test_sends_through_the_dry_run_routes_then_resolves(configured: str) -> None:
    code, out = invoke("test", "--severity", "critical")
    assert code == 0, out
    # dry-run providers: it says what it would send, never "sent" (issue 16)
    assert out.startswith("DRY RUN (resend, twilio without credentials): would send alerts.test.")
    assert f"to {PHONE}, {EMAIL}, then its RESOLVED notice; nothing was sent" in out
    bodies = [m["payload"]["body"] for m in alert_messages(configured) if m["channel"] == "sms"]
    assert bodies[0].startswith("[CRIT] alerts.test.") and bodies[1].startswith("[RESOLVED")

    code, out = invoke("list", "--all")
    assert code == 0 and "critical resolved" in out and "alerts.test." in out


def test_list_ack_and_unknown_code(configured: str) -> None:
    (row,) = query(
        configured,
        "select alert->>'code' as code from alert_raise("
        "'job.drip.down', 'critical', 'drip is down')",
    )
    alert_code = row["code"]
    code, out = invoke("list")
    assert code == 0 and f"{alert_code}  critical firing   x1" in out and "job.drip.down" in out

    code, out = invoke("ack", alert_code.lower(), "--by", "dana")
    assert (code, out.strip()) == (0, f"acknowledged {alert_code}: job.drip.down")
    assert invoke("list")[1].rstrip().endswith("acked")
    (acked,) = query(configured, "select acknowledged_by from alerts")
    assert acked == {"acknowledged_by": "dana"}

    code, out = invoke("ack", "QQQQ")
    assert code == 1 and "no firing alert with code QQQQ" in out


def test_silence_for_a_duration(configured: str) -> None:
    code, out = invoke("silence", "job.drip.*", "--for", "1h30m", "--reason", "deploy")
    assert code == 0 and out.startswith("silenced job.drip.* until ")
    (row,) = query(configured, "select until - created_at as span, reason from alert_silences")
    assert row == {"span": timedelta(hours=1, minutes=30), "reason": "deploy"}
    assert invoke("silence", "x", "--for", "soon")[0] == 2


def test_parse_duration() -> None:
    assert parse_duration("2h") == timedelta(hours=2)
    assert parse_duration("1d 2h") == timedelta(days=1, hours=2)
    assert parse_duration("90s") == timedelta(seconds=90)
    for bad in ("", "2", "h", "2x", "2h-"):
        with pytest.raises(typer.BadParameter):
            parse_duration(bad)


@pytest.mark.parametrize("command", [[], ["list"], ["ack"], ["silence"], ["test"]])
def test_every_alerts_command_has_help(command: list[str]) -> None:
    assert invoke(*command, "--help")[0] == 0
