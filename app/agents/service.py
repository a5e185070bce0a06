"""show, diff, push and rollback of one agent (the `nightshift agents` commands).

Contract (docs/agents.md):
- the recorded state is the agent's latest row of `agent_versions`; with none, an assistant
  already named like the agent in Vapi (`GET /assistant`) is adopted (updated, not
  duplicated) — except by a dry run, which reads nothing from Vapi;
- `push` runs the plan and records a new version: content hash, Vapi assistant id, Vapi
  version (when Vapi returns one), the body (secret hidden) and the Vapi ids; an agent
  whose content hash equals its latest version's is left alone;
- `diff` compares the repository's body with the live assistant, on the fields the
  repository sets (Vapi's defaults and read-only fields are not differences);
- `rollback NAME VERSION` sends that version's assistant body again (with today's server
  URL and secret, and today's knowledge: deleted files cannot come back) and records it
  as a new version whose note names the version it restores;
- version trials (docs/agents.md "Version trials"): `push(..., candidate=True)` puts the
  repository's definition on the agent's second Vapi assistant (named `<name> (candidate)`,
  its own knowledge files and query tool, reusing a retired version's assistant when there
  is one) and records it as the `candidate`; a plain push, a rollback and a training
  publish update the `current` version's assistant; `promote` makes the candidate current
  (the current is retired), `retire` retires the candidate. Calls then split between the
  live versions (app.agents.versions).
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, replace
from typing import Any, Literal

from app.agents.definition import Agent
from app.agents.plan import (
    Plan,
    Pushed,
    Step,
    VapiState,
    plan_push,
    resolve,
    run_plan,
    show_step,
)
from app.agents.render import QUERY_TOOL, Target, content_hash, redacted
from app.core.clock import Clock
from app.db.agents import AgentRepository, AgentRole, AgentVersion
from app.providers.vapi import VAPI_API
from app.providers.vapi_assistants import ApiRequest, VapiAssistantsApi


class AgentCommandError(Exception):
    """A command that cannot go on; the message is for the person running it."""


@dataclass(frozen=True)
class AgentDeps:
    repo: AgentRepository | None  # None: no database (a dry run on a fresh clone)
    clock: Clock
    target: Target
    base_url: str = VAPI_API


CANDIDATE_SUFFIX = " (candidate)"


async def _current(agent: Agent, deps: AgentDeps) -> AgentVersion | None:
    return await deps.repo.in_role(agent.key, "current") if deps.repo is not None else None


async def _state(agent: Agent, deps: AgentDeps, api: VapiAssistantsApi | None) -> VapiState:
    current = await _current(agent, deps)
    state = VapiState.stored(current.definition if current else None)
    if state is not None:
        return state
    live = await api.find_assistant(agent.spec.name) if api is not None else None
    return VapiState(assistant_id=str(live["id"])) if live else VapiState()


async def _candidate_state(agent: Agent, deps: AgentDeps) -> VapiState:
    """The candidate's Vapi ids: its own, else a retired version's other assistant (a
    former candidate or current), else none (a first candidate push creates them)."""
    assert deps.repo is not None
    versions = await deps.repo.versions(agent.key)
    current = next((v for v in versions if v.role == "current"), None)
    for role in ("candidate", "retired"):
        for v in versions:
            if v.role == role and (
                current is None or v.vapi_assistant_id != current.vapi_assistant_id
            ):
                return VapiState.stored(v.definition) or VapiState()
    return VapiState()


def as_candidate(agent: Agent) -> Agent:
    """The agent as its candidate assistant: the same definition under its own name."""
    name = agent.spec.name[: 40 - len(CANDIDATE_SUFFIX)] + CANDIDATE_SUFFIX
    return replace(agent, spec=agent.spec.model_copy(update={"name": name}))


async def dry_run(agent: Agent, deps: AgentDeps, *, candidate: bool = False) -> list[str]:
    """The exact requests a push (of the candidate) would send now (nothing is sent)."""
    if candidate and deps.repo is not None:
        plan = plan_push(as_candidate(agent), deps.target, await _candidate_state(agent, deps))
    else:
        plan = plan_push(agent, deps.target, await _state(agent, deps, None))
    lines = [f"## {agent.key}: {len(plan.steps)} request(s)"]
    for step in plan.steps:
        lines += [*show_step(step, deps.base_url), ""]
    return lines


async def push(
    agent: Agent,
    deps: AgentDeps,
    api: VapiAssistantsApi,
    note: str = "push",
    *,
    candidate: bool = False,
) -> tuple[str, list[str]]:
    """Push one agent as its current version (or as the candidate of a version trial);
    (a one-line summary, warnings). `note` is recorded with the version."""
    if deps.repo is None:
        raise AgentCommandError("push records each version in the database: configure one")
    digest = content_hash(agent, deps.target)
    current = await deps.repo.in_role(agent.key, "current")
    if not candidate:
        if current is not None and current.content_hash == digest:
            return f"{agent.key}: unchanged (version {current.version})", []
        plan = plan_push(agent, deps.target, await _state(agent, deps, api))
    else:
        if current is None:
            raise AgentCommandError(
                f"{agent.key}: no current version to try a candidate against: push it first"
            )
        if current.content_hash == digest:
            return (
                f"{agent.key}: the current version {current.version} is this definition: "
                "nothing to try",
                [],
            )
        old = await deps.repo.in_role(agent.key, "candidate")
        if old is not None and old.content_hash == digest:
            return f"{agent.key}: unchanged (candidate version {old.version})", []
        state = await _candidate_state(agent, deps)
        plan = plan_push(as_candidate(agent), deps.target, state)
    pushed = await run_plan(plan, api)
    role: AgentRole = "candidate" if candidate else "current"
    version = await _record(agent.key, digest, pushed, deps, note=note, role=role)
    return (
        f"{agent.key}: version {version.version} pushed{' as candidate' * candidate}, "
        f"assistant {version.vapi_assistant_id}, {len(plan.steps)} request(s)"
    ), pushed.warnings


async def set_role(agent: str, action: Literal["promote", "retire"], deps: AgentDeps) -> str:
    """Promote the agent's candidate to current (the current is retired) or retire it."""
    if deps.repo is None:
        raise AgentCommandError(f"{action} changes the recorded versions: configure a database")
    changed = await deps.repo.set_role(agent, action)
    if not changed:
        raise AgentCommandError(f"{agent}: no candidate version (push one with --candidate)")
    return f"{agent}: " + ", ".join(f"version {v.version} is {v.role}" for v in changed)


