"""The `campaign_manager` loop: enroll, guard deliverability, place calls hottest-first.

One tick:
1. enroll matching leads into every active campaign up to today's (ramped) cap;
2. pause a campaign whose bounce, complaint or carrier-filter rate spikes, with a warning alert
   (`nightshift campaigns resume SLUG` lifts it; a 7-day cool-off doubles the threshold);
3. queue the next attempt of unanswered calls (no answer, busy, voicemail) at least
   CALL_RETRY_SPACING_HOURS later, up to CALL_MAX_ATTEMPTS;
4. place waiting calls, hottest lead first, within Vapi's concurrency limit and through the
   compliance gate (a call not permitted now stays queued for a later tick).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import structlog

from app.alerts import Alerts
from app.campaigns.definition import CampaignSettings, Window
from app.campaigns.steps import lead_facts
from app.compliance.gate import Decision, evaluate, permitted_hours
from app.compliance.rules import HoursRule
from app.core.clock import Clock
from app.core.settings import Settings
from app.db.campaigns import ManagerRepository, QueuedCall
from app.db.repositories import Repositories
from app.providers.delivery import OutboxDelivery
from app.scoring.timing import TimingModel, choose_call_time, load_configured_timing

log = structlog.get_logger(__name__)
CANDIDATES_PER_SLOT = 5  # look past leads that are outside their hours right now


@dataclass(frozen=True)
class ManagerDeps:
    """What a `campaign_manager` tick uses (the job entry builds it): the database, the
    clock, settings (call limits, retry spacing, timing estimates), the alerts service and
    the outbox delivery that places calls."""

    repos: Repositories
    clock: Clock
    settings: Settings
    alerts: Alerts
    delivery: OutboxDelivery


async def run(deps: ManagerDeps, rng: np.random.Generator) -> dict[str, Any]:
    """One tick of `campaign_manager`; returns its counts. `rng` samples learned call slots."""
    now, settings = deps.clock.now(), deps.settings
    enrolled = await deps.repos.campaigns.enroll(now)
    paused = await guard_deliverability(deps.repos.manager, deps.alerts, deps.clock.now())
    requeued = await deps.repos.manager.requeue_unanswered(
        settings.call_max_attempts, int(settings.call_retry_spacing_hours * 3600), now
    )
    placed = await place_calls(deps, rng)
    return {
        "enrolled": sum(e.enrolled for e in enrolled),
        "paused": paused,
        "calls_requeued": requeued,
        **placed,
    }


async def guard_deliverability(repo: ManagerRepository, alerts: Alerts, now: datetime) -> int:
    """Pause spiking campaigns (one SQL call) and raise a warning alert for each."""
    paused = await repo.deliverability_check(now)
    for p in paused:
        await alerts.raise_alert(f"campaign_paused:{p.slug}", "warning",
            f"Campaign {p.slug} paused: {p.metric} {p.rate:.2%} over {p.sample} sends",
            {"metric": p.metric, "rate": p.rate, "threshold": p.threshold,
             "resume": f"nightshift campaigns resume {p.slug}"},
        )  # fmt: skip
    return len(paused)


def _settings(call: QueuedCall) -> CampaignSettings | None:
    """The call's campaign settings; None for a call outside a campaign (a retry, a rescue)."""
    return CampaignSettings.stored(call.campaign.definition) if call.campaign else None


def _window_and_zone(call: QueuedCall) -> tuple[HoursRule | None, str]:
    """The call step's own window (the owner's choice for it, as drip does for texts), else
    its campaign's (none for a call outside a campaign), and the default zone. The gate
    intersects it with the legal hours of every candidate zone."""
    campaign = _settings(call)
    zone = campaign.timezone if campaign is not None else CampaignSettings().timezone
    if call.window:
        return Window.model_validate(call.window).rule(), zone
    return (campaign.window.rule() if campaign is not None else None), zone


def _learned(call: QueuedCall) -> bool:
    campaign = _settings(call)
    return campaign is not None and campaign.call_timing == "learned"


def choose_slot(
    call: QueuedCall, timing: TimingModel, now: datetime, rng: np.random.Generator
) -> datetime:
    """Thompson sampling among the lead's permitted hours today; now when it picks this hour."""
    window, default_tz = _window_and_zone(call)
    tz, hours = permitted_hours(
        "call", lead_facts(call.lead), now, window=window, default_tz=default_tz
    )
    if not hours:
        return now
    return choose_call_time(timing, call.lead.state, tz, hours, now, rng)


def call_gate(call: QueuedCall, now: datetime) -> Decision:
    """The gate's verdict for placing `call` now (`until`: when its window closes)."""
    window, default_tz = _window_and_zone(call)
    return evaluate(
        "call", lead_facts(call.lead), now, window=window, recent_attempts=call.recent_attempts,
        default_tz=default_tz,
    )  # fmt: skip


async def _timing(deps: ManagerDeps) -> TimingModel:
    return await load_configured_timing(deps.repos.scoring, deps.clock.now(), deps.settings)


async def place_calls(deps: ManagerDeps, rng: np.random.Generator) -> dict[str, int]:
    """Place waiting calls hottest-first while Vapi has free concurrency. A call of a campaign
    with `call_timing: learned` first gets its slot from Thompson sampling (drawn from `rng`)
    over the lead's permitted hours (growth's best time to call) and waits for it when that
    is later."""
    limit = deps.settings.vapi_max_concurrent_calls
    now = deps.clock.now()
    queue, in_flight = await deps.repos.manager.call_queue(limit * CANDIDATES_PER_SLOT, now)
    slots = max(0, limit - in_flight)
    counts = {"calls_placed": 0, "calls_waiting": 0, "calls_failed": 0, "calls_scheduled": 0}
    timing: TimingModel | None = None
    called: set[int] = set()  # one call per lead per run: two campaigns' calls can be due
    for call in queue:  # to one lead, and the queue's attempt counts predate this run
        if slots == 0:
            break
        lead_id = call.lead.id
        decision = call_gate(call, now)
        if lead_id in called or not decision.allowed:
            counts["calls_waiting"] += 1
            continue
        if _learned(call) and call.not_before is None:  # its slot is chosen once
            timing = timing or await _timing(deps)
            at = choose_slot(call, timing, now, rng)
            if at > now:
                await deps.repos.manager.defer_call(call.id, at, now)
                counts["calls_scheduled"] += 1
                continue
        delivery = await deps.delivery.place_call(call.id, decision.until)
        if delivery.outcome == "concurrency":
            break
        if delivery.outcome == "window":  # its window closed meanwhile: a later run
            counts["calls_waiting"] += 1
            continue
        placed = delivery.outcome in ("sent", "done")
        called.add(lead_id)
        counts["calls_placed" if placed else "calls_failed"] += 1
        slots -= placed
    return counts
