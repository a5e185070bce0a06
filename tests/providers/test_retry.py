"""The one retry policy: Retry-After honoured on the injected clock, backoff bounded,
permanent and quota errors attempted once."""

from __future__ import annotations

import pytest

from app.core.clock import ManualClock
from app.providers.errors import (
    PermanentProviderError,
    QuotaExceededError,
    RetryableProviderError,
)
from app.providers.retry import RetryConfig, RetryPolicy
from tests.providers.conftest import FakeSleep


class Flaky:
    """Raises the given errors in turn, then returns "ok"; counts its calls."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def policy(clock: ManualClock, sleep: FakeSleep, **config: float) -> RetryPolicy:
    return RetryPolicy(RetryConfig(**config), clock=clock, sleep=sleep, rng=lambda: 1.0)  # type: ignore[arg-type]


async def test_retry_after_is_the_wait(clock: ManualClock, sleep: FakeSleep) -> None:
    start = clock.now()
    attempt = Flaky(RetryableProviderError("x", "slow down", retry_after=7.0))
    assert await policy(clock, sleep).run(attempt, what="t") == "ok"
    assert attempt.calls == 2
    assert sleep.waits == [7.0]
    assert (clock.now() - start).total_seconds() == 7.0


async def test_backoff_is_exponential_capped_and_jittered(
    clock: ManualClock, sleep: FakeSleep
) -> None:
    errors = [RetryableProviderError("x", "boom") for _ in range(4)]
    retry = policy(clock, sleep, max_attempts=5, base_delay=1.0, max_delay=5.0)
    assert await retry.run(Flaky(*errors), what="t") == "ok"
    assert sleep.waits == [1.0, 2.0, 4.0, 5.0]  # rng()=1 → the ceiling of each step
    low = RetryPolicy(RetryConfig(base_delay=1.0), clock=clock, sleep=sleep, rng=lambda: 0.0)
    assert [low.backoff(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]


async def test_permanent_error_is_attempted_exactly_once(
    clock: ManualClock, sleep: FakeSleep
) -> None:
    attempt = Flaky(PermanentProviderError("x", "bad number", code="21211"))
    with pytest.raises(PermanentProviderError):
        await policy(clock, sleep).run(attempt, what="t")
    assert attempt.calls == 1 and sleep.waits == []


async def test_quota_error_is_not_retried_in_process(clock: ManualClock, sleep: FakeSleep) -> None:
    attempt = Flaky(QuotaExceededError("resend", "daily quota", retry_after=3600.0))
    with pytest.raises(QuotaExceededError):
        await policy(clock, sleep).run(attempt, what="t")
    assert attempt.calls == 1


async def test_attempts_are_bounded(clock: ManualClock, sleep: FakeSleep) -> None:
    attempt = Flaky(*[RetryableProviderError("x", f"boom {i}") for i in range(10)])
    with pytest.raises(RetryableProviderError, match="boom 2"):
        await policy(clock, sleep, max_attempts=3).run(attempt, what="t")
    assert attempt.calls == 3


async def test_total_time_is_bounded(clock: ManualClock, sleep: FakeSleep) -> None:
    # A Retry-After past the budget is not slept through: the error goes back to the caller.
    attempt = Flaky(RetryableProviderError("x", "later", retry_after=500.0))
    with pytest.raises(RetryableProviderError):
        await policy(clock, sleep, max_total=60.0).run(attempt, what="t")
    assert attempt.calls == 1 and sleep.waits == []
