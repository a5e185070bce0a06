"""`nightshift agents push --candidate | promote | retire | status` against a respx-mocked
Vapi: a changed prompt goes live beside the current version as a second assistant, with its
own knowledge files and query tool; promote swaps the roles; the next candidate reuses the
retired assistant (docs/agents.md "Version trials")."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from app.agents.definition import load_agents
from app.agents.service import AgentCommandError, dry_run, push, set_role
from app.jobs.bootstrap import Context
from tests.agents.test_push import FakeVapi, _agents, _api, _deps
from tests.webhooks.helpers import Db


class TrialVapi(FakeVapi):
    """FakeVapi whose new assistants' ids are URL-safe (`Sarah (candidate)` → ...-candidate)."""

    def _assistant(self, request: httpx.Request) -> httpx.Response:
        response = super()._assistant(request)
        if request.method == "POST":
            old = response.json()["id"]
            new = re.sub(r"[^a-z0-9-]+", "-", old).strip("-")
            body = self.assistants.pop(old)
            self.assistants[new] = {**body, "id": new}
            return httpx.Response(201, json=self.assistants[new])
        return response


@pytest.fixture
def vapi() -> Any:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield TrialVapi(router)


def _edit_prompt(folder: Path, words: str) -> None:
    path = folder / "sarah.yaml"
    text = path.read_text()
    assert "prompt: |\n" in text
    path.write_text(text.replace("prompt: |\n", f"prompt: |\n  {words}\n", 1))


def _roles(db: Db) -> list[tuple[int, str, str]]:
    rows = db.rows("select version, role, vapi_assistant_id from agent_versions order by version")
    return [(r["version"], r["role"], r["vapi_assistant_id"]) for r in rows]


async def test_a_candidate_is_a_second_assistant_then_promote_and_the_next_one_reuses_the_old(
    ctx: Context, db: Db, vapi: TrialVapi, tmp_path: Path
) -> None:
    folder, agents = _agents(tmp_path)
    await push(agents["sarah"], _deps(ctx), _api(ctx))
    assert _roles(db) == [(1, "current", "asst-sarah")]

    _edit_prompt(folder, "Always offer the earliest two slots first.")
    edited = load_agents(folder)["sarah"]
    before = len(vapi.sent())
    summary, _ = await push(edited, _deps(ctx), _api(ctx), candidate=True)
    assert summary.startswith(
        "sarah: version 2 pushed as candidate, assistant asst-sarah-candidate"
    )
    # its own knowledge files and query tool: a later swap never deletes the current's files
    assert vapi.sent()[before:] == [
        *[("POST", "/file")] * 4,
        ("POST", "/tool"),
        ("POST", "/assistant"),
    ]
    body = vapi.body(len(vapi.sent()) - 1)
    assert body["name"] == "Sarah (candidate)"
    assert "Always offer the earliest two slots first." in body["model"]["messages"][0]["content"]
    assert _roles(db) == [(1, "current", "asst-sarah"), (2, "candidate", "asst-sarah-candidate")]
    assert await ctx.repos.agents.vapi_id("sarah") == "asst-sarah"  # current still answers

    again, _ = await push(edited, _deps(ctx), _api(ctx), candidate=True)
    assert again == "sarah: unchanged (candidate version 2)"
    same, _ = await push(agents["sarah"], _deps(ctx), _api(ctx), candidate=True)
    assert same == "sarah: the current version 1 is this definition: nothing to try"

    assert await set_role("sarah", "promote", _deps(ctx)) == (
        "sarah: version 1 is retired, version 2 is current"
    )
    assert await ctx.repos.agents.vapi_id("sarah") == "asst-sarah-candidate"

    _edit_prompt(folder, "Mention the spring tune-up special.")
    before = len(vapi.sent())
    summary, _ = await push(load_agents(folder)["sarah"], _deps(ctx), _api(ctx), candidate=True)
    assert summary.startswith("sarah: version 3 pushed as candidate, assistant asst-sarah,")
    # the retired assistant is reused; its knowledge files are still the repository's
    assert vapi.sent()[before:] == [("PATCH", "/assistant/asst-sarah")]
    assert vapi.body(len(vapi.sent()) - 1)["name"] == "Sarah (candidate)"
    assert _roles(db)[1:] == [
        (2, "current", "asst-sarah-candidate"),
        (3, "candidate", "asst-sarah"),
    ]

    assert await set_role("sarah", "retire", _deps(ctx)) == "sarah: version 3 is retired"
    with pytest.raises(AgentCommandError, match="no candidate version"):
        await set_role("sarah", "retire", _deps(ctx))


async def test_a_candidate_needs_a_current_version(
    ctx: Context, vapi: TrialVapi, tmp_path: Path
) -> None:
    _, agents = _agents(tmp_path)
    with pytest.raises(AgentCommandError, match="no current version"):
        await push(agents["sarah"], _deps(ctx), _api(ctx), candidate=True)
    assert vapi.sent() == []


async def test_the_dry_run_of_a_candidate_prints_its_own_assistant(
    ctx: Context, vapi: TrialVapi, tmp_path: Path
) -> None:
    folder, agents = _agents(tmp_path)
    await push(agents["sarah"], _deps(ctx), _api(ctx))
    sent = len(vapi.sent())
    _edit_prompt(folder, "Always offer the earliest two slots first.")
    text = "\n".join(await dry_run(load_agents(folder)["sarah"], _deps(ctx), candidate=True))
    assert text.count("POST https://api.vapi.ai/file\n") == 4  # its own knowledge files
    assert "POST https://api.vapi.ai/assistant\n" in text and '"name": "Sarah (candidate)"' in text
    assert "PATCH" not in text and "DELETE" not in text  # the current assistant is untouched
    assert len(vapi.sent()) == sent  # nothing sent
