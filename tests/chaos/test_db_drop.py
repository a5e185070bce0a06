"""The database drops every connection mid-batch (pg_terminate_backend from an admin
connection, fired from inside the provider while the batch's texts are going out): the run
fails with DatabaseUnavailable or reschedules, and the next run completes — the texts the
provider already accepted are reconciled, never sent again, and no step is lost."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest
import respx

from app.campaigns import drip
from app.core.clock import ManualClock
from app.db.errors import DatabaseUnavailable
from app.jobs.drip import drip_deps
from tests.campaigns.helpers import add_leads, load
from tests.chaos.helpers import (
    TWO_STEPS,
    Accepted,
    FakeProviders,
    assert_exactly_once,
    real_settings,
    rows,
    worker,
)

LEADS = 30
DROP_AFTER = 5  # messages accepted before the database goes away

TERMINATE = """
select count(pg_terminate_backend(pid)) n from pg_stat_activity
 where datname = current_database() and pid <> pg_backend_pid()
"""


async def test_connection_dropped_mid_batch_then_next_run_completes(
    database_dsn: str, clock: ManualClock
) -> None:
    # Twilio at one text per 2 s: the limiter lets 1 out in CLAIM_AHEAD, so delivery claims
    # one row per call
    settings = real_settings(
        drip_batch_size=20, drip_concurrency=1, twilio_rate_per_second_per_sender=0.5
    )
    fake = FakeProviders(clock)
    terminated: list[int] = []

    def drop_database(item: Accepted) -> None:
        if len(fake.accepted) == DROP_AFTER:
            with psycopg.connect(database_dsn, autocommit=True) as admin:
                terminated.append(admin.execute(TERMINATE).fetchone()[0])  # type: ignore[index]

    fake.after_accept = drop_database
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        fake.install(router)
        async with worker(settings, clock, database_dsn) as ctx:
            await load(ctx, TWO_STEPS)
            await add_leads(ctx, LEADS)
            await ctx.repos.campaigns.enroll(clock.now())
            try:
                counts = await drip.run(drip_deps(ctx))
            except DatabaseUnavailable:
                counts = {"failed": 1}
        assert terminated and terminated[0] >= 1  # the pool's connections really went away
        # Either the run failed, or it rescheduled the broken batch and went on with the next
        # one on fresh connections. The dropped batch's record call was lost either way.
        if counts != {"failed": 1}:
            assert counts == {"reschedule:error:delivery": 20, "advance": LEADS - 20}
        [sending] = rows(database_dsn, "select count(*) n from messages where status='sending'")
        # delivery claims one chunk (1 row at this rate) at a time: only the row whose
        # record call was cut off is left 'sending'; the rest of the batch was never claimed
        assert sending["n"] == 1
        assert len(fake.accepted) >= DROP_AFTER

        clock.advance(timedelta(minutes=20))  # past the lease, the reclaim age and +15 min
        async with worker(settings, clock, database_dsn) as ctx:
            done_before = counts.get("advance", 0)
            assert await drip.run(drip_deps(ctx)) == {"advance": 2 * LEADS - done_before}
    assert_exactly_once(database_dsn, fake.accepted, steps=2)
    sms_posts = [r for r in fake.requests if r[0] == "sms"]
    assert len(sms_posts) == LEADS  # the cut-off row was reconciled, not re-sent


async def test_connection_dropped_just_before_settling_the_batch(
    database_dsn: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sends recorded, then the database goes away as the batch is settled: the steps stay
    leased, and the next run finds the rows already sent instead of sending again."""
    settings = real_settings(drip_batch_size=20)
    fake = FakeProviders(clock)
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        fake.install(router)
        async with worker(settings, clock, database_dsn) as ctx:
            await load(ctx, TWO_STEPS)
            await add_leads(ctx, LEADS)
            await ctx.repos.campaigns.enroll(clock.now())
            complete = ctx.repos.campaigns.complete

            async def drop_then_complete(*args: Any, **kwargs: Any) -> Any:
                with psycopg.connect(database_dsn, autocommit=True) as admin:
                    admin.execute(TERMINATE)
                return await complete(*args, **kwargs)

            monkeypatch.setattr(ctx.repos.campaigns, "complete", drop_then_complete)
            with pytest.raises(DatabaseUnavailable):
                await drip.run(drip_deps(ctx))
        [sent] = rows(database_dsn, "select count(*) n from messages where status = 'sent'")
        assert sent["n"] == 20  # recorded before the drop
        assert len(fake.accepted) == 20

        clock.advance(timedelta(minutes=20))  # past the enrollments' lease
        async with worker(settings, clock, database_dsn) as ctx:
            counts = await drip.run(drip_deps(ctx))
    assert counts == {"advance": 2 * LEADS}
    assert_exactly_once(database_dsn, fake.accepted, steps=2)
    assert len(fake.requests) == 2 * LEADS  # the first 20 were not sent again
