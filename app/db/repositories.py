"""Typed repositories over the Transport port: pydantic models in, pydantic models out.

They do not know which transport is underneath; each method is one function call, one
round trip, and batches go in as jsonb arrays. The functions of this module's repositories
(leads, job runs, system logs) are in supabase/schemas/01_core.sql.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from app.db.agents import AgentRepository
from app.db.alerts import AlertRepository
from app.db.appointments import AppointmentRepository
from app.db.campaigns import CampaignRepository, ManagerRepository
from app.db.consent import ConsentRepository
from app.db.failures import FailureLog
from app.db.job_runs import RunRequest, begin_args
from app.db.models import (
    DbPing,
    ImportOutcome,
    JobState,
    LeadCounts,
    LeadIn,
    LogLevel,
    RunStart,
    SystemLog,
    UpsertCounts,
)
from app.db.outbox import OutboxRepository
from app.db.scoring import ScoringRepository
from app.db.transport import Transport
from app.db.webhooks import WebhookRepository


class _Repository:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport


class HealthRepository(_Repository):
    async def ping(self) -> DbPing:
        rows = await self.transport.call("db_ping")
        return DbPing.model_validate(rows[0])


class JobRunRepository(_Repository):
    async def start(
        self,
        job: str,
        run_id: UUID,
        holder: str,
        lease_seconds: int,
        now: datetime,
        modal_call_id: str | None = None,
    ) -> RunStart:
        """Take the job's lease and record the run, or record it as skipped (atomic)."""
        run = RunRequest(job, run_id, holder, lease_seconds, now, modal_call_id)
        rows = await self.transport.call("start_job_run", begin_args(run))
        return RunStart.model_validate(rows[0])

    async def renew(self, job: str, run_id: UUID, lease_seconds: int, now: datetime) -> bool:
        """Extend the lease run `run_id` holds to now + lease_seconds; False when it lost it."""
        rows = await self.transport.call(
            "renew_job_lease",
            {"p_job": job, "p_run_id": run_id, "p_lease_seconds": lease_seconds, "p_now": now},
        )
        return bool(rows[0]["renew_job_lease"])

    async def finish(
        self,
        run_id: UUID,
        status: str,
        now: datetime,
        counts: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """Record how run `run_id` ended and release its lease (a failure also goes to
        system_logs); the run's row is not read back (nothing needs it)."""
        await self.transport.call(
            "finish_job_run",
            {
                "p_run_id": run_id,
                "p_status": status,
                "p_counts": counts or {},
                "p_error": error,
                "p_now": now,
            },
        )

    async def status(self, now: datetime, jobs: Sequence[str]) -> list[JobState]:
        """The latest run of each job named in `jobs` (the registry's), one lookup each."""
        rows = await self.transport.call("job_status", {"p_now": now, "p_jobs": list(jobs)})
        return [JobState.model_validate(row) for row in rows]


class LogRepository(_Repository):
    async def write(
        self,
        level: LogLevel,
        source: str,
        message: str,
        now: datetime,
        context: dict[str, Any] | None = None,
        run_id: UUID | None = None,
    ) -> int:
        rows = await self.transport.call(
            "write_system_log",
            {
                "p_level": level,
                "p_source": source,
                "p_message": message,
                "p_context": context or {},
                "p_run_id": run_id,
                "p_now": now,
            },
        )
        return int(rows[0]["write_system_log"])

    async def recent(self, limit: int = 50, min_level: LogLevel = "info") -> list[SystemLog]:
        rows = await self.transport.call(
            "recent_system_logs", {"p_limit": limit, "p_min_level": min_level}
        )
        return [SystemLog.model_validate(row) for row in rows]


class LeadRepository(_Repository):
    async def upsert(self, leads: Sequence[LeadIn], now: datetime) -> UpsertCounts:
        """Insert or merge (on phone, else email) a batch of leads in one round trip, with
        their `consents`."""
        payload = [lead.model_dump(mode="json", exclude_none=True) for lead in leads]
        rows = await self.transport.call("upsert_leads", {"p_leads": payload, "p_now": now})
        return UpsertCounts.model_validate(rows[0])

    async def import_rows(
        self, leads: Sequence[LeadIn], now: datetime, *, dry_run: bool = False
    ) -> list[ImportOutcome]:
        """Create or merge a batch of imported leads in one round trip, each row's outcome in
        order (supabase/schemas/01_core.sql `import_leads`); `dry_run`: nothing is written."""
        payload = [lead.model_dump(exclude_none=True) for lead in leads]
        rows = await self.transport.call(
            "import_leads", {"p_leads": payload, "p_now": now, "p_dry_run": dry_run}
        )
        return sorted((ImportOutcome.model_validate(row) for row in rows), key=lambda o: o.idx)

    async def counts(self) -> LeadCounts:
        rows = await self.transport.call("count_leads")
        return LeadCounts.model_validate(rows[0])


class Repositories:
    """Every repository, over one transport."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.health = HealthRepository(transport)
        self.job_runs = JobRunRepository(transport)
        self.logs = LogRepository(transport)
        self.failures = FailureLog(transport)
        self.leads = LeadRepository(transport)
        self.consent = ConsentRepository(transport)
        self.outbox = OutboxRepository(transport)
        self.webhooks = WebhookRepository(transport)
        self.campaigns = CampaignRepository(transport)
        self.manager = ManagerRepository(transport)
        self.alerts = AlertRepository(transport)
        self.scoring = ScoringRepository(transport)
        self.appointments = AppointmentRepository(transport)
        self.agents = AgentRepository(transport)
