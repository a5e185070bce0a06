"""`nightshift agents`: `push --dry-run` on a fresh clone (no database, no keys) prints the
requests for Sarah and John; `diff` against a live assistant shows a changed prompt."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import respx
from typer.testing import CliRunner

from app.agents.definition import load_agents
from app.agents.render import Target, assistant_body
from app.cli import cli
from app.core.settings import Settings, get_settings
from tests.agents.vapi_bodies import assistant_answer

ROOT = Path(__file__).resolve().parents[2]
SETTING_NAMES = {name.upper() for name in Settings.model_fields}
PUBLIC = "https://nightshift.example.com"


def test_push_dry_run_on_a_fresh_clone_prints_both_agents(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k.upper() not in SETTING_NAMES}
    # the embedded server's directory outside pytest's basetemp, which a concurrent run prunes
    pg = tempfile.mkdtemp(prefix="nightshift-agents-pg-")
    env.update(EMBEDDED_PG_DIR=pg, PYTHONPATH=str(ROOT), AGENTS_DIR=str(ROOT / "agents"))
    try:
        result = subprocess.run(
            [sys.executable, "-m", "app.cli", "agents", "push", "--dry-run"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
    finally:
        shutil.rmtree(pg, ignore_errors=True)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "## john: 6 request(s)" in out and "## sarah: 6 request(s)" in out
    assert out.count("POST https://api.vapi.ai/file\n") == 8
    assert out.count("POST https://api.vapi.ai/tool\n") == 2
    assert out.count("POST https://api.vapi.ai/assistant\n") == 2
    assert '"name": "optOut"' in out and "file=never-promise.md" in out


@pytest.fixture
def configured(database_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    for name, value in {"DATABASE_URL": database_dsn, "VAPI_API_KEY": "vapi-cli-key",
                        "PUBLIC_BASE_URL": PUBLIC, "AGENTS_DIR": str(ROOT / "agents"),
                        "NIGHTSHIFT_DRY_RUN": "1"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(ROOT / "tests")  # no .env
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_diff_shows_the_prompt_changed_in_the_dashboard(configured: None) -> None:
    sarah = load_agents(ROOT / "agents")["sarah"]
    live = assistant_answer("asst-live-1", assistant_body(sarah, Target(PUBLIC), None))
    edited = copy.deepcopy(live)
    edited["model"]["messages"][0]["content"] = "You are Sarah. Promise same-day visits."
    with respx.mock(assert_all_mocked=True) as vapi:
        vapi.get("https://api.vapi.ai/assistant").mock(return_value=httpx.Response(200, json=[
            {**edited, "name": "Sarah"}]))  # fmt: skip
        vapi.get("https://api.vapi.ai/assistant/asst-live-1").mock(
            return_value=httpx.Response(200, json=edited)
        )
        result = CliRunner().invoke(cli, ["agents", "diff", "sarah"])
    assert result.exit_code == 0, result.output
    assert "--- vapi:sarah (asst-live-1)" in result.output
    assert '-        "content": "You are Sarah. Promise same-day visits.",' in result.output
    assert '+        "content": "You are Sarah, the friendly scheduling assistant' in result.output


def test_push_without_a_key_says_so(configured: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VAPI_API_KEY")
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["agents", "push", "sarah"])
    assert result.exit_code == 2
    assert "VAPI_API_KEY is not set (use --dry-run to see the requests)" in result.output


def test_show_prints_the_body_with_the_secret_hidden_and_the_versions(
    configured: None, database_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAPI_WEBHOOK_SECRET", "s3cret-webhook-value")
    get_settings.cache_clear()
    with psycopg.connect(database_dsn, autocommit=True) as conn:
        conn.execute(
            "select * from agent_record_version('john', 'abc123def4567890', 'asst-john-1', null,"
            " '{}'::jsonb, 'push', '2026-12-06T17:00:00Z')"
        )
    result = CliRunner().invoke(cli, ["agents", "show", "john"])
    assert result.exit_code == 0, result.output
    assert '"x-vapi-secret": "***"' in result.output
    assert "s3cret-webhook-value" not in result.output
    assert "knowledge: never-promise.md (" in result.output
    assert "version 1  2026-12-06 17:00  asst-john-1  abc123def456  push" in result.output


def test_push_warns_when_an_agent_outlives_vapi_max_call_seconds(
    configured: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAPI_MAX_CALL_SECONDS", "500")  # John talks up to 600 s
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["agents", "push", "--dry-run"])
    assert result.exit_code == 0, result.output
    warning = "warning: john: max_duration_seconds 600 > VAPI_MAX_CALL_SECONDS 500"
    assert warning in result.output.splitlines()
    assert "sarah: max_duration_seconds" not in result.output  # 420 s fits


def test_status_promote_and_retire_from_the_command_line(
    configured: None, database_dsn: str
) -> None:
    runner = CliRunner()
    empty = runner.invoke(cli, ["agents", "status"])
    assert empty.output.splitlines()[-1] == "no agent version has been pushed"
    for version, role in ((1, "current"), (2, "candidate")):
        with psycopg.connect(database_dsn, autocommit=True) as conn:
            conn.execute(
                "select * from agent_record_version('john', %s, %s, null, '{}'::jsonb, 'push',"
                " now(), %s)",
                (f"hash-{version}", f"asst-john-{version}", role),
            )
    status = runner.invoke(cli, ["agents", "status", "john"])
    assert status.exit_code == 0, status.output
    rows = [line.split() for line in status.output.splitlines() if "DRY RUN" not in line]
    assert rows[0][:3] == ["agent", "version", "role"]
    # no call yet: no rate, no quality, each version as likely the better one
    assert rows[1][:6] == ["john", "2", "candidate", "0", "0", "-"]
    assert rows[2][:6] == ["john", "1", "current", "0", "0", "-"]
    assert 0.4 < float(rows[1][7]) < 0.6
    promoted = runner.invoke(cli, ["agents", "promote", "john"])
    assert promoted.exit_code == 0 and "version 2 is current" in promoted.output
    retired = runner.invoke(cli, ["agents", "retire", "john"])
    assert retired.exit_code == 2 and "no candidate version" in retired.output
