"""Quiet hours for appointment texts, built on the compliance gate's functions.

`latest_permitted(before, not_before, lead)` is the mirror of `compliance.evaluate`'s
`next_at`: the LATEST instant <= `before` (and >= `not_before`) at which a text to the lead
is permitted in every candidate zone by every rule, keeping `SEND_MARGIN` of the window
ahead of it, because the loop runs every 5 minutes and may send a little after the due time.
Windows are local wall-clock times, so the answer is DST-safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from app.compliance.gate import (
    SEARCH_DAYS,
    LeadFacts,
    applicable_rules,
    candidate_zones,
    next_permitted,
    permitted_at,
)
from app.compliance.rules import HoursRule

SEND_MARGIN = timedelta(minutes=15)


def safely_permitted(at: datetime, zones: Sequence[str], rules: Sequence[HoursRule]) -> bool:
    """Permitted at `at` and still `SEND_MARGIN` later (a late loop run stays inside)."""
    return permitted_at(at, zones, rules) and permitted_at(at + SEND_MARGIN, zones, rules)


def _closings(before: datetime, zones: Sequence[str], rules: Sequence[HoursRule]) -> set[datetime]:
    """Each zone's/rule's window end minus the margin, on the days up to `before`.

    The intersection of daily windows closes at one of the windows' closings, so these (and
    `before` itself) are the only candidates for the latest permitted instant."""
    found: set[datetime] = set()
    for name in zones:
        tz = ZoneInfo(name)
        last_day = before.astimezone(tz).date()
        for offset in range(SEARCH_DAYS):
            day = last_day - timedelta(days=offset)
            for rule in rules:
                closing = datetime.combine(day, rule.end, tzinfo=tz).astimezone(UTC)
                found.add(closing - SEND_MARGIN - timedelta(minutes=1))
    return found


def latest_permitted(
    before: datetime, not_before: datetime, lead: LeadFacts, default_tz: str
) -> datetime | None:
    """The latest instant in [not_before, before] a text to `lead` may be sent, or None."""
    zones = candidate_zones("sms", lead, default_tz)
    if not zones:
        return None
    rules = applicable_rules("sms", lead, None)
    if safely_permitted(before, zones, rules):
        return before
    candidates = sorted((c for c in _closings(before, zones, rules) if c < before), reverse=True)
    return next(
        (c for c in candidates if c >= not_before and safely_permitted(c, zones, rules)), None
    )


def earliest_permitted(after: datetime, lead: LeadFacts, default_tz: str) -> datetime | None:
    """The earliest instant >= `after` a text to `lead` may be sent (with the margin)."""
    zones = candidate_zones("sms", lead, default_tz)
    if not zones:
        return None
    rules = applicable_rules("sms", lead, None)
    if safely_permitted(after, zones, rules):
        return after
    at = next_permitted(after, zones, rules)
    return at if at is None or safely_permitted(at, zones, rules) else None
