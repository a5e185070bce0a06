"""The compliance gate: may this lead be contacted on this channel at this instant?

One module, used by drip, the call queue, reminders and the rescue bridge. Contract:
- opted out of the channel (SMS STOP, email unsubscribe/complaint/hard bounce, do-not-call,
  suppressions) → refused, no retry time (the claim SQL checks it too, and again the
  delivery layer right before the provider call);
- texts and calls: permitted only when the instant is inside the federal window, the
  stricter window of the lead's state and of the number's area-code state, and the campaign's
  window, in EVERY candidate timezone (the lead's own, else all zones of the number);
  no candidate zone → refused with `needs_review` (a human sets the timezone);
- FL/OK/MD-style attempt caps count calls and texts together over a rolling 24 h;
- email: only the campaign window applies, in the lead's zone (else the campaign default);
- a refused-for-now contact gets `next_at`, the earliest instant it becomes permitted, so a
  step is rescheduled, never dropped; an allowed one gets `until`, when the permitted window
  closes (the send's deadline, re-checked right before the provider call). Windows are local
  wall-clock times (DST-safe).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.compliance.rules import FEDERAL, STATE_RULES, HoursRule
from app.core.phone import Phone

Channel = Literal["email", "sms", "call"]
SEARCH_DAYS = 15


@dataclass(frozen=True)
class LeadFacts:
    """What the gate needs to know about a lead (from the claim row)."""

    phone: str | None = None
    email: str | None = None
    state: str | None = None
    timezone: str | None = None
    opted_out: frozenset[str] = field(default_factory=frozenset)  # channels


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # "ok" or why not
    next_at: datetime | None = None  # when it becomes permitted (None: never by itself)
    zones: tuple[str, ...] = ()
    needs_review: bool = False
    until: datetime | None = None  # allowed: when the permitted window closes (None: never)


def _zone(name: str | None) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def candidate_zones(channel: Channel, lead: LeadFacts, default_tz: str) -> tuple[str, ...]:
    """The lead's own zone if valid; else (calls/texts) every zone of the number."""
    if _zone(lead.timezone):
        return (str(lead.timezone),)
    if channel == "email":
        return (default_tz,)
    return Phone(lead.phone).zones if lead.phone else ()


def applicable_rules(
    channel: Channel, lead: LeadFacts, window: HoursRule | None
) -> list[HoursRule]:
    """Federal ∩ lead's state ∩ area-code state ∩ campaign window (email: window only)."""
    rules = [] if channel == "email" else [FEDERAL]
    if channel != "email":
        states = {lead.state, Phone(lead.phone).state if lead.phone else None}
        rules += [STATE_RULES[s] for s in sorted(s for s in states if s) if s in STATE_RULES]
    return rules + ([window] if window else [])


def permitted_at(at: datetime, zones: Sequence[str], rules: Sequence[HoursRule]) -> bool:
    return all(rule.allows(at.astimezone(ZoneInfo(z))) for z in zones for rule in rules)


def permitted_hours(
    channel: Channel,
    lead: LeadFacts,
    day: datetime,
    *,
    window: HoursRule | None = None,
    default_tz: str = "America/New_York",
) -> tuple[str, list[int]]:
    """The lead's reference zone and the local hours of `day`'s date in it that are
    permitted from their start to at least 45 minutes in (in every candidate zone): the
    slots the best-time-to-call choice may pick from. Empty when nothing is known."""
    zones = candidate_zones(channel, lead, default_tz)
    if not zones:
        return default_tz, []
    rules = applicable_rules(channel, lead, window)
    tz = ZoneInfo(zones[0])
    date = day.astimezone(tz).date()
    hours = []
    for hour in range(24):
        start = datetime.combine(date, time(hour), tzinfo=tz).astimezone(UTC)
        if all(permitted_at(t, zones, rules) for t in (start, start + timedelta(minutes=45))):
            hours.append(hour)
    return zones[0], hours


