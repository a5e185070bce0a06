"""The operator's daily digest, sent by the `growth` job.

Contract:
- `maybe_send_digest(repo, clock, settings, delivery, email_provider=) -> bool`: once the
  business's local clock (BUSINESS_TIMEZONE) is past DIGEST_HOUR, queues and sends the
  digest of the previous local day to OPERATOR_EMAILS (else ONCALL_EMAILS), at most once
  per local day — the `digests` row and the outbox rows are written in one transaction,
  keyed by the day; True only when this call sent it;
- `build_digest(repo, now, settings, day)`: the numbers of one local day [00:00, 24:00) (DST-safe) —
  leads, messages by channel, replies, calls by outcome, bookings, no-shows, opt-outs, hot
  leads to call, job health, alerts fired/resolved, top failure patterns — as text and html;
  given the scoring repository, also the connected calls' quality of the 7 days to the end
  of that day against the 7 before (`quality_weekly`: average, count, how many below
  CALL_QUALITY_REVIEW_BELOW), the figures behind the growth run's `call_quality_drop` alert;
  given `versions` (the jobs pass app.agents.figures over the agents' versions), the
  assistant versions' section: per agent and version, calls, answered, bookings per call,
  average call quality and P(better) of the version trial (docs/agents.md);
- `nightshift digest --preview` prints the text and sends nothing.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from app.core.clock import Clock
from app.core.settings import Settings
from app.db.appointments import AppointmentRepository
from app.db.outbox import MessageIn
from app.db.scoring import ScoringRepository
from app.providers.delivery import OutboxDelivery

log = structlog.get_logger(__name__)
# the assistant versions' figures (app.agents.figures.figures), read only when a digest is built
VersionFigures = Callable[[], Awaitable[list[dict[str, Any]]]]


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


def quality_line(q: dict[str, Any]) -> str:
    """The digest's call-quality line from `numbers["call_quality"]` (a QualityWeek and
    `below`, the review level)."""
    head = "Call quality (connected calls, 7 days)"
    if not q["week_calls"] or q["week_avg"] is None:
        return f"{head}: none scored"
    line = (f"{head}: {q['week_avg']:.0f} average over {q['week_calls']} call(s), "
            f"{q['week_low']} below {q['below']}")  # fmt: skip
    if not q["previous_calls"] or q["previous_avg"] is None:
        return f"{line}; none the week before"
    change = q["week_avg"] - q["previous_avg"]
    trend = f"{'up' if change > 0 else 'down'} {abs(change):.0f}" if round(change) else "level"
    return (f"{line}; week before {q['previous_avg']:.0f} over {q['previous_calls']} "
            f"call(s) ({trend})")  # fmt: skip


def version_lines(table: list[dict[str, Any]]) -> list[str]:
    """The digest's assistant versions (all their calls so far), one line each."""

    def show(value: Any, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    return ["", "Assistant versions (calls since pushed):"] + [
        f"  - {f['agent']} v{f['version']} {f['role']}: {f['calls']} call(s), "
        f"{f['answered']} answered, {show(f['bookings_per_call'], '.3f')} bookings/call, "
        f"quality {show(f['avg_quality'], '.0f')}, P(better) {show(f['p_better'], '.2f')}"
        for f in table
    ]


def render_text(business: str, day: date, n: dict[str, Any]) -> str:
    calls = n["calls"]
    lines = [
        f"{business}: daily digest for {day:%a %Y-%m-%d}", "",
        f"New leads: {n['leads']}",
        f"Messages: {_pairs(n['messages'])} (transactional {n['transactional']})",
        f"Replies: {n['replies']}",
        f"Calls: {sum(calls.values())} ({_pairs(calls)})",
        f"Bookings: {n['bookings']}   No-shows: {n['no_shows']}   Opt-outs: {n['opt_outs']}",
        *([quality_line(n["call_quality"])] if n.get("call_quality") else []),
        *(version_lines(n["agent_versions"]) if n.get("agent_versions") else []),
        "", "Hot leads to call:",
        *([f"  - {h['name'] or 'lead ' + str(h['id'])} {h['phone'] or ''} score {h['score']}"
           for h in n["hot_leads"]] or ["  none"]),
        "", "Jobs:",
        *[f"  - {j['job']}: {j['status']}, {j['failed']} failed run(s)" for j in n["jobs"]],
        "", f"Alerts: {n['alerts_fired']} fired, {n['alerts_resolved']} resolved",
        "", "Top failure patterns:",
        *([f"  - {f['occurrences']}x {f['fingerprint']}" for f in n["failures"]] or ["  none"]),
        "", f"Held for review (is this an opt-out?): {n.get('held', 0)}",
        *[f"  - {h['phone'] or h['email']}: {h['reason']}" for h in n.get("held_leads", [])],
        f"Skipped for want of consent (leads): {_pairs(n.get('consent_skipped', {}))}",
    ]  # fmt: skip
    return "\n".join(lines)


async def build_digest(
    repo: AppointmentRepository,
    now: datetime,
    settings: Settings,
    day: date | str | None = None,
    *,
    scoring: ScoringRepository | None = None,
    versions: VersionFigures | None = None,
) -> Digest:
    """The digest of local `day` (default: the day before `now` in BUSINESS_TIMEZONE);
    with `scoring`, the call quality of the week ending with that day too; with
    `versions`, the assistant versions' figures."""
    zone = ZoneInfo(settings.business_timezone)
    if isinstance(day, str):
        day = date.fromisoformat(day)
    day = day or now.astimezone(zone).date() - timedelta(days=1)
    start, end = day_window(day, zone)
    numbers = await repo.digest_numbers(start, end, now)
    if scoring is not None:
        below = settings.call_quality_review_below
        week = await scoring.quality_week(below, min(end, now))
        numbers["call_quality"] = {**week.model_dump(), "below": below}
    if versions is not None:
        numbers["agent_versions"] = await versions()
    subject = f"{settings.business_name}: digest for {day:%a %b %-d}"
    return Digest(day, numbers, subject, render_text(settings.business_name, day, numbers))


def recipients(settings: Settings) -> list[str]:
    """OPERATOR_EMAILS, else ONCALL_EMAILS."""
    return list(settings.operator_emails or settings.oncall_emails)


async def send_digest(
    repo: AppointmentRepository,
    delivery: OutboxDelivery,
    digest: Digest,
    *,
    email_provider: str,
    to: Sequence[str],
    now: datetime,
) -> list[int]:
    """Queue (once per day) and deliver the digest to the addresses `to`, as outbox rows
    written for `email_provider`; the outbox ids, [] when already sent (or nobody to)."""
    body = f'<pre style="font:14px monospace">{html.escape(digest.text)}</pre>'
    payload = {"subject": digest.subject, "html": body, "text": digest.text}
    messages = [
        MessageIn(idempotency_key=f"digest:{digest.day}:{address}", channel="email",
                  to_address=address, provider=email_provider, kind="transactional",
                  payload=payload)
        for address in to
    ]  # fmt: skip
    if not messages:
        return []
    ids = await repo.digest_record(digest.day, messages, now)
    for message_id in ids:
        await delivery.deliver_message(message_id)
    return ids


async def maybe_send_digest(
    repo: AppointmentRepository,
    clock: Clock,
    settings: Settings,
    delivery: OutboxDelivery,
    *,
    email_provider: str,
    scoring: ScoringRepository | None = None,
    versions: VersionFigures | None = None,
) -> bool:
    """Send yesterday's digest if it is past DIGEST_HOUR locally and not sent yet (without
    OPERATOR_EMAILS or ONCALL_EMAILS: nothing is read or sent, and a warning is logged by
    the run in the DIGEST_HOUR hour — once a day, not every hour until midnight); its
    outbox rows are written for `email_provider` (the email sender's name); `scoring`:
    where the call quality is read (None: the digest has no call-quality line)."""
    local = clock.now().astimezone(ZoneInfo(settings.business_timezone))
    if local.hour < settings.digest_hour:
        return False
    to = recipients(settings)
    if not to:  # said in the digest hour only: growth runs hourly, a warning a day is enough
        if local.hour == settings.digest_hour:
            log.warning("daily digest not sent: set OPERATOR_EMAILS or ONCALL_EMAILS")
        return False
    day = local.date() - timedelta(days=1)
    if await repo.digest_sent(day):
        return False
    digest = await build_digest(
        repo, clock.now(), settings, day, scoring=scoring, versions=versions
    )
    ids = await send_digest(
        repo, delivery, digest, email_provider=email_provider, to=to, now=clock.now()
    )
    sent = bool(ids)
    if sent:
        log.info("daily digest sent", day=str(day))
    return sent
