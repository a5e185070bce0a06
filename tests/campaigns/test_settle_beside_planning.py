"""A batch's settle runs in the database while the next batch is planned (overlap.Settling), and
ends before that batch's first database call: the database sees the statements in the same
order as before. A run keeps the process's long-lived heap out of the collector's scans and
gives it back at the end (overlap.heap_frozen)."""

from __future__ import annotations

import gc
from collections.abc import Mapping
from typing import Any

import pytest

from app.campaigns import drip
from app.core.clock import ManualClock
from app.core.settings import Settings
from app.db.transport import PostgresTransport, Row, Transport
from app.jobs.bootstrap import Overrides, bootstrap
from app.jobs.drip import drip_deps
from tests.campaigns.helpers import add_leads, load
from tests.chaos.helpers import rows


class Timeline:
    """A Transport noting when each call starts and ends, and how many objects were frozen
    out of the garbage collector's scans while it ran."""

    def __init__(self, inner: Transport) -> None:
        self.inner, self.name = inner, inner.name
        self.events: list[str] = []
        self.frozen: list[int] = []

    async def call(self, function: str, args: Mapping[str, Any] | None = None) -> list[Row]:
        self.events.append(f"start {function}")
        self.frozen.append(gc.get_freeze_count())
        try:
            return await self.inner.call(function, args)
        finally:
            self.events.append(f"end {function}")

    async def close(self) -> None:  # the fixture closes the inner transport
        pass


async def test_each_settle_runs_beside_the_next_planning_and_ends_before_its_writes(
    settings: Settings,
    clock: ManualClock,
    transport: PostgresTransport,
    database_dsn: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    timeline = Timeline(transport)
    plan_batch = drip.plan_batch

    def noted(*args: Any) -> drip.Planned:
        timeline.events.append("plan")
        return plan_batch(*args)

    monkeypatch.setattr(drip, "plan_batch", noted)
    three_batches = settings.model_copy(update={"drip_batch_size": 2})
    async with bootstrap(three_batches, Overrides(clock=clock, transport=timeline)) as ctx:
        await load(ctx)
        await add_leads(ctx, 6)
        await ctx.repos.campaigns.enroll(clock.now())
        timeline.events.clear()
        assert await drip.run(drip_deps(ctx)) == {"advance": 6}
    assert len(rows(database_dsn, "select 1 from messages where status = 'dry_run'")) == 6
    events = [e for e in timeline.events if not e.endswith("claim_due_steps")]
    settles = [i for i, e in enumerate(events) if e == "start complete_steps"]
    assert len(settles) == 3
    for start in settles[:-1]:  # the next batch was planned while this settle ran ...
        end = events.index("end complete_steps", start)
        assert events[start + 1 : end] == ["plan"]
        # ... and its first call came after the settle ended
        assert events[end + 1].startswith("start ") and end + 1 < len(events)
    assert gc.get_freeze_count() == 0  # given back at the end of the run


async def test_a_run_freezes_the_long_lived_heap_and_gives_it_back(
    settings: Settings, clock: ManualClock, transport: PostgresTransport
) -> None:
    timeline = Timeline(transport)
    async with bootstrap(settings, Overrides(clock=clock, transport=timeline)) as ctx:
        await load(ctx)
        await add_leads(ctx, 2)
        await ctx.repos.campaigns.enroll(clock.now())
        before, timeline.frozen = gc.get_freeze_count(), []
        assert await drip.run(drip_deps(ctx)) == {"advance": 2}
    assert before == 0 and gc.get_freeze_count() == 0
    assert timeline.frozen and all(n > 0 for n in timeline.frozen)
