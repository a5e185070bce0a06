"""next_fire: the same instant as a fresh croniter, whatever order the schedulers ask in."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from croniter import croniter

from app.core.schedule import next_fire
from app.jobs.registry import JOBS


def fresh(cron: str, after: datetime) -> datetime:
    fire: datetime = croniter(cron, after).get_next(datetime)
    return fire


def test_a_scheduler_following_its_fires_gets_croniters_answers() -> None:
    """As the simulator and the dev server ask: each job's next fire after the one it ran
    (three jobs share */5), across a DST change (crons are UTC: none is skipped)."""
    start = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)
    due = {job.name: next_fire(job, start) for job in JOBS}
    seen = 0
    while min(due.values()) < start + timedelta(days=2):
        for job in JOBS:
            if due[job.name] == min(due.values()):
                expected = fresh(job.cron, due[job.name])
                due[job.name] = next_fire(job, due[job.name])
                assert due[job.name] == expected, job.name
                seen += 1
    assert seen > 1000


def test_any_other_order_gets_croniters_answers() -> None:
    """Instants that go back, repeat, skip ahead or fall between minutes (seeded)."""
    rng = random.Random(7)
    base = datetime(2026, 12, 6, tzinfo=UTC)
    for _ in range(2000):
        job = rng.choice(JOBS)
        after = base + timedelta(seconds=rng.randrange(0, 3 * 86400))
        if rng.random() < 0.3:  # the last answer asked again, or an instant before it
            after = next_fire(job, after) - timedelta(seconds=rng.choice([0, 0, 1, 60]))
        assert next_fire(job, after) == fresh(job.cron, after)
