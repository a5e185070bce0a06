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
    # the loud warning, once per provider (a dry-run send, if the wall clock allows one, logs
    # "DRY RUN email" too: not counted)
    assert result.stderr.count("DRY RUN: provider credentials missing") == 3


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
