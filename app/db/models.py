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
    code: str | None = None  # a failure's stable shape (app/db/failures.py)
    key: str | None = None
    lead_id: int | None = None


ConsentChannel = Literal["sms", "email", "calls", "ai_voice"]
ConsentSource = Literal["import", "booking_form", "inbound_call", "web_form", "operator"]


class ConsentIn(Model):
    """A consent to record for a lead (supabase/schemas/13_consent.sql): the channel, how it
    was given, when (None: now), and the words agreed to or where they stand."""

    channel: ConsentChannel
    source: ConsentSource
    granted_at: datetime | None = None
    text: str | None = None
    url: str | None = None


class LeadIn(Model):
    """A lead as the importers hand it over (already normalised); `consents` are recorded
    with it (a channel already on record keeps its first grant)."""

    name: str | None = None
    phone: str | None = None
    email: str | None = None
    company: str | None = None
    industry: str | None = None
    state: str | None = None
    timezone: str | None = None
    source: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    consents: list[ConsentIn] = Field(default_factory=list)


class UpsertCounts(Model):
    inserted: int
    updated: int


class MergeChange(Model):
    """One field of an import merge (`import_leads`): `added` (was empty), `kept` (the lead's
    value kept, the file's differs; a phone/email is also `saved_as` other_phones/_emails),
    `conflict` (the file's email belongs to `other_lead`), `updated` (replaced by the file's)."""

    field: str
    change: Literal["added", "kept", "conflict", "updated"]
    kept: str | None = None
    file: str | None = None
    saved_as: str | None = None
    other_lead: int | None = None


class ImportOutcome(Model):
    """What `import_leads` did (or, in a dry run, would do) with the batch's row `idx`."""

    idx: int
    action: Literal["created", "merged", "skipped"]  # skipped: refused by a trigger (erased)
    lead_id: int | None = None
    matched_on: Literal["phone", "email"] | None = None
    changes: list[MergeChange] = Field(default_factory=list)


class LeadCounts(Model):
    total: int
    by_status: dict[str, int] = Field(default_factory=dict)


class DbPing(Model):
    server_time: datetime
    server_version: str
