"""A quiet appointments tick with no reminder due does not run the claim (`appointments_next`
probes appointment_reminders_due_idx first, issue 19: the claim's three statements were
planned at every one of 8,640 ticks a simulated month); a reminder that is due, or left
claimed by a run that was killed, is still claimed and sent by the next tick."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from app.appointments.loop import BATCH, LEASE_SECONDS, run
from app.core.clock import ManualClock
from app.jobs.appointments import appointment_deps
from app.jobs.bootstrap import Context
from tests.appointments.helpers import book, keys

FRIDAY_10_EST = datetime(2027, 3, 12, 15, 0, tzinfo=UTC)


def next_work_calls(dsn: str, holder: str, now: datetime) -> tuple[dict[str, Any], set[str]]:
    """`appointments_next` at `now`, and the functions that call ran (the transaction's own
    function statistics), rolled back."""
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        conn.execute("set local track_functions = 'all'")
        [row] = conn.execute(
            "select appointments_next(%s, %s, %s, %s) as work",
            (holder, BATCH, LEASE_SECONDS, now),
        ).fetchall()
        ran = {r["funcname"] for r in conn.execute(
            "select funcname from pg_stat_xact_user_functions").fetchall()}  # fmt: skip
        conn.rollback()
    return row["work"], ran


async def test_a_tick_with_nothing_due_does_not_run_the_claim(
    ctx: Context, clock: ManualClock, database_dsn: str
) -> None:
    clock.set(FRIDAY_10_EST)
    a = await book(ctx, FRIDAY_10_EST + timedelta(days=2))
    assert (await run(appointment_deps(ctx)))["sent"] == 2  # the confirmation, text and email

    # the 24 h reminders are planned, not due: a quiet tick reads the probe and stops there
    work, ran = next_work_calls(database_dsn, ctx.holder, FRIDAY_10_EST + timedelta(minutes=5))
    assert work == {"pending": [], "due": []}
    assert "appointments_next" in ran and "appointments_claim_due" not in ran

    # once they are due, the same call claims them
    due_at = FRIDAY_10_EST + timedelta(days=1, minutes=2)
    work, ran = next_work_calls(database_dsn, ctx.holder, due_at)
    assert "appointments_claim_due" in ran
    assert sorted(d["reminder"]["kind"] for d in work["due"]) == ["reminder_24h"] * 2
    assert len(keys(database_dsn, a.id)) == 2


async def test_a_reminder_left_claimed_by_a_killed_run_is_sent_by_the_next_quiet_tick(
    ctx: Context, clock: ManualClock, database_dsn: str
) -> None:
    deps = appointment_deps(ctx)
    clock.set(FRIDAY_10_EST)
    a = await book(ctx, FRIDAY_10_EST + timedelta(days=2))
    await run(deps)
    clock.set(FRIDAY_10_EST + timedelta(days=1, minutes=2))
    # a run claims the due reminders, then is killed before it queues them
    claimed = await deps.repo.claim_due("killed-run", clock.now(), BATCH, LEASE_SECONDS)
    assert len(claimed) == 2

    clock.advance(timedelta(minutes=5))  # its lease still holds: nothing is taken from it
    assert (await run(deps))["claimed"] == 0

    clock.advance(timedelta(seconds=LEASE_SECONDS))  # its lease ran out
    tick = await run(deps)
    assert tick == {**tick, "planned": 0, "claimed": 2, "sent": 2}
    assert len(keys(database_dsn, a.id)) == 4
