"""A quiet appointments tick (nothing new to plan) reads and claims in one round trip
(`appointments_next`, issue 19: 8,640 ticks in a simulated month); a tick with a new booking
still plans first, so a confirmation due at once goes out in that same tick."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from app.appointments.loop import run
from app.core.clock import ManualClock
from app.db.appointments import AppointmentRepository
from app.db.transport import PostgresTransport
from app.jobs.appointments import appointment_deps
from app.jobs.bootstrap import Context
from tests.appointments.helpers import book, keys
from tests.guardian.test_guardian_reads import CountingTransport

FRIDAY_10_EST = datetime(2027, 3, 12, 15, 0, tzinfo=UTC)


async def test_a_quiet_tick_claims_in_its_first_call_and_a_booking_tick_plans_first(
    ctx: Context, clock: ManualClock, transport: PostgresTransport, database_dsn: str
) -> None:
    counting = CountingTransport(transport)
    deps = replace(appointment_deps(ctx), repo=AppointmentRepository(counting))
    clock.set(FRIDAY_10_EST)
    a = await book(ctx, FRIDAY_10_EST + timedelta(days=2))

    booked = await run(deps)  # pending: planned, then claimed in its own call, sent at once
    assert booked["sent"] == 2 and len(keys(database_dsn, a.id)) == 2
    assert counting.calls["appointments_claim_due"] == 1

    counting.calls.clear()
    clock.advance(timedelta(minutes=5))
    quiet = await run(deps)
    assert quiet == {**quiet, "planned": 0, "claimed": 0}
    assert dict(counting.calls) == {"appointments_next": 1}

    counting.calls.clear()
    clock.set(FRIDAY_10_EST + timedelta(days=1, minutes=2))  # the 24 h reminders are due
    due = await run(deps)
    assert due["sent"] == 2 and len(keys(database_dsn, a.id)) == 4
    assert counting.calls["appointments_next"] == 1
    assert not {"appointments_to_schedule", "appointments_claim_due"} & set(counting.calls)
