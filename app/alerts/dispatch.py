"""Sending alert notifications: due → grouped per recipient → storm cap → outbox → delivery.

Contract of `flush_alerts(dispatch, hold=True)` (`dispatch`: an `AlertDispatch`, the
collaborators a flush uses, built by the caller):
- what is due comes from the database (new, repeat, escalate, resolved; silenced keys and
  info alerts never); a new alert waits `hold` = the grouping window, so one that resolves
  inside it sends nothing, and everything due at once goes out as ONE message per recipient;
- the outbox rows (kind 'alert') and the alerts' bookkeeping are written in one transaction,
  with idempotency keys derived from the alerts' state, then delivered through the providers'
  delivery layer: a notification is never sent twice, and a crashed flush is finished by the
  next one (queued alert rows are retried);
- storm cap: a phone that got ALERT_SMS_PER_HOUR alert SMS in the last hour gets one summary
  SMS instead, and what was held back goes to the on-call emails;
- fallback: an email that fails goes by SMS, an SMS that fails goes by email (unless that
  channel was already part of the notification).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import structlog

from app.alerts import render
from app.alerts.policy import EMAIL, ESCALATION, SMS, AlertPolicy
from app.core.clock import Clock
from app.db.alerts import (
    DueNotification,
    FlushParams,
    FlushReads,
    NotifiedAlert,
    PendingMessage,
    Reason,
)
from app.db.outbox import MessageIn, OutboxMessage
from app.db.repositories import Repositories
from app.providers.delivery import OutboxDelivery

log = structlog.get_logger(__name__)
Group = dict[tuple[str, str], list[render.Item]]
Channel = Literal["email", "sms"]


@dataclass(frozen=True)
class AlertDispatch:
    """What a flush uses: the database (alerts and outbox repositories), the outbox delivery,
    the provider name written on each channel's rows (`{"email": ..., "sms": ...}`), the
    routing policy and the clock."""

    repos: Repositories
    delivery: OutboxDelivery
    providers: Mapping[str, str]
    policy: AlertPolicy
    clock: Clock


@dataclass
class FlushReport:
    due: int = 0
    enqueued: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    fallbacks: int = 0


@dataclass
class _Plan:
    groups: Group = field(default_factory=dict)
    channels: dict[tuple[int, Reason], set[str]] = field(default_factory=dict)
    extra: list[MessageIn] = field(default_factory=list)


def flush_params(policy: AlertPolicy, *, hold: bool) -> FlushParams:
    """What a flush reads with (`hold`: wait the grouping window before a first notification)."""
    return FlushParams(
        hold_seconds=policy.hold_seconds if hold else 0,
        repeat_warning_seconds=policy.repeat_warning_seconds,
        repeat_critical_seconds=policy.repeat_critical_seconds,
        escalate=bool(policy.escalation_phones),
    )


async def flush_alerts(
    dispatch: AlertDispatch, *, hold: bool = True, read: FlushReads | None = None
) -> FlushReport:
    """Send every alert notification due now; see the module docstring. `read`: what is due
    and what waits as the caller already read it with `flush_params(policy, hold=hold)` and
    no alert changed since (the guardian's run), else read here."""
    policy, alerts = dispatch.policy, dispatch.repos.alerts
    now = dispatch.clock.now()
    if read is None:  # what is due and what waits, in one round trip
        read = await alerts.flush_reads(now, flush_params(policy, hold=hold))
    due, pending = read.due, read.pending
    report = FlushReport(due=len(due))
    if due:
        plan = _group(policy, due)
        await _apply_storm_cap(dispatch, plan, now)
        messages = [*_messages(plan, dispatch.providers), *plan.extra]
        notified = [
            NotifiedAlert(id=alert_id, reason=reason, channels=sorted(channels))
            for (alert_id, reason), channels in plan.channels.items()
        ]
        ids = await alerts.record_notifications(messages, notified, now)
        report.enqueued = len(ids)
        if not messages:
            log.warning("alerts due but no on-call recipient configured", due=len(due))
        pending = await alerts.pending_messages(dispatch.clock.now())  # with the new rows
    await _deliver_pending(dispatch, report, pending)
    return report


def _group(policy: AlertPolicy, due: list[DueNotification]) -> _Plan:
    plan = _Plan()
    for n in due:
        used = plan.channels.setdefault((n.alert.id, n.reason), set())
        for channel in policy.channels_for(n.reason, n.alert):
            recipients = policy.recipients(channel)
            if recipients:
                used.add(channel)
            for to in recipients:
                plan.groups.setdefault((channel, to), []).append((n.reason, n.alert))
    return plan


async def _apply_storm_cap(dispatch: AlertDispatch, plan: _Plan, now: datetime) -> None:
    policy = dispatch.policy
    phones = sorted({to for (channel, to) in plan.groups if channel in (SMS, ESCALATION)})
    if not phones:
        return
    counts = await dispatch.repos.alerts.sms_counts(phones, now - timedelta(hours=1))
    for (channel, to), items in list(plan.groups.items()):
        count = counts.get(to)
        if channel == EMAIL or count is None or count.sent < policy.sms_per_hour:
            continue
        del plan.groups[(channel, to)]
        log.warning("alert SMS storm cap reached", held_back=len(items), cap=policy.sms_per_hour)
        if not count.summary_sent:
            plan.extra.append(_storm_message(to, len(items), policy.sms_per_hour, now))
            counts[to] = count.model_copy(update={"summary_sent": True})
        _divert_to_email(policy, plan, items)


def _divert_to_email(policy: AlertPolicy, plan: _Plan, items: list[render.Item]) -> None:
    for email in policy.emails:
        group = plan.groups.setdefault((EMAIL, email), [])
        for item in items:
            if all(item[1].id != other[1].id or item[0] != other[0] for other in group):
                group.append(item)
            plan.channels[(item[1].id, item[0])].add(EMAIL)


def _storm_message(to: str, held_back: int, cap: int, now: datetime) -> MessageIn:
    body = render.storm_summary(held_back, cap)
    return MessageIn(
        idempotency_key=f"alert-storm:{to}:{now:%Y%m%dT%H%M%S}",
        channel="sms",
        to_address=to,
        provider="twilio",
        kind="alert",
        payload={"body": body, "storm": True},
    )


def _messages(plan: _Plan, providers: Mapping[str, str]) -> list[MessageIn]:
    messages = []
    for (channel, to), items in sorted(plan.groups.items()):
        state = sorted(f"{a.id}:{reason}:{a.notifications}" for reason, a in items)
        digest = hashlib.sha256("|".join(state).encode()).hexdigest()[:24]
        used = sorted(set().union(*(plan.channels[(a.id, r)] for r, a in items)))
        text = render.email_text(items)
        payload = {
            "body": render.sms_body(items),
            "subject": render.subject(items),
            "html": render.email_html(text),
            "text": text,
            "channels": used,
            "alert_ids": sorted({a.id for _, a in items}),
        }
        kind: Channel = "email" if channel == EMAIL else "sms"
        messages.append(
            MessageIn(
                idempotency_key=f"alert:{channel}:{to}:{digest}",
                to_address=to,
                kind="alert",
                channel=kind,
                provider=providers[kind],
                payload=payload,
            )
        )
    return messages


async def _deliver_pending(
    dispatch: AlertDispatch, report: FlushReport, rows: list[PendingMessage]
) -> None:
    """Deliver every pending alert row (`rows`). Once a channel fails in this flush its
    remaining rows are not tried (each try may spend the provider's whole retry budget, and
    the guardian has a timeout): they stay queued for the next flush and go by the fallback
    channel now."""
    failing: set[str] = set()
    for pending in rows:
        if pending.channel in failing:
            report.outcomes["deferred"] += 1
        else:
            delivery = await dispatch.delivery.deliver_message(pending.message_id)
            report.outcomes[delivery.outcome] += 1
            if delivery.outcome not in ("failed", "requeued"):
                continue
            failing.add(pending.channel)
        report.fallbacks += await _fallback(dispatch, pending.message_id)


async def _fallback(dispatch: AlertDispatch, message_id: int) -> int:
    """Send a failed alert message's content by the other channel; the number sent."""
    row = await dispatch.repos.outbox.get_message(message_id)
    if row is None or row.payload.get("fallback") or row.payload.get("storm"):
        return 0
    other: Channel = "sms" if row.channel == "email" else "email"
    if other in row.payload.get("channels", []):
        return 0  # that channel already carries this notification
    recipients = await _fallback_recipients(dispatch, other)
    provider = dispatch.providers[other]
    messages = [_fallback_message(row, other, to, provider) for to in recipients]
    if not messages:
        return 0
    log.warning("alert channel failed: falling back", failed=row.channel, fallback=other)
    ids = await dispatch.repos.alerts.record_notifications(messages, [], dispatch.clock.now())
    sent = 0
    for fallback_id in ids:
        delivery = await dispatch.delivery.deliver_message(fallback_id)
        sent += delivery.outcome == "sent"
    return sent


async def _fallback_recipients(dispatch: AlertDispatch, channel: str) -> list[str]:
    policy = dispatch.policy
    if channel == EMAIL:
        return list(policy.emails)
    phones = list(policy.phones)
    if not phones:
        return []
    since = dispatch.clock.now() - timedelta(hours=1)
    counts = await dispatch.repos.alerts.sms_counts(phones, since)
    return [p for p in phones if counts[p].sent < policy.sms_per_hour]  # the cap holds here too


def _digest(row: OutboxMessage) -> str:
    # Rows of one notification share the digest (the alerts' state): the fallback is then
    # sent once per recipient, however many rows of the failed channel carried it.
    return row.idempotency_key.rsplit(":", 1)[-1]


def _fallback_message(row: OutboxMessage, channel: Channel, to: str, provider: str) -> MessageIn:
    payload = {**row.payload, "fallback": True, "fallback_of": row.id}
    return MessageIn(
        idempotency_key=f"alert-fallback:{channel}:{to}:{_digest(row)}",
        channel=channel,
        to_address=to,
        provider=provider,
        kind="alert",
        payload=payload,
    )
