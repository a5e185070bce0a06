"""Best time to call: counts per state and local hour from `calls`, Beta-Binomial
posteriors, and Thompson sampling that converges to the better hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from app.core.clock import ManualClock
from app.db.scoring import TimingCell
from app.jobs.bootstrap import Context
from app.scoring.timing import (
    choose_call_time,
    estimate,
    load_timing,
    next_slot,
    thompson_hour,
)
from tests.scoring import helpers as h


async def test_stats_per_state_and_local_hour(ctx: Context, clock: ManualClock) -> None:
    now = clock.now()  # 15:00 UTC = 10:00 in New York, 07:00 in Los Angeles
    ny = await h.lead(ctx, 1, now - timedelta(days=9), state="NY", timezone="America/New_York")
    ca = await h.lead(ctx, 2, now - timedelta(days=9), state="CA", timezone="America/Los_Angeles")
    nowhere = await h.lead(ctx, 3, now - timedelta(days=9), state="TX", timezone="Mars/Base")
    await h.call(ctx, ny, "answered", now - timedelta(days=1))
    await h.call(ctx, ny, "no_answer", now - timedelta(days=2))
    await h.call(ctx, ny, "booked", now - timedelta(days=3))
    await h.call(ctx, ca, "voicemail", now - timedelta(days=1))
    await h.call(ctx, nowhere, "answered", now - timedelta(days=1))  # unknown zone: default
    await h.call(ctx, ny, "failed", now - timedelta(days=1))  # never rang: not counted
    await h.call(ctx, ny, "answered", now - timedelta(days=200))  # outside the window
    cells = await ctx.repos.scoring.timing_stats(90, "America/New_York", now)
    got = {(c.state, c.local_hour): (c.attempts, c.answered, c.booked) for c in cells}
    assert got == {("CA", 7): (1, 0, 0), ("NY", 10): (3, 2, 1), ("TX", 10): (1, 1, 0)}
    s = ctx.settings  # BUSINESS_TIMEZONE New York for the unknown zone
    model = await load_timing(
        ctx.repos.scoring,
        now,
        window_days=s.timing_window_days,
        timezone=s.business_timezone,
        prior_strength=s.timing_prior_strength,
    )
    assert model.get("NY", 10).attempts == 3 and model.get("TX", 10).answer.mean > 0.5


def test_posterior_shrinks_small_samples_toward_the_pooled_rate() -> None:
    cells = [
        TimingCell(state="NY", local_hour=10, attempts=100, answered=50, booked=5),
        TimingCell(state="NY", local_hour=18, attempts=2, answered=2, booked=0),
    ]
    model = estimate(cells, strength=10)
    pooled = model.answer_prior.mean
    assert abs(pooled - 53 / 104) < 1e-9
    assert abs(model.get("NY", 10).answer.mean - 0.5) < 0.01  # lots of data: follows it
    few = model.get("NY", 18).answer.mean
    assert pooled < few < 0.7  # 2/2 answered is not trusted as 100 %
    assert model.get("FL", 9).answer == model.answer_prior  # no data: the prior


def test_thompson_sampling_converges_to_the_better_hour() -> None:
    rng = np.random.default_rng(7)
    true_rate = {9: 0.15, 13: 0.35, 17: 0.20}
    counts = {h: [0, 0] for h in true_rate}  # attempts, answered
    picks = []
    for _ in range(1500):
        cells = [
            TimingCell(state="NY", local_hour=hr, attempts=a, answered=s, booked=0)
            for hr, (a, s) in counts.items()
        ]
        hour = thompson_hour(estimate(cells), "NY", list(true_rate), rng)
        counts[hour][0] += 1
        counts[hour][1] += int(rng.random() < true_rate[hour])
        picks.append(hour)
    early, late = picks[:100], picks[-300:]
    assert len(set(early)) == 3  # it explored every hour
    assert late.count(13) / len(late) > 0.9  # and now exploits the best one


def test_call_time_is_the_next_start_of_the_chosen_local_hour() -> None:
    now = datetime(2026, 11, 26, 15, 30, tzinfo=UTC)  # 10:30 in New York
    assert next_slot(now, "America/New_York", 14) == datetime(2026, 11, 26, 19, tzinfo=UTC)
    assert next_slot(now, "America/New_York", 9) == datetime(2026, 11, 27, 14, tzinfo=UTC)
    cells = [
        TimingCell(state="NY", local_hour=10, attempts=500, answered=400, booked=0),
        TimingCell(state="NY", local_hour=16, attempts=500, answered=50, booked=0),
    ]
    when = choose_call_time(
        estimate(cells), "NY", "America/New_York", [10, 16], now, np.random.default_rng(0)
    )
    assert when == now  # the best hour is the current one: call now
