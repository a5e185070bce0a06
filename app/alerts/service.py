"""The alert entry points for the whole codebase.

Contract:
- `Alerts.raise_alert(key, severity, title, details)`: records the alert, or, when one with the
  key is firing, counts it (dedupe: nothing new is sent). It does not send: notifications go
  out from `flush_alerts` — the guardian flushes every run, and a job run that created an
  alert flushes at its end (`app/jobs/runner.py`), so alerts raised close together are
  grouped and one a job raises goes out at once, not at the next guardian run.
  `escalate_now` pages the escalation phones with the first notification (used when
  auto-restart gave up).
- `resolve_alert(key)`: resolves the firing alert; the channels that were notified get
  a RESOLVED notification at the next flush.
- `acknowledge(code, by)`: stops repeats and escalation of the firing alert with the code.
- `handle_sms_reply(from_number, body)`: `ACK <code>` from an on-call number (the Twilio
  inbound webhook calls this); returns the reply text, or None when the body is no ACK.
- `silence(key, duration)`: a silenced key (or `prefix*`) is recorded but never sent.
"""

from __future__ import annotations

import re
from collections.abc import Container
from datetime import timedelta
from typing import Any

import structlog

from app.alerts.policy import AlertPolicy
from app.core.clock import Clock
from app.db.alerts import Alert, AlertRepository, Severity, Silence

log = structlog.get_logger(__name__)
FIRING_LIMIT = 100_000  # far above any real count: a key left out would never be resolved
_ACK = re.compile(r"^\s*ACK\s+([A-Za-z0-9]{3,10})\s*[.!]?\s*$", re.IGNORECASE)


class Alerts:
    """The alert entry points (see the module docstring), built once by the composition root
    with the alerts repository, the clock and the policy read from settings."""

    def __init__(self, repo: AlertRepository, clock: Clock, policy: AlertPolicy) -> None:
        self.repo = repo
        self.clock = clock
        self.policy = policy
        # alerts this instance created; `run_job` compares it before and after a run and
        # dispatches at once when it grew (a job's alert never waits for the guardian)
        self.created = 0
        # writes this instance made that can change what is due (raise, resolve, ack,
        # silence): the guardian flushes from its run's first read only when this did not move
        self.changes = 0

    async def raise_alert(
        self,
        key: str,
        severity: Severity,
        title: str,
        details: dict[str, Any] | None = None,
        *,
        escalate_now: bool = False,
    ) -> Alert:
        """Record (or dedupe) the alert `key`; see the module docstring."""
        policy = self.policy
        self.changes += 1
        raised = await self.repo.raise_(
            key,
            severity,
            title,
            details or {},
            self.clock.now(),
            escalate_after_seconds=policy.escalate_after_seconds,
            escalate_now=escalate_now,
        )
        if raised.created:
            self.created += 1
            log.warning("alert raised", key=key, severity=severity, code=raised.alert.code)
        return raised.alert

    async def resolve_alert(
        self, key: str, *, firing: Container[str] | None = None
    ) -> Alert | None:
        """Resolve the firing alert `key`; None when none was firing. `firing`: the keys read
        as firing at the start of a guardian run (`firing_keys`); a key not among them costs no
        round trip (a run resolves ~20 keys, almost never open ones). One raised after that read
        is resolved by the next run."""
        if firing is not None and key not in firing:
            return None
        self.changes += 1
        alert = await self.repo.resolve(key, self.clock.now())
        if alert is not None:
            log.info("alert resolved", key=key, code=alert.code)
        return alert

    async def firing_keys(self) -> frozenset[str]:
        """The keys of every firing alert, in one read."""
        listed = await self.repo.list_alerts(self.clock.now(), limit=FIRING_LIMIT)
        return frozenset(item.alert.key for item in listed)  # alerts_list: firing ones only

    async def acknowledge(self, code: str, by: str) -> Alert | None:
        """Acknowledge the firing alert with `code`; None when no firing alert has it."""
        self.changes += 1
        alert = await self.repo.acknowledge(code, by, self.clock.now())
        if alert is not None:
            log.info("alert acknowledged", key=alert.key, code=alert.code)
        return alert

    async def handle_sms_reply(self, from_number: str, body: str) -> str | None:
        """`ACK <code>` from an on-call phone: acknowledge and return the reply text.
        None when the body is not an ACK (the caller handles it as an ordinary inbound SMS)."""
        match = _ACK.match(body)
        if match is None:
            return None
        policy = self.policy
        if not policy.is_oncall_number(from_number):
            log.warning("ACK from a number that is not on call: ignored")
            return None
        code = match.group(1).upper()
        alert = await self.acknowledge(code, from_number)
        if alert is None:
            return f"nightshift: no firing alert with code {code}."
        return f"nightshift: {alert.key} acknowledged ({code}); repeats stopped."

    async def silence(self, key: str, duration: timedelta, reason: str | None = None) -> Silence:
        """Silence `key` (or every key starting with `prefix` for `prefix*`) for `duration`."""
        now = self.clock.now()
        self.changes += 1
        return await self.repo.silence(key, now + duration, now, reason)
