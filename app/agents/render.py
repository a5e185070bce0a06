"""An agent definition as the Vapi API takes it (docs/notes/vapi-agents.md §1-4).

Contract:
- `assistant_body(agent, target)`: the complete body of `POST /assistant` and of
  `PATCH /assistant/{id}` (a PATCH replaces `model` whole, so the body always carries the
  whole model: system prompt, inline function tools, `toolIds`); the server URL is
  `<PUBLIC_BASE_URL>/webhooks/vapi` with the `x-vapi-secret` header when
  VAPI_WEBHOOK_SECRET is set;
- `query_tool_body(agent, file_ids)`: the `query` tool (`knowledgeBases[].fileIds`) that
  attaches the knowledge files;
- ids not known yet (a file still to upload, the query tool still to create) are
  references `<ref:file:NAME>` / `<ref:tool:query>`, replaced when the plan runs
  (app.agents.plan);
- `redacted(body)` hides the server secret: what is printed, stored and hashed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from app.agents.definition import Agent, ToolSpec

SECRET_HEADER = "x-vapi-secret"
HIDDEN = "***"
QUERY_TOOL = "tool:query"


def ref(key: str) -> str:
    return f"<ref:{key}>"


def file_key(name: str) -> str:
    return f"file:{name}"


@dataclass(frozen=True)
class Target:
    """Where the assistant's messages go: PUBLIC_BASE_URL and VAPI_WEBHOOK_SECRET."""

    public_base_url: str
    webhook_secret: str | None = None

    @property
    def server(self) -> dict[str, Any]:
        server: dict[str, Any] = {"url": f"{self.public_base_url.rstrip('/')}/webhooks/vapi"}
        if self.webhook_secret:
            server["headers"] = {SECRET_HEADER: self.webhook_secret}
        return server


def function_tool(name: str, spec: ToolSpec) -> dict[str, Any]:
    if spec.builtin:
        return {"type": name}
    function: dict[str, Any] = {"name": name, "description": spec.description or ""}
    if spec.parameters is not None:
        function["parameters"] = spec.parameters
    tool: dict[str, Any] = {"type": "function", "function": function, "async": False}
    if spec.messages:
        tool["messages"] = [m.model_dump() for m in spec.messages]
    if spec.static:
        tool["parameters"] = [{"key": k, "value": v} for k, v in spec.static.items()]
    return tool


def query_tool_body(agent: Agent, file_ids: list[str]) -> dict[str, Any]:
    base = {
        "provider": "google",
        "name": f"{agent.key}-knowledge",
        "description": f"{agent.spec.name}'s knowledge: services, seasonal maintenance, "
        "common questions and what never to promise",
        "fileIds": file_ids,
    }
    return {"type": "query", "knowledgeBases": [base]}


def assistant_body(agent: Agent, target: Target, query_tool_id: str | None) -> dict[str, Any]:
    spec = agent.spec
    model: dict[str, Any] = {
        **spec.model,
        "messages": [{"role": "system", "content": spec.prompt.strip()}],
        "tools": [function_tool(name, tool) for name, tool in agent.tools.items()],
    }
    if query_tool_id:
        model["toolIds"] = [query_tool_id]
    outputs = [
        {"name": name, "type": "ai", "description": o.description, "schema": o.schema_}
        for name, o in agent.outputs.items()
    ]
    body: dict[str, Any] = {
        "name": spec.name,
        "voice": spec.voice,
        "model": model,
        "firstMessage": spec.first_message.strip(),
        "firstMessageMode": spec.first_message_mode,
        "maxDurationSeconds": spec.max_duration_seconds,
        "server": target.server,
        "artifactPlan": {"structuredOutputs": outputs},
        "metadata": {"nightshift_agent": agent.key},
    }
    if spec.end_call_message:
        body["endCallMessage"] = spec.end_call_message.strip()
    return body


def redacted(value: Any) -> Any:
    """`value` with the server secret header hidden (printing, storing, hashing)."""
    if isinstance(value, dict):
        return {k: HIDDEN if k.lower() == SECRET_HEADER and v else redacted(v)
                for k, v in value.items()}  # fmt: skip
    if isinstance(value, list):
        return [redacted(v) for v in value]
    return value


def content_hash(agent: Agent, target: Target) -> str:
    """What the repository says this agent is: body (secret hidden) and knowledge bytes."""
    document = {
        "assistant": redacted(assistant_body(agent, target, ref(QUERY_TOOL))),
        "knowledge": {f.name: f.sha256 for f in agent.knowledge},
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
