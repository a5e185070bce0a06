"""The `growth` loop body: learn from the system's own outcomes, hourly.

One run, each step independent (one failing step is logged and the others still run; the
run then fails so the guardian sees it):
1. scoring: keep the lead-scoring model current (train on the latest window of outcomes, or
   the documented prior below the threshold) and score every lead, reasons and hot flags;
2. variants: A/B assignment weights by Thompson sampling, winners promoted and recorded;
3. failures: error fingerprints of system_logs counted per day (the digest's trend);
4. quality: a quality score for every newly finished call;
5. status: the status page's window aggregates (7/30-day funnel, calls per day,
   deliverability, score counts) recomputed into `status_cache`, so a page load never scans
   weeks of rows; they are hour-grained, and recomputing them every 5 minutes was the
   second costliest database call of a 10,000-lead simulation (docs/simulation.md);
6. digest: the operator's daily digest, once per local day after DIGEST_HOUR (it reads
   what the steps above recorded, so it runs last).
Best time to call needs no step: it is estimated from `calls` when asked (app.scoring.timing).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import structlog

from app.appointments.digest import maybe_send_digest
from app.scoring.leads import current_model, describe_model, score_all
from app.scoring.patterns import record_patterns
from app.scoring.quality import score_calls
from app.scoring.variants import update_variants

if TYPE_CHECKING:
    from app.jobs.bootstrap import Context

log = structlog.get_logger(__name__)
Step = Callable[["Context"], Awaitable[dict[str, Any]]]


async def scoring(ctx: Context) -> dict[str, Any]:
    stored = await current_model(ctx)
    counts = await score_all(ctx, stored)
    return {**counts, "model_version": stored.version, "model": describe_model(stored)}


async def status(ctx: Context) -> dict[str, Any]:
    await ctx.repos.appointments.status_refresh(ctx.settings.business_timezone, ctx.clock.now())
    return {"status_refreshed": True}


async def digest(ctx: Context) -> dict[str, Any]:
    return {"digest_sent": await maybe_send_digest(ctx)}


STEPS: tuple[tuple[str, Step], ...] = (
    ("scoring", scoring),
    ("variants", update_variants),
    ("failures", record_patterns),
    ("quality", score_calls),
    ("status", status),
    ("digest", digest),
)


class GrowthStepFailed(RuntimeError):
    """At least one step failed; the others ran. The message names them."""


async def run(ctx: Context) -> dict[str, Any]:
    """One tick of `growth`; returns the counts of every step."""
    counts: dict[str, Any] = {}
    failed: list[str] = []
    for name, step in STEPS:
        try:
            counts.update(await step(ctx))
        except Exception:  # one step's failure must not stop the others
            log.exception("growth step failed", step=name)
            failed.append(name)
    if failed:
        raise GrowthStepFailed(f"growth steps failed: {', '.join(failed)}; counts: {counts}")
    return counts
