"""Agent definitions as written in agents/: `<name>.yaml`, `tools.yaml`, `outputs.yaml`, and
the knowledge files of agents/knowledge/.

Contract (docs/agents.md):
- `load_agents(folder)` returns every agent (by file stem: sarah, john), or raises
  `AgentError` whose lines name the file and field;
- a prompt, first message or end-call message may only use the call variables of
  app.core.call_variables (both the outbound call and the inbound answer supply all of
  them) and Vapi's built-ins; anything else is refused here, not heard as a blank;
- every tool and structured output an agent lists is defined, every knowledge file exists
  and is under 300 KB (Vapi's advice).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.core.call_variables import CALL_VARIABLES, VAPI_BUILTINS

MAX_KNOWLEDGE_BYTES = 300 * 1024
# `{{ name ... }}` / `{{name.key}}`: the first identifier is the variable (a quoted string
# such as `{{ "now" | date: ... }}` starts with a quote and is not one)
_VARIABLE = re.compile(r"\{\{-?\s*([A-Za-z_][A-Za-z0-9_]*)")
_SPECIAL_FILES = {"tools", "outputs"}


class AgentError(ValueError):
    """Invalid agent definitions; each line names the file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ToolMessage(_Strict):
    type: Literal["request-start", "request-complete", "request-failed",
                  "request-response-delayed"]  # fmt: skip
    content: str


class ToolSpec(_Strict):
    """A function tool answered by /webhooks/vapi, or a Vapi built-in (`builtin: true`)."""

    description: str | None = None
    parameters: dict[str, Any] | None = None
    messages: list[ToolMessage] = Field(default_factory=list)
    static: dict[str, str] = Field(default_factory=dict)
    builtin: bool = False


class OutputSpec(_Strict):
    description: str
    schema_: dict[str, Any] = Field(alias="schema")


class AgentSpec(_Strict):
    name: str = Field(max_length=40)
    voice: dict[str, Any]
    model: dict[str, Any]
    prompt: str
    first_message: str
    first_message_mode: Literal["assistant-speaks-first", "assistant-waits-for-user",
                                "assistant-speaks-first-with-model-generated-message"] = (
        "assistant-speaks-first")  # fmt: skip
    max_duration_seconds: int = Field(default=600, ge=10, le=43200)
    end_call_message: str | None = None
    tools: list[str] = Field(default_factory=list)
    knowledge: list[str] = Field(default_factory=list)
    structured_outputs: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class KnowledgeFile:
    name: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class Agent:
    """One agent with what it references resolved."""

    key: str  # the file stem: sarah, john
    spec: AgentSpec
    tools: dict[str, ToolSpec]
    outputs: dict[str, OutputSpec]
    knowledge: list[KnowledgeFile]


def template_variables(text: str) -> set[str]:
    return set(_VARIABLE.findall(text))


def unknown_variables(spec: AgentSpec) -> list[str]:
    """`field: {{name}}` for every variable no call supplies."""
    allowed = set(CALL_VARIABLES) | VAPI_BUILTINS
    fields = {"prompt": spec.prompt, "first_message": spec.first_message,
              "end_call_message": spec.end_call_message or ""}  # fmt: skip
    return [
        f"{field}: {{{{{name}}}}} is not a call variable (allowed: {', '.join(CALL_VARIABLES)})"
        for field, text in fields.items()
        for name in sorted(template_variables(text) - allowed)
    ]


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise AgentError(f"{path.name}: {exc}") from exc


def _format(file: str, error: ValidationError) -> list[str]:
    return [f"{file}: {'.'.join(map(str, e['loc'])) or '(file)'}: {e['msg']}"
            for e in error.errors()]  # fmt: skip


def _catalogue(folder: Path, stem: str, model: type[BaseModel]) -> dict[str, Any]:
    path = folder / f"{stem}.yaml"
    data = _read_yaml(path) if path.exists() else {}
    if not isinstance(data, dict):
        raise AgentError(f"{path.name}: a mapping of names")
    found, problems = {}, []
    for name, body in data.items():
        try:
            found[str(name)] = model.model_validate(body or {})
        except ValidationError as exc:
            problems += _format(f"{path.name}: {name}", exc)
    if problems:
        raise AgentError("\n".join(problems))
    return found


def _resolve(folder: Path, key: str, spec: AgentSpec, tools: dict[str, ToolSpec],
             outputs: dict[str, OutputSpec]) -> tuple[Agent, list[str]]:  # fmt: skip
    file = f"{key}.yaml"
    problems = [f"{file}: {p}" for p in unknown_variables(spec)]
    problems += [f"{file}: tools: {t} is not defined in tools.yaml"
                 for t in spec.tools if t not in tools]  # fmt: skip
    problems += [f"{file}: structured_outputs: {o} is not defined in outputs.yaml"
                 for o in spec.structured_outputs if o not in outputs]  # fmt: skip
    knowledge = []
    for name in spec.knowledge:
        path = folder / "knowledge" / name
        if not path.is_file():
            problems.append(f"{file}: knowledge: {name} is not in {folder.name}/knowledge/")
        elif path.stat().st_size > MAX_KNOWLEDGE_BYTES:
            problems.append(f"{file}: knowledge: {name} is over 300 KB")
        else:
            knowledge.append(KnowledgeFile(name, path.read_bytes()))
    agent = Agent(
        key, spec, {t: tools[t] for t in spec.tools if t in tools},
        {o: outputs[o] for o in spec.structured_outputs if o in outputs}, knowledge,
    )  # fmt: skip
    return agent, problems


def load_agents(folder: Path) -> dict[str, Agent]:
    """Every agent of `folder` (see the module contract)."""
    if not folder.is_dir():
        raise AgentError(f"{folder}: no agents folder (AGENTS_DIR)")
    tools = _catalogue(folder, "tools", ToolSpec)
    outputs = _catalogue(folder, "outputs", OutputSpec)
    agents, problems = {}, []
    for path in sorted(folder.glob("*.yaml")):
        if path.stem in _SPECIAL_FILES:
            continue
        data = _read_yaml(path)
        try:
            spec = AgentSpec.model_validate(data if isinstance(data, dict) else {})
        except ValidationError as exc:
            problems += _format(path.name, exc)
            continue
        agent, found = _resolve(folder, path.stem, spec, tools, outputs)
        problems += found
        agents[path.stem] = agent
    if problems:
        raise AgentError("\n".join(problems))
    return agents