def _openings(
    after: datetime, zones: Sequence[str], rules: Sequence[HoursRule], offsets: range
) -> set[datetime]:
    """Each zone's/rule's local opening time >= `after` on the local dates `after`'s own
    date + each of `offsets` days."""
    out = set()
    for name in zones:
        tz = ZoneInfo(name)
        first_day = after.astimezone(tz).date()
        for offset in offsets:
            day = first_day + timedelta(days=offset)
            for rule in rules:
                opening = datetime.combine(day, rule.start_on(day.weekday()), tzinfo=tz)
                if opening >= after:
                    out.add(opening.astimezone(UTC))
    return out


def _first_permitted(
    candidates: set[datetime], zones: Sequence[str], rules: Sequence[HoursRule]
) -> datetime | None:
    return next((c for c in sorted(candidates) if permitted_at(c, zones, rules)), None)


def next_permitted(
    after: datetime, zones: Sequence[str], rules: Sequence[HoursRule]
) -> datetime | None:
    """The earliest instant >= `after` permitted in every zone by every rule.

    The intersection of daily windows opens at one of the windows' openings, so only `after`
    and each zone's/rule's local opening times over the next SEARCH_DAYS days need testing.
    The first two local dates are tried first: an opening on a later date is more than 23 h
    after `after` (`after` lies within its own local date, and a local day is at least 23 h
    long), so a permitted candidate among the first two dates no later than that is the
    earliest of them all; otherwise every date is searched. The same answer at about a quarter
    of the cost (bench/gate_next_permitted.py): every refused call of a night run of the call
    queue, every text outside hours."""
    near = _first_permitted({after} | _openings(after, zones, rules, range(2)), zones, rules)
    if near is not None and near <= after + timedelta(hours=23):
        return near
    return _first_permitted(
        {after} | _openings(after, zones, rules, range(SEARCH_DAYS)), zones, rules
    )


def permitted_until(
    at: datetime, zones: Sequence[str], rules: Sequence[HoursRule]
) -> datetime | None:
    """When the permitted interval holding `at` ends: the earliest of each rule's local
    closing time on `at`'s date in each zone (`at` must be permitted). None without rules."""
    ends = [
        datetime.combine(at.astimezone(ZoneInfo(z)).date(), rule.end, tzinfo=ZoneInfo(z))
        for z in zones
        for rule in rules
    ]
    return min(ends).astimezone(UTC) if ends else None


def _cap_reopens(
    rules: Sequence[HoursRule], at: datetime, attempts: Sequence[datetime]
) -> datetime | None:
    """When the strictest 24 h attempt cap frees a slot, or None if not capped now."""
    caps = [r.attempts_per_24h for r in rules if r.attempts_per_24h]
    if not caps:
        return None
    recent = sorted(a for a in attempts if at - timedelta(hours=24) < a <= at)
    cap = min(caps)
    return recent[-cap] + timedelta(hours=24) if len(recent) >= cap else None


def evaluate(
    channel: Channel,
    lead: LeadFacts,
    at: datetime,
    *,
    window: HoursRule | None = None,
    recent_attempts: Sequence[datetime] = (),
    default_tz: str = "America/New_York",
    when: bool = True,
) -> Decision:
    """The gate's verdict for contacting `lead` on `channel` at `at` (see module contract).
    `when=False`: a refusal's `next_at` is left None, not searched — for a caller that only
    asks whether `at` is permitted (the call queue: a night run refuses every candidate, and
    the search was 8 of a night run's ~21 ms, bench/manager_run_profile.py)."""
    if channel in lead.opted_out or "all" in lead.opted_out:
        return Decision(False, f"opted_out:{channel}")
    zones = candidate_zones(channel, lead, default_tz)
    if not zones:
        return Decision(False, "unknown_timezone", needs_review=True)
    rules = applicable_rules(channel, lead, window)
    earliest = at
    if channel != "email" and (reopens := _cap_reopens(rules, at, recent_attempts)):
        earliest = reopens
    if earliest == at and permitted_at(at, zones, rules):
        return Decision(True, "ok", zones=zones, until=permitted_until(at, zones, rules))
    reason = "attempt_cap" if earliest != at else "outside_permitted_hours"
    upcoming = next_permitted(earliest, zones, rules) if when else None
    return Decision(False, reason, upcoming, zones)
