"""Hand-offs from the webhooks to other parts of nightshift, resolved at call time so the
webhooks do not import modules that are still being built.

- `ctx.alerts.acknowledge(code, by)`: an on-call engineer's `ACK <code>` SMS. Calls
  `app.alerts.ctx.alerts.acknowledge(code, by)` when the alerts package provides it, else the
  alerts repository's `acknowledge(code, by, now)`; returns the alert or None.
- `deliver(ctx, ids)`: sends queued outbox messages through the providers' OutboxDelivery
  (the only way an SMS or email leaves nightshift); one failure never stops the others.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import structlog

from app.jobs.bootstrap import Context

log = structlog.get_logger(__name__)
AckHook = Callable[[Context, str, str], Awaitable[Any]]


def _alerts_hook() -> AckHook | None:
    try:
        module = importlib.import_module("app.alerts")
    except ImportError:
        return None
    hook = getattr(module, "acknowledge", None)
    return hook if callable(hook) else None


async def acknowledge(ctx: Context, code: str, by: str) -> Any:
    """Acknowledge the alert with this code on behalf of `by` (an on-call number); the
    acknowledged alert (with `.key`), or None when no firing alert has the code."""
    hook = _alerts_hook()
    if hook is not None:
        return await hook(ctx, code, by)
    repo = getattr(ctx.repos, "alerts", None)
    if repo is not None and hasattr(repo, "acknowledge"):
        return await repo.acknowledge(code, by, ctx.clock.now())
    log.warning("ACK received but no alerts module is installed", code=code)
    return None


async def deliver(ctx: Context, message_ids: Iterable[int]) -> None:
    """Send each queued message now (claim → provider → record), logging failures."""
    for message_id in message_ids:
        try:
            result = await ctx.providers.delivery.deliver_message(message_id)
            log.info("webhook message delivered", outbox_id=message_id, outcome=result.outcome)
        except Exception as exc:  # one failed send must not lose the others
            log.error("webhook message delivery failed", outbox_id=message_id,
                      error=type(exc).__name__)  # fmt: skip
