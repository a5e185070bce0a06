"""The `growth` loop body: learn from the system's own outcomes, hourly.

One run, each step independent (one failing step is logged and the others still run; the
run then fails so the guardian sees it):
1. scoring: keep the lead-scoring model current (train on the latest window of outcomes, or
   the documented prior below the threshold) and score every lead, reasons and hot flags;
2. variants: A/B assignment weights by Thompson sampling, winners promoted and recorded
   (the draws seeded from the hour: `variants_rng`);
3. failures: error fingerprints of system_logs counted per day (the digest's trend);
4. quality: a quality score for every newly finished call; a warning alert
   (`call_quality_drop`) while the week's average is CALL_QUALITY_DROP_MARGIN below the
   week before;
5. status: the status page's window aggregates (7/30-day funnel, calls per day,
   deliverability, score counts) recomputed into `status_cache`, so a page load never scans
   weeks of rows; they are hour-grained, and recomputing them every 5 minutes was the
   second costliest database call of a 10,000-lead simulation (docs/simulation.md);
6. training: the agents' training documents (objection_responses.md,
   call_handling_playbook.md) built from the ended calls, a new version when their content
   changed, published into the knowledge base with AGENTS_AUTO_PUBLISH=1
   (app.agents.training; docs/agents.md "The training loop");
7. digest: the operator's daily digest, once per local day after DIGEST_HOUR (it reads
   what the steps above recorded, so it runs last).
Best time to call needs no step: it is estimated from `calls` when asked (app.scoring.timing).
Each step unpacks the graph and hands its domain function the collaborators it names.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from app.agents.figures import figures
from app.agents.service import AgentDeps
from app.agents.training import AutoPublish, TrainingDeps, publish_target, train
from app.appointments.digest import VersionFigures, maybe_send_digest
from app.jobs.bootstrap import Context
from app.providers.vapi_assistants import VapiAssistantsApi
from app.scoring.leads import current_model, describe_model, score_all
from app.scoring.patterns import record_patterns
from app.scoring.quality import quality_drop, score_calls
from app.scoring.variants import hourly_seed, update_variants

log = structlog.get_logger(__name__)
Step = Callable[[Context], Awaitable[dict[str, Any]]]


async def scoring(ctx: Context) -> dict[str, Any]:
    repos, settings = ctx.repos, ctx.settings
    stored = await current_model(repos.scoring, ctx.clock.now(), settings)
    counts = await score_all(repos.scoring, repos.logs, ctx.clock, settings, stored)
    return {**counts, "model_version": stored.version, "model": describe_model(stored)}


def variants_rng(now: datetime) -> np.random.Generator:
    """The A/B draws' generator: seeded from the hour of `now`, in every run.

    Chosen over the graph's `rng` because (1) a rerun within the hour (a retry, a guardian
    restart) must reproduce the same weights and winners, and a deployed graph's `rng` is
    unseeded; (2) in the simulator the clock is simulated, so the hourly seed is already
    deterministic for a run; (3) the graph's `rng` stream stays the call-slot sampler's
    alone, so adding an A/B step never shifts which slots a simulation draws."""
    return np.random.default_rng(hourly_seed(now))


async def variants(ctx: Context) -> dict[str, Any]:
    now = ctx.clock.now()
    return await update_variants(ctx.repos.scoring, now, ctx.settings, variants_rng(now))


async def failures(ctx: Context) -> dict[str, Any]:
    return await record_patterns(ctx.repos.scoring, ctx.clock.now())


async def quality(ctx: Context) -> dict[str, Any]:
    review_below = ctx.settings.call_quality_review_below
    counts = await score_calls(ctx.repos.scoring, ctx.clock, review_below)
    week = await ctx.repos.scoring.quality_week(review_below, ctx.clock.now())
    drop = quality_drop(week, ctx.settings.call_quality_drop_margin)
    if drop is not None:
        await ctx.alerts.raise_alert("call_quality_drop", "warning", drop, week.model_dump())
    else:
        await ctx.alerts.resolve_alert("call_quality_drop")
    return {**counts, "call_quality_week": week.week_avg}


async def status(ctx: Context) -> dict[str, Any]:
    await ctx.repos.appointments.status_refresh(ctx.settings.business_timezone, ctx.clock.now())
    return {"status_refreshed": True}


async def training(ctx: Context) -> dict[str, Any]:
    s, agents = ctx.settings, ctx.repos.agents
    auto = None
    if s.agents_auto_publish and s.vapi_api_key is None:
        log.warning("AGENTS_AUTO_PUBLISH is on but VAPI_API_KEY is not set: not published")
    elif s.agents_auto_publish and s.vapi_api_key is not None:
        api = VapiAssistantsApi(s.vapi_api_key, client=ctx.providers.client, clock=ctx.clock)
        deps = AgentDeps(agents, ctx.clock, publish_target(s))
        auto = AutoPublish(Path(s.agents_dir), deps, api)
    return await train(TrainingDeps(agents, ctx.clock, s.business_timezone), auto)


def version_figures(ctx: Context) -> VersionFigures:
    """The assistant versions' figures for the digest (read when it is built)."""

    async def read() -> list[dict[str, Any]]:
        return figures(await ctx.repos.agents.version_stats())

    return read


async def digest(ctx: Context) -> dict[str, Any]:
    sent = await maybe_send_digest(
        ctx.repos.appointments, ctx.clock, ctx.settings, ctx.providers.delivery,
        email_provider=ctx.providers.email.name, scoring=ctx.repos.scoring,
        versions=version_figures(ctx),
    )  # fmt: skip
    return {"digest_sent": sent}


STEPS: tuple[tuple[str, Step], ...] = (
    ("scoring", scoring),
    ("variants", variants),
    ("failures", failures),
    ("quality", quality),
    ("status", status),
    ("training", training),
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
