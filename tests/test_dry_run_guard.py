"""Dry run only when asked: against a configured database (real customers), a job or the web
app refuses to start while a provider has no credentials, naming NIGHTSHIFT_DRY_RUN, unless
NIGHTSHIFT_DRY_RUN=1 asks for the dry run. The embedded database (`make dev`) still dry-runs
with a warning. (The embedded test server's DSN stands in for a real DATABASE_URL.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.core.settings import Settings, SettingsError, get_settings
from app.webhooks import create_app
from tests.conftest import make_settings

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def real_database(database_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A developer's shell: NIGHTSHIFT_ENV=development, DATABASE_URL set, no provider keys."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("NIGHTSHIFT_ENV", "development")
    monkeypatch.setenv("DATABASE_URL", database_dsn)
    monkeypatch.chdir(TESTS)  # no .env here
    get_settings.cache_clear()
    yield database_dsn
    get_settings.cache_clear()


def test_run_drip_without_keys_against_a_real_database_exits_naming_the_switch(
    real_database: str,
) -> None:
    result = CliRunner().invoke(cli, ["run", "drip"])
    assert result.exit_code == 2
    assert "NIGHTSHIFT_DRY_RUN" in result.stderr
    assert "TWILIO_AUTH_TOKEN" in result.stderr and "RESEND_API_KEY" in result.stderr
    assert result.stdout == ""  # no run recorded, nothing claimed


def test_the_dry_run_runs_when_asked(real_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NIGHTSHIFT_DRY_RUN", "1")
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["run", "drip"])
    assert result.exit_code == 0, result.output
    assert result.stdout.split()[:2] == ["drip", "succeeded"]


def test_reading_and_importing_commands_still_work_without_keys(real_database: str) -> None:
    assert CliRunner().invoke(cli, ["status", "--json"]).exit_code == 0


async def test_the_web_app_refuses_to_start(real_database: str) -> None:
    app = create_app()  # its lifespan builds the graph, as a server's startup does
    with pytest.raises(SettingsError, match="NIGHTSHIFT_DRY_RUN"):
        async with app.router.lifespan_context(app):
            pass


def test_refusal_rules() -> None:
    dsn = "postgresql://app@db.internal:5432/nightshift"
    assert "NIGHTSHIFT_DRY_RUN" in (make_settings(database_url=dsn).dry_run_refusal() or "")
    assert make_settings(database_url=dsn, nightshift_dry_run=True).dry_run_refusal() is None
    assert make_settings().dry_run_refusal() is None  # embedded: `make dev` dry-runs
    no_providers = make_settings(
        database_url=dsn, email_enabled=False, sms_enabled=False, calls_enabled=False
    )
    assert no_providers.dry_run_refusal() is None
