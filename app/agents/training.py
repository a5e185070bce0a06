"""The training loop: build the training documents from ended calls, version them, publish
them into the agents' knowledge base (docs/agents.md "The training loop").

Contract:
- `build_training(deps)` reads the answered calls of the last 90 days, builds
  `objection_responses.md` and `call_handling_playbook.md` (app.scoring.playbook: redacted)
  and records them as a new `training_builds` version only when their content changed;
  returns the new build or None; an hourly run with nothing new to read (the same
  `training_inputs` key as the latest build's) does not build them;
- `with_training(agent, build)`: the agent with the build's documents added to its
  knowledge (agents without knowledge have no query tool and get nothing): every push
  carries the published build, so a later `nightshift agents push` keeps it;
- `publish(build, agents, deps, api)` pushes each such agent with the build (app.agents'
  push plan: upload the new files, PATCH the query tool's `fileIds`, PATCH the assistant,
  DELETE the replaced files) and marks the build published with the versions it became;
- `train(deps, auto)` is the growth job's step: build, then (AGENTS_AUTO_PUBLISH, `auto`
  given) publish the newest build while it is unpublished — a publish that failed is
  tried again next hour.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from app.agents.definition import Agent, KnowledgeFile, load_agents
from app.agents.render import Target
from app.agents.service import AgentDeps, push
from app.core.clock import Clock
from app.core.settings import Settings
from app.db.agents import AgentRepository, TrainingBuild
from app.providers.vapi_assistants import VapiAssistantsApi
from app.scoring.playbook import training_documents, training_inputs


@dataclass(frozen=True)
class TrainingDeps:
    repo: AgentRepository
    clock: Clock
    timezone: str  # BUSINESS_TIMEZONE: the playbook's hours


def documents_hash(documents: dict[str, str]) -> str:
    canonical = json.dumps(documents, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def build_training(deps: TrainingDeps) -> TrainingBuild | None:
    """Build and record the documents; the new version, or None when nothing changed.

    Not built at all when what they would be built from has the key the latest build
    recorded (no call ended, changed or left the window since). The key is taken before
    the read: a call changing during the build changes the next run's key (calls are never
    deleted: an erasure updates them), so that run builds again."""
    now = deps.clock.now()
    key, latest = await training_inputs(deps.repo, now, deps.timezone)
    if key == latest:
        return None
    documents, count = await training_documents(deps.repo, now, deps.timezone)
    return await deps.repo.record_training(documents_hash(documents), documents, count, now, key)


def with_training(agent: Agent, build: TrainingBuild | None) -> Agent:
    """`agent` carrying the build's documents in its knowledge (see the module contract)."""
    if build is None or not agent.knowledge:
        return agent
    names = set(build.documents)
    kept = [f for f in agent.knowledge if f.name not in names]
    added = [KnowledgeFile(n, build.documents[n].encode()) for n in sorted(names)]
    return replace(agent, knowledge=kept + added)


def publish_target(settings: Settings) -> Target:
    secret = settings.vapi_webhook_secret
    return Target(settings.public_base_url, secret.get_secret_value() if secret else None)


async def publish(
    build: TrainingBuild, agents: list[Agent], deps: AgentDeps, api: VapiAssistantsApi
) -> list[str]:
    """Push every agent with knowledge carrying `build`; the summaries and warnings."""
    assert deps.repo is not None
    lines, versions = [], {}
    for agent in agents:
        if not agent.knowledge:
            continue
        note = f"training version {build.version}"
        summary, warnings = await push(with_training(agent, build), deps, api, note=note)
        lines += [summary, *(f"warning: {w}" for w in warnings)]
        latest = await deps.repo.in_role(agent.key, "current")
        if latest is not None:
            versions[agent.key] = latest.version
    await deps.repo.mark_training_published(build.version, versions, deps.clock.now())
    return lines


@dataclass(frozen=True)
class AutoPublish:
    """What publishing needs (AGENTS_AUTO_PUBLISH=1 with a VAPI_API_KEY)."""

    agents_dir: Path
    deps: AgentDeps
    api: VapiAssistantsApi


async def train(deps: TrainingDeps, auto: AutoPublish | None) -> dict[str, Any]:
    """The growth step (see the module contract); its counts."""
    build = await build_training(deps)
    newest = build or next(iter(await deps.repo.training_builds(1)), None)
    counts: dict[str, Any] = {
        "training_version": newest.version if newest else None,
        "training_changed": build is not None,
        "training_published": None,
    }
    if auto is not None and newest is not None and newest.published_at is None:
        agents = list(load_agents(auto.agents_dir).values())
        await publish(newest, agents, auto.deps, auto.api)
        counts["training_published"] = newest.version
    return counts
