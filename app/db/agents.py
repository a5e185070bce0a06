"""The agents repository: pushed agent versions and the agents' external calendar bookings.

Functions: supabase/schemas/12_agents.sql.
- `record_version` numbers pushes per agent (1, 2, ...) under a lock;
- a version's role: `current` (answers and places the agent's calls), `candidate` (its own
  Vapi assistant, sharing the calls by Thompson sampling) or `retired` (no calls); recording
  a version in a role retires the version that held it;
- `vapi_id(agent, campaign)` is the current version's Vapi id of an agent, or of the agent a
  campaign chose (its definition's `assistant`); None when never pushed;
- `live_versions` (the current, then the candidate, with their calls' figures only when a
  candidate exists), `version_stats` (every live version and every retired one with calls),
  `assign_call` / `choose_inbound` (the version of an outbound / inbound call) and
  `set_role` (promote, retire) serve the version trials (docs/agents.md);
- calendar bookings are keyed by tool call, so a retried tool call finds its booking;
- training builds (the growth job's objection_responses.md and call_handling_playbook.md):
  `record_training` stores a build only when its content changed (None otherwise),
  `training_inputs` keys what a build would read (a build is skipped when it is unchanged),
  `training_diff` is the unified diff of the last two builds (the console shows it).
"""

from __future__ import annotations

import difflib
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from app.db.models import Model
from app.db.transport import Transport

CalendarStatus = Literal["booked", "failed", "cancelled"]
AgentRole = Literal["current", "candidate", "retired"]


class AgentVersion(Model):
    agent: str
    version: int
    content_hash: str
    vapi_assistant_id: str
    vapi_version: str | None = None
    definition: dict[str, Any]
    note: str | None = None
    pushed_at: datetime
    role: AgentRole = "current"


class VersionCalls(Model):
    """A version and what its calls (end-of-call report received) have shown."""

    agent: str
    role: AgentRole
    version: int
    vapi_assistant_id: str
    pushed_at: datetime | None = None
    calls: int = 0
    answered: int = 0
    booked: int = 0
    quality_sum: float = 0.0  # call quality, 0-100
    quality_n: int = 0


class CalendarBooking(Model):
    key: str
    provider: str
    external_uid: str | None = None
    appointment_id: int | None = None
    status: CalendarStatus
    starts_at: datetime
    error: str | None = None


class TrainingCall(Model):
    """An answered call the training documents learn from (`training_calls`)."""

    call_id: int
    outcome: str
    hour: int
    duration_seconds: float | None = None
    transcript: str | None = None
    analysis: dict[str, Any] = Field(default_factory=dict)


class TrainingBuild(Model):
    version: int
    sha256: str
    documents: dict[str, str]
    calls: int
    built_at: datetime
    published_at: datetime | None = None
    published: dict[str, int] | None = None


