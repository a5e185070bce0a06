"""What `nightshift agents push` sends, as a list of requests, and running it.

Contract (docs/agents.md):
- `plan_push(agent, target, state)`: from what the last push recorded (`VapiState`; None
  = never pushed), the requests that make Vapi match the repository, in order:
  1. `POST /file` for each knowledge file that is new or changed (a Vapi file cannot be
     edited: a changed file is a new upload);
  2. `POST /tool` (first push) or `PATCH /tool/{id}` with `type: query` and the whole
     `knowledgeBases` array when the file ids changed;
  3. `POST /assistant` (first push) or `PATCH /assistant/{id}` with the whole body;
  4. `DELETE /file/{id}` for every file the swap replaced, once nothing uses it;
- ids created by an earlier step are `<ref:...>` in later ones until `run_plan` fills them;
  `--dry-run` prints the plan with the references in place;
- `run_plan` stops at the first failed request (the recorded state is unchanged, so the next
  push starts again: at worst a file is uploaded twice); a failed `DELETE /file` is only
  reported (the swap already happened); then the version is recorded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from app.agents.definition import Agent
from app.agents.render import (
    QUERY_TOOL,
    Target,
    assistant_body,
    file_key,
    query_tool_body,
    redacted,
    ref,
)
from app.providers.errors import ProviderError
from app.providers.vapi_assistants import ApiRequest, Upload, VapiAssistantsApi

ASSISTANT = "assistant"


@dataclass(frozen=True)
class VapiState:
    """The Vapi ids a push left behind (stored with the version in `agent_versions`)."""

    assistant_id: str | None = None
    query_tool_id: str | None = None
    files: dict[str, dict[str, str]] = field(default_factory=dict)  # name → {id, sha256}

    @classmethod
    def stored(cls, document: dict[str, Any] | None) -> VapiState | None:
        vapi = (document or {}).get("vapi")
        if not isinstance(vapi, dict):
            return None
        return cls(vapi.get("assistant_id"), vapi.get("query_tool_id"), vapi.get("files") or {})

    def document(self) -> dict[str, Any]:
        return {
            "assistant_id": self.assistant_id,
            "query_tool_id": self.query_tool_id,
            "files": self.files,
        }


@dataclass(frozen=True)
class Step:
    label: str
    request: ApiRequest
    produces: str | None = None  # the reference its answer's `id` fills
    best_effort: bool = False  # a failure is reported, not fatal (old file deletes)


@dataclass(frozen=True)
class Plan:
    agent: Agent
    steps: list[Step]
    known: dict[str, str]  # references already known from the recorded state
    body: dict[str, Any]  # the assistant body, references unresolved


def _file_steps(agent: Agent, state: VapiState) -> tuple[list[Step], dict[str, str]]:
    steps, known = [], {}
    for f in agent.knowledge:
        recorded = state.files.get(f.name) or {}
        if recorded.get("sha256") == f.sha256 and recorded.get("id"):
            known[file_key(f.name)] = recorded["id"]
            continue
        upload = Upload(
            f.name, f.content, "text/markdown" if f.name.endswith(".md") else "text/plain"
        )
        steps.append(
            Step(
                f"upload knowledge file {f.name}",
                ApiRequest("POST", "/file", upload=upload),
                produces=file_key(f.name),
            )
        )
    return steps, known


def plan_push(agent: Agent, target: Target, state: VapiState | None) -> Plan:
    state = state or VapiState()
    steps, known = _file_steps(agent, state)
    query_id: str | None = None
    if agent.knowledge:
        file_ids = [ref(file_key(f.name)) for f in agent.knowledge]
        tool = query_tool_body(agent, file_ids)
        if state.query_tool_id is None:
            steps.append(
                Step(
                    "create the knowledge query tool",
                    ApiRequest("POST", "/tool", json=tool),
                    produces=QUERY_TOOL,
                )
            )
        else:
            known[QUERY_TOOL] = state.query_tool_id
            if steps or set(state.files) != {f.name for f in agent.knowledge}:
                path = f"/tool/{state.query_tool_id}"
                steps.append(
                    Step(
                        "swap the query tool's knowledge files",
                        ApiRequest("PATCH", path, json=tool),
                    )
                )
        query_id = ref(QUERY_TOOL)
    body = assistant_body(agent, target, query_id)
    if state.assistant_id:
        known[ASSISTANT] = state.assistant_id
        steps.append(
            Step(
                f"update assistant {agent.spec.name} (the whole model)",
                ApiRequest("PATCH", f"/assistant/{state.assistant_id}", json=body),
            )
        )
    else:
        steps.append(
            Step(
                f"create assistant {agent.spec.name}",
                ApiRequest("POST", "/assistant", json=body),
                produces=ASSISTANT,
            )
        )
    current = {f.name: f.sha256 for f in agent.knowledge}
    for name, recorded in state.files.items():
        if recorded.get("id") and recorded.get("sha256") != current.get(name):
            steps.append(
                Step(
                    f"delete the replaced file {name}",
                    ApiRequest("DELETE", f"/file/{recorded['id']}"),
                    best_effort=True,
                )
            )
    return Plan(agent, steps, known, body)


def resolve(value: Any, refs: dict[str, str]) -> Any:
    """`value` with every `<ref:KEY>` known in `refs` replaced by its id."""
    if isinstance(value, str) and value.startswith("<ref:") and value.endswith(">"):
        return refs.get(value[5:-1], value)
    if isinstance(value, dict):
        return {k: resolve(v, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, refs) for v in value]
    return value


def show_step(step: Step, base_url: str) -> list[str]:
    """The exact request, for --dry-run (the server secret hidden)."""
    r = step.request
    lines = [f"# {step.label}", f"{r.method} {base_url}{r.path}"]
    if r.upload is not None:
        u = r.upload
        lines.append(
            f"Content-Type: multipart/form-data; file={u.filename} ({u.content_type}, "
            f"{len(u.content)} bytes)"
        )
    elif r.json is not None:
        lines += json.dumps(redacted(r.json), indent=2).splitlines()
    return lines


@dataclass(frozen=True)
class Pushed:
    state: VapiState
    body: dict[str, Any]  # the assistant body as sent, secret hidden
    vapi_version: str | None
    warnings: list[str]


async def run_plan(plan: Plan, api: VapiAssistantsApi) -> Pushed:
    refs, vapi_version, warnings = dict(plan.known), None, []
    for step in plan.steps:
        request = ApiRequest(
            step.request.method,
            str(resolve(step.request.path, refs)),
            resolve(step.request.json, refs),
            step.request.upload,
        )
        try:
            answer = await api.send(request)
        except ProviderError as exc:
            if not step.best_effort:
                raise
            warnings.append(f"{step.label}: {exc}")
            continue
        answer = answer if isinstance(answer, dict) else {}
        if step.produces:
            refs[step.produces] = str(answer["id"])
        if request.path.startswith("/assistant") and answer.get("latestVersion") is not None:
            vapi_version = str(answer["latestVersion"])
    files = {
        f.name: {"id": refs[file_key(f.name)], "sha256": f.sha256} for f in plan.agent.knowledge
    }
    state = VapiState(refs[ASSISTANT], refs.get(QUERY_TOOL), files)
    return Pushed(state, redacted(resolve(plan.body, refs)), vapi_version, warnings)
