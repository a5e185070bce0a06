"""The alerts and guardian repository (functions in supabase/schemas/05_alerts.sql).

Contract: one Postgres function per method, one round trip each, the caller's clock as `now`.
- `raise_` is raise-or-dedupe in one statement: a firing alert with the key only counts;
- `flush_reads` says what must be sent now (new, repeat, escalate, resolved) and which
  alert messages are still to deliver, in one call (`guardian_reads` can read the same with
  the guardian's other reads: `FlushParams`);
- `record_notifications` writes the outbox rows and the alerts' bookkeeping atomically;
- `record_health_check` and `record_restart` decide (failures in a row, restart allowed) in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from app.db.models import JobState, Model
from app.db.outbox import MessageIn
from app.db.transport import Transport

Severity = Literal["info", "warning", "critical"]
Reason = Literal["new", "repeat", "escalate", "resolved"]


class Alert(Model):
    id: int
    key: str
    severity: Severity
    status: Literal["firing", "resolved"]
    code: str
    title: str
    details: dict[str, Any] = Field(default_factory=dict)
    count: int
    first_seen_at: datetime
    last_seen_at: datetime
    last_notified_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    escalated_at: datetime | None = None
    escalate_due_at: datetime | None = None
    resolved_at: datetime | None = None
    resolve_notified_at: datetime | None = None
    notified_channels: list[str] = Field(default_factory=list)
    notifications: int = 0


class Raised(Model):
    created: bool
    alert: Alert


class DueNotification(Model):
    reason: Reason
    alert: Alert


class ListedAlert(Model):
    alert: Alert
    silenced: bool


class Silence(Model):
    key: str
    until: datetime
    reason: str | None = None


class SmsCount(Model):
    phone: str
    sent: int
    summary_sent: bool


class NotifiedAlert(Model):
    """One alert's part in a notification batch."""

    id: int
    reason: Reason
    channels: list[str]


class PendingMessage(Model):
    message_id: int
    channel: Literal["email", "sms"]


class ProbeRecord(Model):
    id: int
    consecutive_failures: int


class RestartDecision(Model):
    allowed: bool
    restarts_last_hour: int


class Fingerprint(Model):
    fingerprint: str
    occurrences: int
    sample: str


class CallbackGap(Model):
    """A provider that was sent through in a window, and when its latest event arrived."""

    provider: str
    sends: int
    last_event_at: datetime | None = None


class FlushReads(Model):
    """A flush's reads at one instant, from one call (`alert_flush_reads`): the notifications
    due and the alert rows still to deliver."""

    due: list[DueNotification]
    pending: list[PendingMessage]


@dataclass(frozen=True)
class FlushParams:
    """What decides which notifications are due and which rows wait (`alert_flush_reads`'
    arguments but the instant): the grouping hold, the repeat intervals by severity, whether
    escalation phones exist, and when a send stuck in `sending` is taken again."""

    hold_seconds: int
    repeat_warning_seconds: int
    repeat_critical_seconds: int
    escalate: bool
    reclaim_after_seconds: int = 600

    def args(self) -> dict[str, Any]:
        return {
            "p_hold_seconds": self.hold_seconds,
            "p_repeat_warning_seconds": self.repeat_warning_seconds,
            "p_repeat_critical_seconds": self.repeat_critical_seconds,
            "p_escalate": self.escalate,
            "p_reclaim_after_seconds": self.reclaim_after_seconds,
        }


class GuardianReads(Model):
    """What one guardian run reads, from one call (`guardian_reads`): the database probe's
    record (written by that call), the firing alerts' keys, the jobs' states, the callback
    gaps, the new error fingerprints and, when asked, the flush's reads at the same instant."""

    database: ProbeRecord
    firing: frozenset[str]
    jobs: list[JobState]
    gaps: list[CallbackGap]
    fingerprints: list[Fingerprint]
    flush: FlushReads | None = None


