"""Pydantic models the repositories take and return."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

RunStatus = Literal["running", "succeeded", "failed", "skipped", "abandoned"]
LogLevel = Literal["debug", "info", "warning", "error", "critical"]


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class RunStart(Model):
    run_id: UUID
    status: Literal["running", "skipped"]
    blocked_by: UUID | None = None
    lease_expires_at: datetime | None = None


class JobRun(Model):
    id: UUID
    job: str
    status: RunStatus
    holder: str | None = None
    started_at: datetime
    finished_at: datetime | None = None
    counts: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    modal_call_id: str | None = None


class JobState(Model):
    """The latest run of one job, as `job_status()` reports it."""

    job: str
    run_id: UUID
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None = None
    counts: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    last_success_at: datetime | None = None
    lease_holder: str | None = None
    lease_expires_at: datetime | None = None


class SystemLog(Model):
    id: int
    at: datetime
    level: LogLevel
    source: str
    message: str
    context: dict[str, Any] = Field(default_factory=dict)
    run_id: UUID | None = None


class LeadIn(Model):
    """A lead as the importers hand it over (already normalised)."""

    name: str | None = None
    phone: str | None = None
    email: str | None = None
    company: str | None = None
    industry: str | None = None
    state: str | None = None
    timezone: str | None = None
    source: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class UpsertCounts(Model):
    inserted: int
    updated: int


class LeadCounts(Model):
    total: int
    by_status: dict[str, int] = Field(default_factory=dict)


class DbPing(Model):
    server_time: datetime
    server_version: str