async def _record(
    key: str,
    digest: str,
    pushed: Pushed,
    deps: AgentDeps,
    note: str,
    role: AgentRole = "current",
) -> AgentVersion:
    assert deps.repo is not None and pushed.state.assistant_id
    definition = {"assistant": pushed.body, "vapi": pushed.state.document()}
    return await deps.repo.record_version(
        key,
        digest,
        pushed.state.assistant_id,
        pushed.vapi_version,
        definition,
        note,
        deps.clock.now(),
        role,
    )


def _project(live: Any, wanted: Any) -> Any:
    """`live` cut down to the shape of `wanted` (keys it sets; lists element by element)."""
    if isinstance(wanted, dict) and isinstance(live, dict):
        return {k: _project(live.get(k), v) for k, v in wanted.items()}
    if isinstance(wanted, list) and isinstance(live, list):
        return [_project(lv, wv) for lv, wv in zip(live, wanted, strict=False)] + live[
            len(wanted) :
        ]
    return live


def _text(value: Any) -> list[str]:
    return json.dumps(redacted(value), indent=2, sort_keys=True).splitlines()


async def diff(agent: Agent, deps: AgentDeps, api: VapiAssistantsApi) -> list[str]:
    """A unified diff live → repository; empty when they agree."""
    state = await _state(agent, deps, api)
    if not state.assistant_id:
        raise AgentCommandError(
            f"{agent.key}: no assistant named {agent.spec.name!r} in Vapi "
            "yet: `nightshift agents push` creates it"
        )
    live = await api.get_assistant(state.assistant_id)
    if live is None:
        raise AgentCommandError(f"{agent.key}: Vapi does not know assistant {state.assistant_id}")
    refs = {QUERY_TOOL: state.query_tool_id} if state.query_tool_id else {}
    plan: Plan = plan_push(agent, deps.target, state)
    wanted = resolve(plan.body, refs)
    return list(
        difflib.unified_diff(
            _text(_project(live, wanted)),
            _text(wanted),
            f"vapi:{agent.key} ({state.assistant_id})",
            f"agents/{agent.key}.yaml",
            lineterm="",
        )
    )


async def rollback(
    agent: Agent, version: int, deps: AgentDeps, api: VapiAssistantsApi | None
) -> tuple[str, list[str]]:
    """Send `version` again (api None: the dry run's request lines)."""
    if deps.repo is None:
        raise AgentCommandError("rollback reads the recorded versions: configure a database")
    versions = await deps.repo.versions(agent.key)
    old = next((v for v in versions if v.version == version), None)
    if old is None or not versions:
        raise AgentCommandError(
            f"{agent.key}: no version {version} "
            f"(known: {', '.join(str(v.version) for v in versions) or 'none'})"
        )
    current = next((v for v in versions if v.role == "current"), versions[0])
    state = VapiState.stored(current.definition) or VapiState()
    if not state.assistant_id:
        raise AgentCommandError(f"{agent.key}: the latest version has no Vapi assistant id")
    body = dict(old.definition.get("assistant") or {})
    body["server"] = deps.target.server
    if state.query_tool_id and isinstance(body.get("model"), dict):
        body["model"] = {**body["model"], "toolIds": [state.query_tool_id]}
    request = ApiRequest("PATCH", f"/assistant/{state.assistant_id}", json=body)
    if api is None:
        step = Step(f"roll {agent.key} back to version {version}", request)
        return f"{agent.key}: rollback to version {version} (dry run)", show_step(
            step, deps.base_url
        )
    answer = await api.send(request)
    vapi_version = (answer or {}).get("latestVersion") if isinstance(answer, dict) else None
    pushed = Pushed(
        replace(state), redacted(body), str(vapi_version) if vapi_version is not None else None, []
    )
    recorded = await _record(
        agent.key, old.content_hash, pushed, deps, note=f"rollback to version {version}"
    )
    return f"{agent.key}: version {recorded.version} = version {version} again", []
