"""The compliance gate's `next_permitted` against the full search it replaced, same cases.

`next_permitted` runs for every refused text or call (outside hours, over an attempt cap):
every refused call of a night run of the call queue (~200 a run), every text drip reschedules.
It now tries the first two local dates before the whole SEARCH_DAYS range (app/compliance/
gate.py); this prints both, in alternating rounds, on the same seeded cases (instants that
are not permitted, as the gate asks), and checks the answers are the same.

    .venv/bin/python bench/gate_next_permitted.py [--cases 5000] [--rounds 4]

Not a test: it prints measured figures (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from app.compliance import gate
from app.compliance.rules import FEDERAL, STATE_RULES, HoursRule

ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
         "America/Phoenix", "Pacific/Honolulu", "America/Anchorage")  # fmt: skip
Case = tuple[datetime, list[str], list[HoursRule]]


def full_search(
    after: datetime, zones: Sequence[str], rules: Sequence[HoursRule]
) -> datetime | None:
    """The search before: every opening of every zone and rule over SEARCH_DAYS dates."""
    candidates = {after} | gate._openings(after, zones, rules, range(gate.SEARCH_DAYS))
    return next((c for c in sorted(candidates) if gate.permitted_at(c, zones, rules)), None)


def cases(n: int, seed: int) -> list[Case]:
    """`n` refused instants: a lead's zone (one in five a number spanning two), federal hours,
    its state's rule half of the time."""
    rng, out = random.Random(seed), []
    states = list(STATE_RULES.values())
    while len(out) < n:
        after = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(525_600))
        zones = rng.sample(ZONES, 2 if rng.random() < 0.2 else 1)
        rules = [FEDERAL] + ([rng.choice(states)] if rng.random() < 0.5 else [])
        if not gate.permitted_at(after, zones, rules):
            out.append((after, zones, rules))
    return out


def timed(search: Callable[..., datetime | None], work: list[Case]) -> float:
    started = time.perf_counter()
    for case in work:
        search(*case)
    return (time.perf_counter() - started) / len(work) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    work = cases(args.cases, seed=19)
    same = sum(full_search(*c) == gate.next_permitted(*c) for c in work)
    print(f"{len(work):,} refused instants: the same answer in {same:,}")
    for r in range(1, args.rounds + 1):
        before, after = timed(full_search, work), timed(gate.next_permitted, work)
        print(f"round {r}: full search {before:.1f} µs, next_permitted {after:.1f} µs "
              f"({after / before:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