class AgentRepository:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def record_version(
        self,
        agent: str,
        content_hash: str,
        vapi_assistant_id: str,
        vapi_version: str | None,
        definition: dict[str, Any],
        note: str | None,
        now: datetime,
        role: AgentRole = "current",
    ) -> AgentVersion:
        rows = await self.transport.call(
            "agent_record_version",
            {
                "p_agent": agent, "p_content_hash": content_hash,
                "p_vapi_assistant_id": vapi_assistant_id, "p_vapi_version": vapi_version,
                "p_definition": definition, "p_note": note, "p_now": now, "p_role": role,
            },
        )  # fmt: skip
        return AgentVersion.model_validate(rows[0])

    async def versions(self, agent: str | None) -> list[AgentVersion]:
        """An agent's versions, newest first; None: the latest version of every agent."""
        rows = await self.transport.call("agent_versions_of", {"p_agent": agent})
        return [AgentVersion.model_validate(row) for row in rows]

    async def latest(self, agent: str) -> AgentVersion | None:
        found = await self.versions(agent)
        return found[0] if found else None

    async def in_role(self, agent: str, role: AgentRole) -> AgentVersion | None:
        """The agent's newest version in `role` (at most one is current or candidate)."""
        return next((v for v in await self.versions(agent) if v.role == role), None)

    async def live_versions(
        self, agent: str | None, campaign: str | None = None
    ) -> list[VersionCalls]:
        rows = await self.transport.call(
            "agent_live_versions", {"p_agent": agent, "p_campaign": campaign}
        )
        return [VersionCalls.model_validate(row) for row in rows]

    async def version_stats(self, agent: str | None = None) -> list[VersionCalls]:
        rows = await self.transport.call("agent_version_stats", {"p_agent": agent})
        return [VersionCalls.model_validate(row) for row in rows]

    async def assign_call(self, call_id: int, agent: str, version: int) -> int | None:
        """Record `version` on the call's row; the version the row keeps (a row claimed
        again keeps its first live choice); None when there is no such row."""
        rows = await self.transport.call(
            "agent_call_assign", {"p_call": call_id, "p_agent": agent, "p_version": version}
        )
        value = rows[0].get("agent_call_assign") if rows else None
        return int(value) if value is not None else None

    async def choose_inbound(
        self, vapi_call_id: str, agent: str, version: int, now: datetime
    ) -> None:
        await self.transport.call(
            "agent_choose_inbound",
            {"p_vapi_call_id": vapi_call_id, "p_agent": agent, "p_version": version,
             "p_now": now},
        )  # fmt: skip

    async def set_role(
        self, agent: str, action: Literal["promote", "retire"]
    ) -> list[AgentVersion]:
        """Promote or retire the agent's candidate; the rows changed (none: no candidate)."""
        rows = await self.transport.call("agent_set_role", {"p_agent": agent, "p_action": action})
        return [AgentVersion.model_validate(row) for row in rows]

    async def vapi_id(self, agent: str | None, campaign: str | None = None) -> str | None:
        rows = await self.transport.call(
            "agent_vapi_id", {"p_agent": agent, "p_campaign": campaign}
        )
        value = rows[0].get("agent_vapi_id") if rows else None
        return str(value) if value else None

    async def calendar_booking(self, key: str) -> CalendarBooking | None:
        rows = await self.transport.call("calendar_booking_get", {"p_key": key})
        return CalendarBooking.model_validate(rows[0]) if rows else None

    async def put_calendar_booking(
        self,
        key: str,
        provider: str,
        status: CalendarStatus,
        starts_at: datetime,
        now: datetime,
        *,
        external_uid: str | None = None,
        appointment_id: int | None = None,
        error: str | None = None,
    ) -> CalendarBooking:
        rows = await self.transport.call(
            "calendar_booking_put",
            {
                "p_key": key, "p_provider": provider, "p_external_uid": external_uid,
                "p_appointment_id": appointment_id, "p_status": status,
                "p_starts_at": starts_at, "p_error": error, "p_now": now,
            },
        )  # fmt: skip
        return CalendarBooking.model_validate(rows[0])

    async def training_calls(
        self, since: datetime, now: datetime, timezone: str, limit: int
    ) -> list[TrainingCall]:
        rows = await self.transport.call(
            "training_calls",
            {"p_since": since, "p_now": now, "p_timezone": timezone, "p_limit": limit},
        )
        return [TrainingCall.model_validate(row) for row in rows]

    async def training_inputs(
        self, since: datetime, now: datetime, limit: int
    ) -> tuple[str, str | None]:
        """An md5 of the (id, row version) of the calls `training_calls(since, now, _, limit)`
        returns (any update of one changes it), and the latest build's `inputs`."""
        rows = await self.transport.call(
            "training_inputs", {"p_since": since, "p_now": now, "p_limit": limit}
        )
        return str(rows[0]["calls"]), rows[0]["latest"]

    async def record_training(
        self, sha256: str, documents: dict[str, str], calls: int, now: datetime,
        inputs: str | None = None,
    ) -> TrainingBuild | None:  # fmt: skip
        """The new build, or None when the latest build has the same content; either way
        the latest build's `inputs` is then `inputs` (the key of what it was built from)."""
        rows = await self.transport.call(
            "training_build_record",
            {"p_sha256": sha256, "p_documents": documents, "p_calls": calls, "p_now": now,
             "p_inputs": inputs},
        )  # fmt: skip
        return TrainingBuild.model_validate(rows[0]) if rows else None

    async def training_builds(self, limit: int = 2) -> list[TrainingBuild]:
        """The newest builds, newest first."""
        rows = await self.transport.call("training_builds_latest", {"p_limit": limit})
        return [TrainingBuild.model_validate(row) for row in rows]

    async def published_training(self) -> TrainingBuild | None:
        rows = await self.transport.call("training_build_published", {})
        return TrainingBuild.model_validate(rows[0]) if rows else None

    async def mark_training_published(
        self, version: int, published: dict[str, int], now: datetime
    ) -> None:
        await self.transport.call(
            "training_build_mark_published",
            {"p_version": version, "p_published": published, "p_now": now},
        )

    async def training_diff(self) -> list[str]:
        """The unified diff of the last two builds' documents (the first build against
        nothing); empty when there is no build."""
        builds = await self.training_builds(2)
        if not builds:
            return []
        new, old = builds[0], builds[1] if len(builds) > 1 else None
        lines: list[str] = []
        for name in sorted(set(new.documents) | set(old.documents if old else {})):
            before = (old.documents.get(name, "") if old else "").splitlines()
            after = new.documents.get(name, "").splitlines()
            label = f"{name} (version {old.version})" if old else f"{name} (none)"
            lines += difflib.unified_diff(
                before, after, label, f"{name} (version {new.version})", lineterm=""
            )
        return lines
