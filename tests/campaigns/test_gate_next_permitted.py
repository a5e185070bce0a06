"""`next_permitted` searches the first two local dates before the whole SEARCH_DAYS range
(app/compliance/gate.py): its answer must be the full search's in every case, including the
ones where the near search finds nothing or finds a candidate more than 23 h away."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta

import pytest

from app.compliance import gate
from app.compliance.gate import next_permitted
from app.compliance.rules import FEDERAL, STATE_RULES, HoursRule

ZONES = (
    "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
    "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu", "America/Puerto_Rico",
    "Pacific/Guam", "Pacific/Kiritimati", "Etc/GMT+12",
)  # fmt: skip
WEEKENDS_ONLY = HoursRule(time(10), time(14), days=frozenset({5, 6}))
MONDAY_MORNING = HoursRule(time(9), time(10), days=frozenset({0}))
NEVER = HoursRule(time(9), time(17), days=frozenset())


def full_search(
    after: datetime, zones: Sequence[str], rules: Sequence[HoursRule]
) -> datetime | None:
    """The search as it was: every opening of every zone and rule over SEARCH_DAYS dates."""
    candidates = {after} | gate._openings(after, zones, rules, range(gate.SEARCH_DAYS))
    return next((c for c in sorted(candidates) if gate.permitted_at(c, zones, rules)), None)


CASES = [
    # a Texas lead on Saturday night: Sunday opens at noon, not 9
    (datetime(2026, 3, 7, 23, 30, tzinfo=UTC), ["America/Chicago"], [FEDERAL, STATE_RULES["TX"]]),
    # South Dakota on Friday evening: Monday morning, 3 days on
    (datetime(2026, 3, 14, 2, 0, tzinfo=UTC), ["America/Chicago"], [FEDERAL, STATE_RULES["SD"]]),
    # spring forward and fall back in New York
    (datetime(2026, 3, 8, 6, 59, tzinfo=UTC), ["America/New_York"], [FEDERAL]),
    (datetime(2026, 11, 1, 2, 30, tzinfo=UTC), ["America/New_York"], [FEDERAL]),
    # a number whose area code spans two zones, and one far from the other
    (datetime(2026, 6, 1, 3, 0, tzinfo=UTC), ["America/New_York", "America/Chicago"], [FEDERAL]),
    (datetime(2026, 6, 1, 3, 0, tzinfo=UTC), ["Pacific/Honolulu", "America/New_York"], [FEDERAL]),
    # zones 26 hours apart: their permitted hours never overlap
    (datetime(2026, 6, 1, 3, 0, tzinfo=UTC), ["Pacific/Kiritimati", "Etc/GMT+12"], [FEDERAL]),
    # a campaign window on weekends only, or one hour on Mondays: the answer days away
    (datetime(2026, 6, 1, 15, 0, tzinfo=UTC), ["America/Denver"], [FEDERAL, WEEKENDS_ONLY]),
    (datetime(2026, 6, 2, 15, 0, tzinfo=UTC), ["America/Denver"], [FEDERAL, MONDAY_MORNING]),
    # never permitted
    (datetime(2026, 6, 2, 15, 0, tzinfo=UTC), ["America/Denver"], [FEDERAL, NEVER]),
]


@pytest.mark.parametrize(("after", "zones", "rules"), CASES)
def test_the_same_answer_as_the_full_search(
    after: datetime, zones: list[str], rules: list[HoursRule]
) -> None:
    assert next_permitted(after, zones, rules) == full_search(after, zones, rules)


def test_the_same_answer_on_a_year_of_random_instants() -> None:
    rng = random.Random(19)
    rules = [FEDERAL, WEEKENDS_ONLY, MONDAY_MORNING, *STATE_RULES.values()]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for _ in range(3_000):
        after = start + timedelta(minutes=rng.randrange(60 * 24 * 400))
        zones = rng.sample(ZONES, rng.choice((1, 1, 2, 3)))
        chosen = rng.sample(rules, rng.choice((1, 2, 3)))
        assert next_permitted(after, zones, chosen) == full_search(after, zones, chosen)


def test_without_when_the_same_verdict_and_no_search() -> None:
    """`evaluate(..., when=False)` (the call queue's question: may it go now?) gives the
    verdict, reason and window end of the full evaluation, only without the next instant."""
    rng = random.Random(11)
    states = [None, "TX", "SD", "FL", "CA", "NY", "WA"]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    refused = 0
    for _ in range(3000):
        at = start + timedelta(minutes=rng.randrange(0, 366 * 24 * 60))
        lead = gate.LeadFacts(
            phone="+15125550100", state=rng.choice(states),
            timezone=rng.choice([None, *ZONES]),
        )  # fmt: skip
        attempts = sorted(at - timedelta(hours=rng.uniform(0, 30)) for _ in range(rng.randrange(4)))
        full = gate.evaluate("call", lead, at, recent_attempts=attempts)
        quick = gate.evaluate("call", lead, at, recent_attempts=attempts, when=False)
        assert (quick.allowed, quick.reason, quick.until, quick.zones, quick.needs_review) == (
            full.allowed,
            full.reason,
            full.until,
            full.zones,
            full.needs_review,
        )
        assert quick.next_at is None or quick.allowed
        refused += not full.allowed
    assert refused > 500
