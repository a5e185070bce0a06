"""Best time to call: a Beta-Binomial estimate of the answer (and booking) rate per state
and local hour, and Thompson sampling among the permitted hours.

The prior is empirical Bayes: the pooled rate over all calls, worth `strength` pseudo-calls,
so a state/hour with few calls stays near the average and one with many follows its data.
Thompson sampling draws one rate from each permitted hour's posterior and calls at the hour
whose draw is highest: uncertain hours get tried early (exploration), the best hour wins
more and more often as evidence accumulates (exploitation).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from app.core.settings import Settings
from app.db.scoring import ScoringRepository, TimingCell


@dataclass(frozen=True)
class Beta:
    alpha: float
    beta: float

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    def interval(self, z: float = 1.96) -> tuple[float, float]:
        """A normal-approximation credible interval, clipped to [0, 1]."""
        a, b = self.alpha, self.beta
        sd = float(np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1))))
        return max(0.0, self.mean - z * sd), min(1.0, self.mean + z * sd)


@dataclass(frozen=True)
class HourEstimate:
    state: str
    hour: int
    attempts: int
    answer: Beta
    booking: Beta


@dataclass(frozen=True)
class TimingModel:
    cells: dict[tuple[str, int], HourEstimate]
    answer_prior: Beta
    booking_prior: Beta

    def get(self, state: str | None, hour: int) -> HourEstimate:
        """The estimate of a state/hour; the prior alone when there is no data."""
        key = (state or "??", hour)
        return self.cells.get(key) or HourEstimate(
            key[0], hour, 0, self.answer_prior, self.booking_prior
        )


def _prior(successes: int, trials: int, strength: float) -> Beta:
    rate = (successes + 1) / (trials + 2)  # Laplace: a usable prior even with no calls at all
    return Beta(rate * strength, (1 - rate) * strength)


def estimate(cells: Iterable[TimingCell], strength: float = 10.0) -> TimingModel:
    """Posteriors per (state, local hour) from the call counts."""
    cells = list(cells)
    attempts = sum(c.attempts for c in cells)
    answer = _prior(sum(c.answered for c in cells), attempts, strength)
    booking = _prior(sum(c.booked for c in cells), attempts, strength)
    out = {
        (c.state, c.local_hour): HourEstimate(
            c.state, c.local_hour, c.attempts,
            Beta(answer.alpha + c.answered, answer.beta + c.attempts - c.answered),
            Beta(booking.alpha + c.booked, booking.beta + c.attempts - c.booked),
        )
        for c in cells
    }  # fmt: skip
    return TimingModel(out, answer, booking)


async def load_timing(
    repo: ScoringRepository,
    now: datetime,
    *,
    window_days: int,
    timezone: str,
    prior_strength: float,
) -> TimingModel:
    """The estimates at `now` (one SQL call): load once per tick, then choose per call.
    Reads the calls of the last `window_days` (TIMING_WINDOW_DAYS); a lead without a known
    zone counts in `timezone` (BUSINESS_TIMEZONE); the prior is worth `prior_strength`
    pseudo-calls (TIMING_PRIOR_STRENGTH)."""
    cells = await repo.timing_stats(window_days, timezone, now)
    return estimate(cells, prior_strength)


async def load_configured_timing(
    repo: ScoringRepository, now: datetime, settings: Settings
) -> TimingModel:
    """`load_timing` with TIMING_WINDOW_DAYS, BUSINESS_TIMEZONE and TIMING_PRIOR_STRENGTH."""
    return await load_timing(
        repo, now, window_days=settings.timing_window_days,
        timezone=settings.business_timezone, prior_strength=settings.timing_prior_strength,
    )  # fmt: skip


def thompson_hour(
    model: TimingModel,
    state: str | None,
    hours: Sequence[int],
    rng: np.random.Generator,
    metric: str = "answer",
) -> int:
    """One Thompson draw: the permitted hour whose sampled rate is highest."""
    if not hours:
        raise ValueError("no permitted hour to choose from")
    draws = []
    for hour in hours:
        est = model.get(state, hour)
        post = est.answer if metric == "answer" else est.booking
        draws.append(rng.beta(post.alpha, post.beta))
    return int(hours[int(np.argmax(draws))])


def next_slot(now: datetime, timezone: str, hour: int) -> datetime:
    """The next start of `hour` in the lead's local time (today if still ahead, else
    tomorrow), as UTC."""
    tz = ZoneInfo(timezone)
    local = now.astimezone(tz)
    slot = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if slot <= local:
        slot = (local + timedelta(days=1)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return slot.astimezone(ZoneInfo("UTC"))


def choose_call_time(
    model: TimingModel,
    state: str | None,
    timezone: str,
    hours: Sequence[int],
    now: datetime,
    rng: np.random.Generator,
) -> datetime:
    """When to place a call: now if the sampled best hour is the current local hour, else the
    next start of that hour. `hours` are the lead's permitted local hours (compliance)."""
    hour = thompson_hour(model, state, hours, rng)
    if now.astimezone(ZoneInfo(timezone)).hour == hour:
        return now
    return next_slot(now, timezone, hour)


@dataclass(frozen=True)
class TimingRow:
    state: str
    hour: int
    calls: int
    answer_rate: float
    answer_95: tuple[float, float]
    booking_rate: float


def table(model: TimingModel) -> list[TimingRow]:
    """Rows for `nightshift insights timing`, best answer rate first within each state."""
    rows = sorted(model.cells.values(), key=lambda e: (e.state, -e.answer.mean, e.hour))
    return [
        TimingRow(e.state, e.hour, e.attempts, e.answer.mean, e.answer.interval(), e.booking.mean)
        for e in rows
    ]
