"""The one retry policy every adapter call goes through (tenacity), at this layer only.

Contract:
- retried: `RetryableProviderError` (429, 5xx, transport errors, Resend 409 concurrent);
  never retried: `PermanentProviderError`, and `QuotaExceededError` (its wait is hours);
- the wait is the provider's `Retry-After` when it gave one, else exponential backoff with
  jitter: base·2^(n-1), capped at `max_delay`, then drawn in [d/2, d];
- bounded: at most `max_attempts` attempts, and no wait that would take the call past
  `max_total` seconds since its first attempt (on the injected clock); then the last error
  is raised unchanged, so the caller can requeue the outbox row;
- `sleep` and `clock` are injected: tests pass a sleep that advances a ManualClock.
What an attempt does after an ambiguous failure (reconcile first) is the adapter's business.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from app.core.clock import Clock
from app.providers.errors import QuotaExceededError, RetryableProviderError

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RetryConfig:
    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_total: float = 120.0


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, RetryableProviderError) and not isinstance(exc, QuotaExceededError)


class RetryPolicy:
    """Runs an attempt function under the policy above."""

    def __init__(
        self,
        config: RetryConfig,
        *,
        clock: Clock,
        sleep: Sleep = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self.clock = clock
        self.sleep = sleep
        self.rng = rng

    def backoff(self, attempt_number: int) -> float:
        """The jittered exponential wait after attempt `attempt_number` (1-based)."""
        ceiling = min(self.config.max_delay, self.config.base_delay * 2.0 ** (attempt_number - 1))
        return ceiling / 2 + self.rng() * ceiling / 2

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryableProviderError) and exc.retry_after is not None:
            return exc.retry_after  # the provider's Retry-After wins
        return self.backoff(state.attempt_number)

    async def run(self, attempt: Callable[[], Awaitable[T]], *, what: str) -> T:
        """Call `attempt` until it returns, a non-retryable error, or the bounds are hit.
        The first attempt is awaited directly (most calls succeed at once, and tenacity's
        machinery costs more per call than an in-process answer); only a retryable failure
        enters tenacity, which sees it as its own first attempt: the same waits and bounds."""
        started = self.clock.now()
        try:
            return await attempt()
        except Exception as exc:
            if not _is_retryable(exc):
                raise
            first: Exception | None = exc

        async def replay_then_attempt() -> T:
            nonlocal first
            if first is not None:  # tenacity's attempt 1 is the failure already seen
                failed, first = first, None
                raise failed
            return await attempt()

        def stop(state: RetryCallState) -> bool:
            elapsed = (self.clock.now() - started).total_seconds()
            return (
                state.attempt_number >= self.config.max_attempts
                or elapsed + state.upcoming_sleep > self.config.max_total
            )

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "provider call failed, retrying",
                call=what,
                attempt=state.attempt_number,
                wait_seconds=round(state.upcoming_sleep, 3),
                error=str(exc),
            )

        retrying = AsyncRetrying(
            retry=retry_if_exception(_is_retryable),
            wait=self._wait,
            stop=stop,
            sleep=self.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        return await retrying(replay_then_attempt)
