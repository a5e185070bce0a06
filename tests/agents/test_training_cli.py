"""`nightshift agents publish-knowledge`: the owner reviews the newest training build's diff,
then publishes it (AGENTS_AUTO_PUBLISH off)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import respx
from typer.testing import CliRunner

from app.cli import cli
from app.core.settings import get_settings
from app.scoring.playbook import OBJECTIONS_DOC, PLAYBOOK_DOC
from tests.agents.conftest import VAPI_KEY
from tests.agents.test_cli import ROOT, SETTING_NAMES
from tests.agents.test_push import FakeVapi
from tests.webhooks.helpers import Db

DOCUMENTS = {
    OBJECTIONS_DOC: "# Objection responses\n\n## price (4 heard, 3 booked: 75%)\n",
    PLAYBOOK_DOC: "# Call handling playbook\n\nBuilt from 8 answered call(s): 4 booked (50%).\n",
}


@pytest.fixture
def configured(database_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The command's environment: this test's database, the fake Vapi's key, the agents."""
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    values = {
        "DATABASE_URL": database_dsn, "VAPI_API_KEY": VAPI_KEY, "NIGHTSHIFT_DRY_RUN": "1",
        "PUBLIC_BASE_URL": "https://nightshift.example.com", "AGENTS_DIR": str(ROOT / "agents"),
    }  # fmt: skip
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(ROOT / "tests")  # no .env
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def vapi() -> Iterator[FakeVapi]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield FakeVapi(router)


def _seed(db: Db, documents: dict[str, str], version: int) -> None:
    db.rows(
        "insert into training_builds (version, sha256, documents, calls, built_at) "
        "values (%s, %s, %s, 8, now()) returning version",
        (version, f"sha-{version}", json.dumps(documents)),
    )


def test_publish_knowledge_shows_the_diff_then_uploads_the_documents(
    configured: None, database_dsn: str, vapi: FakeVapi
) -> None:
    db = Db(database_dsn)
    runner = CliRunner()
    result = runner.invoke(cli, ["agents", "publish-knowledge"])
    assert result.exit_code == 2 and "no training build yet" in result.output

    _seed(db, DOCUMENTS, 1)
    result = runner.invoke(cli, ["agents", "publish-knowledge", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert f"+++ {OBJECTIONS_DOC} (version 1)" in result.output
    assert "+## price (4 heard, 3 booked: 75%)" in result.output
    assert f"file={OBJECTIONS_DOC} (text/markdown," in result.output
    assert vapi.sent() == []

    result = runner.invoke(cli, ["agents", "publish-knowledge"])
    assert result.exit_code == 0, result.output
    assert "training version 1 published" in result.output
    names: list[Any] = [c.request.content.split(b'filename="')[1].split(b'"')[0].decode()
                        for c in vapi.router.calls if c.request.url.path == "/file"]  # fmt: skip
    assert names.count(OBJECTIONS_DOC) == 2 and names.count(PLAYBOOK_DOC) == 2  # Sarah, John
    row = db.one("select published from training_builds where version = 1")
    assert row["published"] == {"john": 1, "sarah": 1}

    again = runner.invoke(cli, ["agents", "publish-knowledge"])
    assert "training version 1 is already published" in again.output
    # `agents push` keeps the published documents: nothing changed, nothing deleted
    pushed = runner.invoke(cli, ["agents", "push"])
    assert "sarah: unchanged (version 1)" in pushed.output and not vapi.deleted
