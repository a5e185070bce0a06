"""Failures in `system_logs`, in one stable shape: the input of failure learning (issue 15).

Contract of `FailureLog.record(...)`:
- one `system_logs` row through `record_failure` with `source` (who failed: `delivery:sms`,
  `webhook:twilio`, `reconcile:vapi`, `job:drip`, ...), `code` (a stable, short reason: a
  provider error code, `provider_unavailable`, `invalid_value`, an exception's type), `key`
  (what failed: an outbox id, a dedupe key, a provider id), `lead` (the lead's id when known)
  and `message` (one line for a human; fingerprinted by the failure learner);
- the run id bound to the log context by `run_job` is attached, so a row says which run;
- it never raises: a failure that cannot be written (the database is the thing that failed)
  is logged to stderr and the caller goes on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import structlog

from app.db.transport import Transport

log = structlog.get_logger(__name__)
FailureLevel = Literal["warning", "error", "critical"]
MESSAGE_LIMIT = 500


@dataclass(frozen=True)
class Failure:
    """One failure, as `record_failure` stores it (see the module docstring)."""

    source: str
    code: str
    message: str
    key: str | None = None
    lead_id: int | None = None
    level: FailureLevel = "error"
    context: dict[str, Any] | None = None


def _run_id() -> uuid.UUID | None:
    raw = structlog.contextvars.get_contextvars().get("run_id")
    try:
        return uuid.UUID(str(raw)) if raw else None
    except ValueError:
        return None


class FailureLog:
    """Writes `Failure`s to `system_logs`; see the module docstring."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def record(self, failure: Failure, now: datetime) -> int | None:
        """The row's id, or None when it could not be written (logged, never raised)."""
        args = {
            "p_source": failure.source, "p_code": failure.code,
            "p_message": failure.message[:MESSAGE_LIMIT], "p_key": failure.key,
            "p_lead_id": failure.lead_id, "p_level": failure.level,
            "p_context": failure.context or {}, "p_run_id": _run_id(), "p_now": now,
        }  # fmt: skip
        try:
            rows = await self.transport.call("record_failure", args)
        except Exception as exc:  # the database may be what failed: stderr keeps the line
            log.error("failure not recorded", source=failure.source, code=failure.code,
                      key=failure.key, error=type(exc).__name__)  # fmt: skip
            return None
        return int(rows[0]["record_failure"])
