"""Paging when the database itself is down: straight through the provider ports.

Contract:
- `page_directly(line, ...)` sends a critical alert by SMS to ONCALL_PHONES and by email to
  ONCALL_EMAILS without touching the database (no outbox row: it cannot be written), at most
  once per critical repeat interval per key (`DirectPager`);
- the page is kept in `DirectPager.unrecorded` and `record_direct_pages(repo, clock)` writes
  it into `alerts` once the database answers again (the guardian does this first thing each
  run);
- the `DirectPager` lives in the process AND, when `DirectLine.memory` is given, in a durable
  store outside it (app/alerts/pager_memory.py: the webhook spool's store), merged on every
  read: a new container neither pages again within the interval nor forgets to record a page
  an earlier one sent. A store that cannot be read or written is logged; the process memory
  still works;
- one failed channel never stops the other (Twilio down → the email still goes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from pydantic import ValidationError

from app.alerts.pager_memory import PagerMemory, decode_time, encode_time
from app.alerts.policy import EMAIL, SMS, AlertPolicy
from app.core.clock import Clock
from app.db.alerts import AlertRepository
from app.providers.errors import ProviderError
from app.providers.ports import EmailMessage, EmailSender, SmsMessage, SmsSender

log = structlog.get_logger(__name__)
DB_DOWN_KEY = "database.unreachable"


@dataclass(frozen=True)
class DirectLine:
    """What paging without the database uses: the two provider ports, the on-call policy
    (recipients, repeat interval) and the clock."""

    sms: SmsSender
    email: EmailSender
    policy: AlertPolicy
    clock: Clock
    memory: PagerMemory | None = None  # the durable copy of the DirectPager


@dataclass(frozen=True)
class DirectPage:
    key: str
    title: str
    details: dict[str, Any]
    channels: list[str]
    sent_at: datetime


@dataclass
class DirectPager:
    last_sent: dict[str, datetime] = field(default_factory=dict)
    unrecorded: list[DirectPage] = field(default_factory=list)

    def merge(self, state: dict[str, Any]) -> None:
        """Take in a stored state: the later send time per key, pages not known yet."""
        for key, raw in dict(state.get("last_sent") or {}).items():
            at = decode_time(raw)
            if at is not None and (key not in self.last_sent or at > self.last_sent[key]):
                self.last_sent[key] = at
        known = {(p.key, p.sent_at) for p in self.unrecorded}
        for item in list(state.get("unrecorded") or []):
            page = _page(item)
            if page is not None and (page.key, page.sent_at) not in known:
                self.unrecorded.append(page)
        self.unrecorded.sort(key=lambda p: p.sent_at)

    def state(self) -> dict[str, Any]:
        return {
            "last_sent": {k: encode_time(v) for k, v in self.last_sent.items()},
            "unrecorded": [
                {"key": p.key, "title": p.title, "details": p.details, "channels": p.channels,
                 "sent_at": encode_time(p.sent_at)}
                for p in self.unrecorded
            ],
        }  # fmt: skip


def _page(item: Any) -> DirectPage | None:
    at = decode_time(item.get("sent_at")) if isinstance(item, dict) else None
    if at is None:
        return None
    return DirectPage(str(item["key"]), str(item.get("title", "")), dict(item.get("details") or {}),
                      [str(c) for c in item.get("channels") or []], at)  # fmt: skip


PAGER = DirectPager()


async def _recall(memory: PagerMemory | None, pager: DirectPager) -> None:
    if memory is None:
        return
    try:
        pager.merge(await memory.load())
    except Exception as exc:  # the process memory still dedupes within this container
        log.error("direct-page memory unreadable", store=memory.name, error=type(exc).__name__)


async def _remember(memory: PagerMemory | None, pager: DirectPager) -> None:
    if memory is None:
        return
    try:
        await memory.save(pager.state())
    except Exception as exc:
        log.error("direct-page memory not written", store=memory.name, error=type(exc).__name__)


async def page_directly(
    line: DirectLine,
    key: str,
    title: str,
    details: dict[str, Any],
    *,
    pager: DirectPager | None = None,
) -> DirectPage | None:
    """Send the critical alert `key` now, bypassing the database; None when it was already
    sent within the critical repeat interval. `pager` defaults to the process's PAGER."""
    pager = pager if pager is not None else PAGER
    await _recall(line.memory, pager)
    policy = line.policy
    now = line.clock.now()
    last = pager.last_sent.get(key)
    if last is not None and now - last < timedelta(seconds=policy.repeat_critical_seconds):
        return None
    body = f"[CRIT] {key}: {title} — paged directly (database down: ACK unavailable)"
    tag = f"direct-{key}-{now:%Y%m%dT%H%M}"
    channels = []
    if await _sms_all(line.sms, policy, tag, body, now):
        channels.append(SMS)
    if await _email_all(line.email, policy, tag, body, details):
        channels.append(EMAIL)
    page = DirectPage(key, title, details, channels, now)
    pager.last_sent[key] = now
    pager.unrecorded.append(page)
    await _remember(line.memory, pager)
    log.critical("alert paged directly, database unavailable", key=key, channels=channels)
    return page


async def _sms_all(sms: SmsSender, policy: AlertPolicy, tag: str, body: str, now: datetime) -> bool:
    sent = False
    for phone in policy.phones:
        message = SmsMessage(
            outbox_id=0, idempotency_key=f"{tag}-{phone}", to=phone, body=body, claimed_at=now
        )
        try:
            await sms.send(message)
            sent = True
        except (ProviderError, ValidationError) as exc:
            log.error("direct alert SMS failed", error=type(exc).__name__)
    return sent


async def _email_all(
    email: EmailSender, policy: AlertPolicy, tag: str, body: str, details: dict[str, Any]
) -> bool:
    sent = False
    text = body + "\n\n" + "\n".join(f"{k}: {v}" for k, v in sorted(details.items()))
    for address in policy.emails:
        message = EmailMessage(
            outbox_id=0,
            idempotency_key=tag,
            to=address,
            subject=body,
            html=f"<pre>{text}</pre>",
            text=text,
            kind="alert",
        )
        try:
            await email.send(message)
            sent = True
        except (ProviderError, ValidationError) as exc:
            log.error("direct alert email failed", error=type(exc).__name__)
    return sent


async def record_direct_pages(
    repo: AlertRepository,
    clock: Clock,
    *,
    pager: DirectPager | None = None,
    memory: PagerMemory | None = None,
) -> int:
    """Write the pages sent while the database was down (by this process, or by any other
    whose state is in `memory`) into `alerts`; how many."""
    pager = pager if pager is not None else PAGER
    await _recall(memory, pager)
    if not pager.unrecorded:
        return 0
    recorded = 0
    while pager.unrecorded:
        page = pager.unrecorded[0]
        await repo.record_direct(
            page.key,
            "critical",
            page.title,
            page.details,
            page.channels,
            page.sent_at,
            clock.now(),
        )
        pager.unrecorded.pop(0)
        recorded += 1
    await _remember(memory, pager)
    return recorded
