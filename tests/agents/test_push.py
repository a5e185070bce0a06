"""`nightshift agents push | diff | rollback` against a respx-mocked Vapi: the exact requests,
the versions recorded, the knowledge swap (upload, swap ids, delete the old file)."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from app.agents.definition import Agent, load_agents
from app.agents.render import Target
from app.agents.service import AgentDeps, diff, dry_run, push, rollback
from app.jobs.bootstrap import Context
from app.providers.vapi_assistants import VapiAssistantsApi
from tests.agents.conftest import VAPI_KEY
from tests.agents.vapi_bodies import assistant_answer, file_answer, tool_answer
from tests.webhooks.helpers import PUBLIC, VAPI_SECRET, Db

API = "https://api.vapi.ai"
AGENTS = Path(__file__).resolve().parents[2] / "agents"


class FakeVapi:
    """Vapi's configuration API as respx routes that remember what they were sent."""

    def __init__(self, router: respx.MockRouter) -> None:
        self.ids = itertools.count(1)
        self.assistants: dict[str, dict[str, Any]] = {}
        self.deleted: list[str] = []
        router.post(f"{API}/file").mock(side_effect=self._file)
        router.post(f"{API}/tool").mock(side_effect=self._tool)
        router.patch(url__regex=rf"{API}/tool/[\w-]+").mock(side_effect=self._tool)
        router.get(f"{API}/assistant").mock(side_effect=self._list)
        router.post(f"{API}/assistant").mock(side_effect=self._assistant)
        router.patch(url__regex=rf"{API}/assistant/[\w-]+").mock(side_effect=self._assistant)
        router.get(url__regex=rf"{API}/assistant/[\w-]+").mock(side_effect=self._get)
        router.delete(url__regex=rf"{API}/file/[\w-]+").mock(side_effect=self._delete)
        self.router = router

    def _file(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == f"Bearer {VAPI_KEY}"
        content = request.content
        assert b'name="file"' in content and request.headers["content-type"].startswith(
            "multipart/form-data"
        )
        name = content.split(b'filename="')[1].split(b'"')[0].decode()
        return httpx.Response(201, json=file_answer(f"file-{next(self.ids)}", name, len(content)))

    def _tool(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        tool_id = request.url.path.rsplit("/", 1)[1] if request.method == "PATCH" else "tool-q"
        return httpx.Response(
            201 if request.method == "POST" else 200, json=tool_answer(tool_id, body)
        )

    def _assistant(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if request.method == "POST":
            assistant_id = f"asst-{body['name'].lower()}"
        else:
            assistant_id = request.url.path.rsplit("/", 1)[1]
        self.assistants[assistant_id] = assistant_answer(assistant_id, body)
        return httpx.Response(
            201 if request.method == "POST" else 200, json=self.assistants[assistant_id]
        )

    def _list(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=list(self.assistants.values()))

    def _get(self, request: httpx.Request) -> httpx.Response:
        found = self.assistants.get(request.url.path.rsplit("/", 1)[1])
        if found is None:
            return httpx.Response(404, json={"message": "Not Found", "statusCode": 404})
        return httpx.Response(200, json=found)

    def _delete(self, request: httpx.Request) -> httpx.Response:
        self.deleted.append(request.url.path.rsplit("/", 1)[1])
        return httpx.Response(200, json={})

    def sent(self) -> list[tuple[str, str]]:
        return [(c.request.method, c.request.url.path) for c in self.router.calls]

    def body(self, index: int) -> dict[str, Any]:
        return dict(json.loads(self.router.calls[index].request.content))


@pytest.fixture
def vapi() -> Any:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield FakeVapi(router)


def _deps(ctx: Context) -> AgentDeps:
    return AgentDeps(ctx.repos.agents, ctx.clock, Target(PUBLIC, VAPI_SECRET))


def _api(ctx: Context) -> VapiAssistantsApi:
    return VapiAssistantsApi(
        ctx.settings.vapi_api_key,  # type: ignore[arg-type]
        client=ctx.providers.client,
        clock=ctx.clock,
    )


def _agents(tmp_path: Path) -> tuple[Path, dict[str, Agent]]:
    folder = tmp_path / "agents"
    shutil.copytree(AGENTS, folder)
    return folder, load_agents(folder)


async def test_dry_run_prints_every_request_of_a_first_push(ctx: Context) -> None:
    sarah = load_agents(AGENTS)["sarah"]
    text = "\n".join(await dry_run(sarah, _deps(ctx)))
    assert text.count(f"POST {API}/file\n") == 4
    assert "file=never-promise.md (text/markdown," in text
    assert f"POST {API}/tool\n" in text and '"<ref:file:services.md>"' in text
    assert f"POST {API}/assistant\n" in text and '"<ref:tool:query>"' in text
    assert '"name": "bookAppointment"' in text and '"maxDurationSeconds": 420' in text
    assert f'"url": "{PUBLIC}/webhooks/vapi"' in text
    assert VAPI_SECRET not in text and '"x-vapi-secret": "***"' in text


async def test_push_creates_records_and_then_leaves_an_unchanged_agent_alone(
    ctx: Context, db: Db, vapi: FakeVapi
) -> None:
    sarah = load_agents(AGENTS)["sarah"]
    summary, warnings = await push(sarah, _deps(ctx), _api(ctx))
    assert summary.startswith("sarah: version 1 pushed, assistant asst-sarah") and not warnings
    assert vapi.sent() == [
        ("GET", "/assistant"),
        *[("POST", "/file")] * 4,
        ("POST", "/tool"),
        ("POST", "/assistant"),
    ]
    tool, assistant = vapi.body(5), vapi.body(6)
    assert tool["knowledgeBases"][0]["fileIds"] == ["file-1", "file-2", "file-3", "file-4"]
    assert assistant["model"]["toolIds"] == ["tool-q"]
    assert assistant["server"]["headers"] == {"x-vapi-secret": VAPI_SECRET}  # sent, not stored
    row = db.one("select agent, version, vapi_assistant_id, definition from agent_versions")
    assert (row["agent"], row["version"], row["vapi_assistant_id"]) == ("sarah", 1, "asst-sarah")
    assert row["definition"]["assistant"]["server"]["headers"] == {"x-vapi-secret": "***"}
    assert row["definition"]["vapi"]["files"]["services.md"]["id"] == "file-1"

    again, _ = await push(sarah, _deps(ctx), _api(ctx))
    assert again == "sarah: unchanged (version 1)" and len(vapi.sent()) == 7


async def test_a_changed_knowledge_file_is_uploaded_swapped_then_the_old_one_deleted(
    ctx: Context, db: Db, vapi: FakeVapi, tmp_path: Path
) -> None:
    folder, agents = _agents(tmp_path)
    await push(agents["john"], _deps(ctx), _api(ctx))
    services = folder / "knowledge" / "services.md"
    services.write_text(services.read_text() + "\n- Generator installation and repair.\n")
    john = load_agents(folder)["john"]
    before = len(vapi.sent())
    summary, warnings = await push(john, _deps(ctx), _api(ctx))
    assert summary.startswith("john: version 2 pushed") and not warnings
    assert vapi.sent()[before:] == [
        ("POST", "/file"),
        ("PATCH", "/tool/tool-q"),
        ("PATCH", "/assistant/asst-john"),
        ("DELETE", "/file/file-1"),
    ]
    swapped = vapi.body(before + 1)
    assert swapped["type"] == "query"  # the union's discriminator, always sent
    assert swapped["knowledgeBases"][0]["fileIds"] == ["file-5", "file-2", "file-3", "file-4"]
    model = vapi.body(before + 2)["model"]  # PATCH replaces `model` whole: all of it is sent
    assert model["messages"][0]["role"] == "system" and model["toolIds"] == ["tool-q"]
    assert [t.get("function", {}).get("name", t["type"]) for t in model["tools"]] == [
        "checkAvailability",
        "bookAppointment",
        "optOut",
        "endCall",
    ]
    assert vapi.deleted == ["file-1"]
    assert db.one("select max(version) v from agent_versions where agent = 'john'")["v"] == 2


async def test_diff_shows_a_prompt_changed_in_the_dashboard(ctx: Context, vapi: FakeVapi) -> None:
    sarah = load_agents(AGENTS)["sarah"]
    await push(sarah, _deps(ctx), _api(ctx))
    assert await diff(sarah, _deps(ctx), _api(ctx)) == []  # Vapi's defaults are no difference
    live = vapi.assistants["asst-sarah"]
    live["model"]["messages"][0]["content"] = "You are Sarah. Offer a 50% discount to everyone."
    lines = await diff(sarah, _deps(ctx), _api(ctx))
    assert lines[0] == "--- vapi:sarah (asst-sarah)" and lines[1] == "+++ agents/sarah.yaml"
    assert '-        "content": "You are Sarah. Offer a 50% discount to everyone.",' in lines
    assert any(
        line.startswith('+        "content": "You are Sarah, the friendly') for line in lines
    )


async def test_rollback_sends_an_older_version_again(
    ctx: Context, db: Db, vapi: FakeVapi, tmp_path: Path
) -> None:
    folder, agents = _agents(tmp_path)
    await push(agents["sarah"], _deps(ctx), _api(ctx))
    yaml_file = folder / "sarah.yaml"
    yaml_file.write_text(
        yaml_file.read_text().replace(
            "Keep every reply under 30 words.", "Keep every reply under 20 words."
        )
    )
    await push(load_agents(folder)["sarah"], _deps(ctx), _api(ctx))
    summary, _ = await rollback(agents["sarah"], 1, _deps(ctx), _api(ctx))
    assert summary == "sarah: version 3 = version 1 again"
    method, path = vapi.sent()[-1]
    body = vapi.body(len(vapi.sent()) - 1)
    assert (method, path) == ("PATCH", "/assistant/asst-sarah")
    assert "under 30 words" in body["model"]["messages"][0]["content"]
    assert body["server"]["headers"] == {"x-vapi-secret": VAPI_SECRET}
    assert body["model"]["toolIds"] == ["tool-q"]
    rows = db.rows("select version, note from agent_versions order by version")
    assert [r["note"] for r in rows] == ["push", "push", "rollback to version 1"]


async def test_an_assistant_made_in_the_dashboard_is_adopted_not_duplicated(
    ctx: Context, vapi: FakeVapi
) -> None:
    sarah = load_agents(AGENTS)["sarah"]
    made = {"name": "Sarah", "voice": {"provider": "vapi", "voiceId": "Savannah"},
            "model": {"provider": "openai", "model": "gpt-4o"}}  # fmt: skip
    vapi.assistants["asst-by-hand"] = assistant_answer("asst-by-hand", made)
    summary, _ = await push(sarah, _deps(ctx), _api(ctx))
    assert "assistant asst-by-hand" in summary
    assert ("PATCH", "/assistant/asst-by-hand") in vapi.sent()
    assert ("POST", "/assistant") not in vapi.sent()


async def test_a_failed_delete_of_an_old_file_is_only_a_warning(
    ctx: Context, db: Db, vapi: FakeVapi, tmp_path: Path
) -> None:
    folder, agents = _agents(tmp_path)
    await push(agents["sarah"], _deps(ctx), _api(ctx))
    vapi.router.delete(url__regex=rf"{API}/file/[\w-]+").mock(
        return_value=httpx.Response(404, json={"message": "File not found", "statusCode": 404})
    )
    rules = folder / "knowledge" / "never-promise.md"
    rules.write_text(rules.read_text() + "10. Promise a technician by name.\n")
    summary, warnings = await push(load_agents(folder)["sarah"], _deps(ctx), _api(ctx))
    assert summary.startswith("sarah: version 2 pushed")
    gone = "delete the replaced file never-promise.md: vapi: File not found (code 404)"
    assert warnings == [gone]