class AlertRepository:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def _call(self, function: str, args: dict[str, Any]) -> list[dict[str, Any]]:
        return await self.transport.call(function, args)

    # --- alerts ---------------------------------------------------------------------------
    async def raise_(
        self,
        key: str,
        severity: Severity,
        title: str,
        details: dict[str, Any],
        now: datetime,
        *,
        escalate_after_seconds: int = 900,
        escalate_now: bool = False,
    ) -> Raised:
        rows = await self._call(
            "alert_raise",
            {
                "p_key": key,
                "p_severity": severity,
                "p_title": title,
                "p_details": details,
                "p_escalate_after_seconds": escalate_after_seconds,
                "p_escalate_now": escalate_now,
                "p_now": now,
            },
        )
        return Raised.model_validate(rows[0])

    async def resolve(self, key: str, now: datetime) -> Alert | None:
        rows = await self._call("alert_resolve", {"p_key": key, "p_now": now})
        return Alert.model_validate(rows[0]) if rows else None

    async def acknowledge(self, code: str, by: str, now: datetime) -> Alert | None:
        rows = await self._call("alert_acknowledge", {"p_code": code, "p_by": by, "p_now": now})
        return Alert.model_validate(rows[0]) if rows else None

    async def by_key(self, key: str) -> Alert | None:
        """The latest alert (firing or resolved) with the key."""
        rows = await self._call("alert_by_key", {"p_key": key})
        return Alert.model_validate(rows[0]) if rows else None

    async def list_alerts(
        self, now: datetime, *, include_resolved: bool = False, limit: int = 50
    ) -> list[ListedAlert]:
        rows = await self._call(
            "alerts_list",
            {"p_include_resolved": include_resolved, "p_limit": limit, "p_now": now},
        )
        return [ListedAlert.model_validate(row) for row in rows]

    async def silence(
        self, key: str, until: datetime, now: datetime, reason: str | None = None
    ) -> Silence:
        rows = await self._call(
            "alert_silence", {"p_key": key, "p_until": until, "p_reason": reason, "p_now": now}
        )
        return Silence.model_validate(rows[0])

    async def active_silences(self, now: datetime) -> list[Silence]:
        rows = await self._call("alert_silences_active", {"p_now": now})
        return [Silence.model_validate(row) for row in rows]

    # --- notifications --------------------------------------------------------------------
    async def flush_reads(self, now: datetime, params: FlushParams) -> FlushReads:
        """The notifications due (alert_notifications_due) and the pending messages
        (`pending_messages`) at the same instant, in one round trip."""
        rows = await self._call("alert_flush_reads", {**params.args(), "p_now": now})
        return FlushReads.model_validate(rows[0]["alert_flush_reads"])

    async def record_notifications(
        self, messages: list[MessageIn], alerts: list[NotifiedAlert], now: datetime
    ) -> list[int]:
        """Enqueue the messages and mark the alerts notified, in one transaction."""
        batch = {
            "messages": [m.model_dump(mode="json") for m in messages],
            "alerts": [a.model_dump(mode="json") for a in alerts],
        }
        rows = await self._call("alert_record_notifications", {"p_batch": batch, "p_now": now})
        return [int(row["message_id"]) for row in rows]

    async def pending_messages(
        self, now: datetime, reclaim_after_seconds: int = 600
    ) -> list[PendingMessage]:
        """Alert rows still to deliver (queued, or stuck in sending), oldest first."""
        rows = await self._call(
            "alert_pending_messages",
            {"p_reclaim_after_seconds": reclaim_after_seconds, "p_now": now},
        )
        return [PendingMessage.model_validate(row) for row in rows]

    async def sms_counts(self, phones: list[str], since: datetime) -> dict[str, SmsCount]:
        rows = await self._call("alert_sms_counts", {"p_phones": phones, "p_since": since})
        counts = [SmsCount.model_validate(row) for row in rows]
        return {c.phone: c for c in counts}

    async def record_direct(
        self,
        key: str,
        severity: Severity,
        title: str,
        details: dict[str, Any],
        channels: list[str],
        sent_at: datetime,
        now: datetime,
    ) -> Alert:
        rows = await self._call(
            "alert_record_direct",
            {
                "p_key": key,
                "p_severity": severity,
                "p_title": title,
                "p_details": details,
                "p_channels": channels,
                "p_sent_at": sent_at,
                "p_now": now,
            },
        )
        return Alert.model_validate(rows[0])

    # --- guardian -------------------------------------------------------------------------
    async def record_health_check(
        self,
        target: str,
        ok: bool,
        now: datetime,
        *,
        latency_ms: int | None = None,
        status_code: int | None = None,
        error: str | None = None,
    ) -> ProbeRecord:
        rows = await self._call(
            "record_health_check",
            {
                "p_target": target,
                "p_ok": ok,
                "p_latency_ms": latency_ms,
                "p_status_code": status_code,
                "p_error": error,
                "p_now": now,
            },
        )
        return ProbeRecord.model_validate(rows[0])

    async def callback_gaps(self, since: datetime, until: datetime) -> list[CallbackGap]:
        """Per provider sent through in [since, until): the sends and its latest event."""
        rows = await self._call("callback_gaps", {"p_from": since, "p_to": until})
        return [CallbackGap.model_validate(row) for row in rows]

    async def record_restart(
        self, job: str, max_per_hour: int, reason: str, now: datetime
    ) -> RestartDecision:
        rows = await self._call(
            "record_job_restart",
            {"p_job": job, "p_max_per_hour": max_per_hour, "p_reason": reason, "p_now": now},
        )
        return RestartDecision.model_validate(rows[0])

    async def new_error_fingerprints(
        self,
        now: datetime,
        *,
        min_count: int,
        window_seconds: int = 3600,
        lookback_seconds: int = 7 * 86400,
    ) -> list[Fingerprint]:
        rows = await self._call(
            "new_error_fingerprints",
            {
                "p_window_seconds": window_seconds,
                "p_min_count": min_count,
                "p_lookback_seconds": lookback_seconds,
                "p_now": now,
            },
        )
        return [Fingerprint.model_validate(row) for row in rows]

    async def guardian_reads(
        self,
        now: datetime,
        jobs: Sequence[str],
        gaps: tuple[datetime, datetime],
        *,
        min_count: int,
        database_ms: int | None,
        flush: FlushParams | None = None,
    ) -> GuardianReads:
        """Records the database probe that succeeded in `database_ms` (`record_health_check`),
        then reads `job_status(now, jobs)`, `callback_gaps(*gaps)`, `new_error_fingerprints`
        (one hour new, a week back, more than `min_count`), the firing alerts' keys and, with
        `flush`, the flush's reads (`flush_reads(now, flush)`), in one round trip."""
        rows = await self._call(
            "guardian_reads",
            {"p_now": now, "p_jobs": list(jobs), "p_gaps_from": gaps[0], "p_gaps_to": gaps[1],
             "p_min_count": min_count, "p_database_ms": database_ms,
             **(flush.args() if flush is not None else {})},
        )  # fmt: skip
        return GuardianReads.model_validate(rows[0]["guardian_reads"])
