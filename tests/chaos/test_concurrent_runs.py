"""Two and four drip workers (each its own pool and context) over the same due set, at the
same time: every step is accepted by the provider exactly once and none is lost."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest
import respx

from app.campaigns import drip
from app.core.clock import ManualClock
from app.jobs.drip import drip_deps
from tests.campaigns.helpers import add_leads, load
from tests.chaos.helpers import TWO_STEPS, FakeProviders, assert_exactly_once, real_settings, worker

LEADS = 120


@pytest.mark.parametrize("workers", [2, 4])
async def test_concurrent_runs_send_every_step_exactly_once(
    workers: int, database_dsn: str, clock: ManualClock
) -> None:
    # Small batches and low concurrency: the workers interleave claims, sends and settles.
    settings = real_settings(drip_batch_size=15, drip_concurrency=4)
    fake = FakeProviders(clock)
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        fake.install(router)
        async with AsyncExitStack() as stack:
            ctxs = [
                await stack.enter_async_context(worker(settings, clock, database_dsn))
                for _ in range(workers)
            ]
            await load(ctxs[0], TWO_STEPS)
            await add_leads(ctxs[0], LEADS)
            await ctxs[0].repos.campaigns.enroll(clock.now())
            totals = await asyncio.gather(*(drip.run(drip_deps(c)) for c in ctxs))
            # A step another worker held (busy) is rescheduled, never dropped: one more
            # sequential pass (after the retry delay) settles anything left over.
            for _ in range(3):
                clock.advance(drip.RETRY_LATER)
                await drip.run(drip_deps(ctxs[0]))
    settled = sum(sum(t.values()) for t in totals)
    assert settled >= LEADS  # every worker's claims were settled (advance or reschedule)
    assert sum(t.get("advance", 0) for t in totals) > 0
    assert_exactly_once(database_dsn, fake.accepted, steps=2)
    # The provider never saw a second request for a message it already accepted.
    assert len(fake.requests) == 2 * LEADS
