"""The operator's daily digest, sent by the `growth` job.

Contract:
- `maybe_send_digest(ctx) -> bool`: once the business's local clock (BUSINESS_TIMEZONE) is
  past DIGEST_HOUR, queues and sends the digest of the previous local day to OPERATOR_EMAILS
  (else ONCALL_EMAILS), at most once per local day — the `digests` row and the outbox rows
  are written in one transaction, keyed by the day; True only when this call sent it;
- `build_digest(ctx, day)`: the numbers of one local day [00:00, 24:00) (DST-safe) —
  leads, messages by channel, replies, calls by outcome, bookings, no-shows, opt-outs, hot
  leads to call, job health, alerts fired/resolved, top failure patterns — as text and html;
- `nightshift digest --preview` prints the text and sends nothing.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import structlog

from app.db.outbox import MessageIn

if TYPE_CHECKING:  # TEMP until the room takes named collaborators
    from app.jobs.bootstrap import Context

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Digest:
    day: date
    numbers: dict[str, Any]
    subject: str
    text: str


def day_window(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Local midnight to the next local midnight (23 or 25 hours on a DST day)."""
    start = datetime.combine(day, time(0), zone)
    end = datetime.combine(day + timedelta(days=1), time(0), zone)
    return start.astimezone(UTC), end.astimezone(UTC)  # UTC: subtraction gives real hours


def _pairs(values: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(values.items())) or "none"


def render_text(business: str, day: date, n: dict[str, Any]) -> str:
    calls = n["calls"]
    lines = [
        f"{business}: daily digest for {day:%a %Y-%m-%d}", "",
        f"New leads: {n['leads']}",
        f"Messages: {_pairs(n['messages'])} (transactional {n['transactional']})",
        f"Replies: {n['replies']}",
        f"Calls: {sum(calls.values())} ({_pairs(calls)})",
        f"Bookings: {n['bookings']}   No-shows: {n['no_shows']}   Opt-outs: {n['opt_outs']}",
        "", "Hot leads to call:",
        *([f"  - {h['name'] or 'lead ' + str(h['id'])} {h['phone'] or ''} score {h['score']}"
           for h in n["hot_leads"]] or ["  none"]),
        "", "Jobs:",
        *[f"  - {j['job']}: {j['status']}, {j['failed']} failed run(s)" for j in n["jobs"]],
        "", f"Alerts: {n['alerts_fired']} fired, {n['alerts_resolved']} resolved",
        "", "Top failure patterns:",
        *([f"  - {f['occurrences']}x {f['fingerprint']}" for f in n["failures"]] or ["  none"]),
    ]  # fmt: skip
    return "\n".join(lines)


async def build_digest(ctx: Context, day: date | str | None = None) -> Digest:
    """The digest of local `day` (default: yesterday in BUSINESS_TIMEZONE)."""
    zone, now = ZoneInfo(ctx.settings.business_timezone), ctx.clock.now()
    if isinstance(day, str):
        day = date.fromisoformat(day)
    day = day or now.astimezone(zone).date() - timedelta(days=1)
    start, end = day_window(day, zone)
    numbers = await ctx.repos.appointments.digest_numbers(start, end, now)
    subject = f"{ctx.settings.business_name}: digest for {day:%a %b %-d}"
    return Digest(day, numbers, subject, render_text(ctx.settings.business_name, day, numbers))


def recipients(ctx: Context) -> list[str]:
    return list(ctx.settings.operator_emails or ctx.settings.oncall_emails)


async def send_digest(ctx: Context, digest: Digest) -> list[int]:
    """Queue (once per day) and deliver the digest; the outbox ids, [] when already sent."""
    body = f'<pre style="font:14px monospace">{html.escape(digest.text)}</pre>'
    payload = {"subject": digest.subject, "html": body, "text": digest.text}
    messages = [
        MessageIn(idempotency_key=f"digest:{digest.day}:{to}", channel="email", to_address=to,
                  provider=ctx.providers.email.name, kind="transactional", payload=payload)
        for to in recipients(ctx)
    ]  # fmt: skip
    if not messages:
        return []
    ids = await ctx.repos.appointments.digest_record(digest.day, messages, ctx.clock.now())
    for message_id in ids:
        await ctx.providers.delivery.deliver_message(message_id)
    return ids


async def maybe_send_digest(ctx: Context) -> bool:
    """Send yesterday's digest if it is past DIGEST_HOUR locally and not sent yet."""
    local = ctx.clock.now().astimezone(ZoneInfo(ctx.settings.business_timezone))
    if local.hour < ctx.settings.digest_hour:
        return False
    day = local.date() - timedelta(days=1)
    if await ctx.repos.appointments.digest_sent(day):
        return False
    if not recipients(ctx):
        log.warning("daily digest not sent: set OPERATOR_EMAILS or ONCALL_EMAILS")
        return False
    sent = bool(await send_digest(ctx, await build_digest(ctx, day)))
    if sent:
        log.info("daily digest sent", day=str(day))
    return sent
