"""The status snapshot: every section of the page in one database round trip.

Contract of `collect(ctx)`: a JSON-ready dict with `now`, `jobs` (one row per registered
job: last run, state, duration, next run, late), `alerts` (firing, with their codes),
`funnel` (7 and 30 days), `calls_per_day` (14 days, by outcome), `deliverability` (per
campaign, 30 days, with rates), `health` (per API: last result and latencies), `model`,
`hot_leads`, `scored_leads`, `appointments` and `consent` (leads held for a human, with
their words, and campaign steps refused for want of consent in 30 days, per reason),
`call_quality` (connected calls' average quality of the last 7 days against the 7 before,
with `below`, the review level: the digest's `numbers["call_quality"]`, from the same
`quality_weekly` query; `quality_line` words it as the digest does), plus
`computed_at` (when the window aggregates — calls, deliverability, scores — were computed:
the hourly growth job refreshes them; older than CACHE_SECONDS they are recomputed on the
spot).
`overview` is the console's overview (app.console.pages.overview: today / 7 / 30 days, read
live) and `funnel` its windows, so /status, `nightshift status` and /console show the same
figures; `verdict` is the one green / amber / red line (app.console.verdict).
No secret is ever part of it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from croniter import croniter

from app.appointments.digest import quality_line
from app.console import pages
from app.console.verdict import verdict
from app.core.settings import Settings
from app.db.console import ConsoleRepository
from app.db.models import JobState
from app.db.scoring import ScoringRepository
from app.jobs import JOBS
from app.jobs.bootstrap import Context
from app.jobs.health import job_health
from app.providers.dryrun import DRYRUN

CONSENT_DAYS = timedelta(days=30)  # the consent refusals counted: the last 30 days
CACHE_SECONDS = 7_800  # two growth runs and some: a page load recomputes only when growth is late


def _seconds(state: JobState) -> float | None:
    if state.finished_at is None:
        return None
    return round((state.finished_at - state.started_at).total_seconds(), 2)


def job_rows(states: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """One row per registered job, in registry order."""

    by_name = {s["job"]: JobState.model_validate(s) for s in states}
    rows = []
    for job in JOBS:
        state = by_name.get(job.name)
        next_run: datetime = croniter(job.cron, now).get_next(datetime)
        rows.append({
            "job": job.name, "cron": job.cron, **job_health(state, job.name, now),
            "duration_seconds": _seconds(state) if state else None,
            "error": state.error if state else None, "next_run_at": next_run.isoformat(),
        })  # fmt: skip
    return rows


def _rate(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


def with_rates(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Deliverability rows with bounce/complaint/filter rates in percent."""
    return [
        {
            **r,
            **{f"{k}_rate": _rate(r[k], r["sent"]) for k in ("bounced", "complained", "filtered")},
        }
        for r in rows
    ]


def console_deps(ctx: Context) -> pages.ConsoleDeps:
    """What the console's pages read, from the graph."""
    repos = ctx.repos
    return pages.ConsoleDeps(ConsoleRepository(ctx.transport), repos.alerts, repos.campaigns,
                             ctx.clock, ctx.settings.business_timezone,
                             agents=repos.agents)  # fmt: skip


def dry_run_channels(ctx: Context) -> list[str]:
    """The channels whose port is a dry-run twin: stored, never sent (the DRY RUN banner)."""
    delivery = ctx.providers.delivery  # the ports this graph really sends through
    ports = (("email", delivery.email), ("sms", delivery.sms), ("calls", delivery.calls))
    return [channel for channel, port in ports if port.name == DRYRUN]


async def call_quality(
    scoring: ScoringRepository, settings: Settings, now: datetime
) -> dict[str, Any]:
    """The call quality of the 7 days to `now` against the 7 before, as the digest reads it
    (`numbers["call_quality"]`, app.appointments.digest) and its `line` in the same words."""
    quality = {**(await scoring.quality_week(settings.call_quality_review_below, now)).model_dump(),
               "below": settings.call_quality_review_below}  # fmt: skip
    return {**quality, "line": quality_line(quality)}


async def collect(ctx: Context) -> dict[str, Any]:
    now = ctx.clock.now()
    zone = ctx.settings.business_timezone
    snap = await ctx.repos.appointments.status_snapshot(zone, now, CACHE_SECONDS)
    snap["overview"] = await pages.overview(console_deps(ctx))
    snap["funnel"] = pages.funnel(snap["overview"])
    snap["jobs"] = job_rows(snap["jobs"], now)
    snap["deliverability"] = with_rates(snap["deliverability"])
    snap["timezone"] = ctx.settings.business_timezone
    snap["dry_run"] = dry_run_channels(ctx)
    # leads held for a human, and steps refused for want of consent (13_consent.sql)
    snap["consent"] = await ctx.repos.consent.summary(now - CONSENT_DAYS)
    snap["call_quality"] = await call_quality(ctx.repos.scoring, ctx.settings, now)
    snap["verdict"] = verdict(snap["jobs"], snap["alerts"], snap["health"], snap["overview"])
    return snap
