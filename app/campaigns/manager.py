"""The `campaign_manager` loop: enroll, guard deliverability, place calls hottest-first.

One tick:
1. enroll matching leads into every active campaign up to today's (ramped) cap;
2. pause a campaign whose bounce, complaint or carrier-filter rate spikes, with a warning alert
   (`nightshift campaigns resume SLUG` lifts it; a 7-day cool-off doubles the threshold);
3. queue the next attempt of unanswered calls (no answer, busy, voicemail) at least
   CALL_RETRY_SPACING_HOURS later, up to CALL_MAX_ATTEMPTS;
4. place waiting calls in the per-call model's order (app.scoring.call_order: the chance
   that a call placed now books; CALL_ORDER_RANDOM_SHARE of the slots in random order as a
   live control once that model is trained), within Vapi's concurrency limit, each
   campaign's daily call cap (`caps.per_day.call`, applied here so the order decides who
   gets the day's slots) and through the compliance gate (a call not permitted now stays
   queued for a later tick).
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
from app.db.campaigns import ManagerBegin, Paused, QueuedCall
from app.db.repositories import Repositories
from app.providers.delivery import OutboxDelivery
from app.scoring.call_order import CallRanker, Ranked, queue_scores, rank_queue
from app.scoring.timing import TimingModel, choose_call_time, load_configured_timing

log = structlog.get_logger(__name__)
CANDIDATES_PER_SLOT = 5  # look past leads that are outside their hours right now
QUEUE_CANDIDATES = 200  # waiting calls the per-call model orders (see call_queue's p_order)


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
    ranker: CallRanker | None = None  # replaces the model's call order (the simulator's oracle)
    opened: ManagerBegin | None = None  # the opening, made with the run's start (its begin)


async def run(deps: ManagerDeps, rng: np.random.Generator) -> dict[str, Any]:
    """One tick of `campaign_manager`; returns its counts. `rng` samples learned call slots.
    Its opening reads and writes (enroll, pause spiking campaigns, requeue unanswered calls,
    read the call queue) are one round trip (ManagerRepository.begin, in that order), or
    made already with the run's start (`deps.opened`: `begin_args`' arguments, by
    app/jobs/campaign_manager.py `begin`); the pause alerts are raised after it (they touch
    only alerts)."""
    begun = deps.opened or await deps.repos.manager.begin(deps.clock.now(), *begin_args(deps))
    await alert_paused(deps.alerts, begun.paused)
    placed = await place_calls(deps, rng, (begun.queue, begun.in_flight))
    return {
        "enrolled": sum(e.enrolled for e in begun.enrolled),
        "paused": len(begun.paused),
        "calls_requeued": begun.requeued,
        **placed,
    }


async def alert_paused(alerts: Alerts, paused: list[Paused]) -> None:
    """A warning alert for each campaign deliverability_check paused."""
    for p in paused:
        await alerts.raise_alert(f"campaign_paused:{p.slug}", "warning",
            f"Campaign {p.slug} paused: {p.metric} {p.rate:.2%} over {p.sample} sends",
            {"metric": p.metric, "rate": p.rate, "threshold": p.threshold,
             "resume": f"nightshift campaigns resume {p.slug}"},
        )  # fmt: skip


def _settings(calls: list[QueuedCall]) -> dict[int, CampaignSettings]:
    """Each campaign's settings, validated once a run (not once per call and use: 200
    candidates, each read by the gate, the cap and the timing). Once per campaign, not per
    call: a comprehension keyed by the campaign validated it again for each of its calls
    (200 validations a run where 1 or 2 were needed)."""
    snapshots = {c.campaign.id: c.campaign for c in calls if c.campaign is not None}
    return {cid: CampaignSettings.stored(s.definition) for cid, s in snapshots.items()}


def _campaign(call: QueuedCall, settings: dict[int, CampaignSettings]) -> CampaignSettings | None:
    """The call's campaign settings; None for a call outside a campaign (a retry, a rescue)."""
    return settings[call.campaign.id] if call.campaign is not None else None


def _window_and_zone(
    call: QueuedCall, campaign: CampaignSettings | None
) -> tuple[HoursRule | None, str]:
    """The call step's own window (the owner's choice for it, as drip does for texts), else
    its campaign's (none for a call outside a campaign), and the default zone. The gate
    intersects it with the legal hours of every candidate zone."""
    zone = campaign.timezone if campaign is not None else CampaignSettings().timezone
    if call.window:
        return Window.model_validate(call.window).rule(), zone
    return (campaign.window.rule() if campaign is not None else None), zone


def _learned(campaign: CampaignSettings | None) -> bool:
    return campaign is not None and campaign.call_timing == "learned"


def choose_slot(
    call: QueuedCall,
    campaign: CampaignSettings | None,
    timing: TimingModel,
    now: datetime,
    rng: np.random.Generator,
) -> datetime:
    """Thompson sampling among the lead's permitted hours today; now when it picks this hour."""
    window, default_tz = _window_and_zone(call, campaign)
    tz, hours = permitted_hours(
        "call", lead_facts(call.lead), now, window=window, default_tz=default_tz
    )
    if not hours:
        return now
    return choose_call_time(timing, call.lead.state, tz, hours, now, rng)


def call_gate(call: QueuedCall, campaign: CampaignSettings | None, now: datetime) -> Decision:
    """The gate's verdict for placing `call` (of `campaign`) now (`until`: when its window
    closes; a refusal's `next_at` is not searched: a refused call waits for a later run)."""
    window, default_tz = _window_and_zone(call, campaign)
    return evaluate(
        "call", lead_facts(call.lead), now, window=window, recent_attempts=call.recent_attempts,
        default_tz=default_tz, when=False,
    )  # fmt: skip


async def _timing(deps: ManagerDeps) -> TimingModel:
    return await load_configured_timing(deps.repos.scoring, deps.clock.now(), deps.settings)


# What a placement's outcome counts as; anything else (a provider failure) is calls_failed.
# A call refused at its claim (no ai_voice consent on record, the lead held for a human) or
# cancelled by a do-not-call is not a failure to place: each has its own count.
CALL_COUNTS = {
    "sent": "calls_placed", "done": "calls_placed", "refused": "calls_refused",
    "suppressed": "calls_suppressed", "busy": "calls_waiting",
}  # fmt: skip


def begin_args(deps: ManagerDeps) -> tuple[int, int, int, str]:
    """The opening's arguments after its instant (ManagerRepository.begin): the calls'
    attempt limit, retry spacing in seconds, how many waiting calls to read, their order."""
    s = deps.settings
    return (s.call_max_attempts, int(s.call_retry_spacing_hours * 3600), _fetch(s),
            _candidates(deps))  # fmt: skip


def _fetch(settings: Settings) -> int:
    """How many waiting calls a run reads (call_queue's p_limit)."""
    return max(settings.vapi_max_concurrent_calls * CANDIDATES_PER_SLOT, QUEUE_CANDIDATES)


async def place_calls(
    deps: ManagerDeps,
    rng: np.random.Generator,
    read: tuple[list[QueuedCall], int] | None = None,
) -> dict[str, int]:
    """Place waiting calls in the queue's order (`_ordered`) while Vapi has free concurrency;
    each placed call records its score and how it was picked. A call of a campaign
    with `call_timing: learned` first gets its slot from Thompson sampling (drawn from `rng`)
    over the lead's permitted hours (growth's best time to call) and waits for it when that
    is later. `read`: the call queue and the calls in flight, as `run` read them in its
    first call; None reads them here (call_queue)."""
    limit = deps.settings.vapi_max_concurrent_calls
    now = deps.clock.now()
    if read is None:
        read = await deps.repos.manager.call_queue(_fetch(deps.settings), now, _candidates(deps))
    queue, in_flight = read
    slots = max(0, limit - in_flight)
    counts = dict.fromkeys(("calls_placed", "calls_waiting", "calls_failed", "calls_refused",
                            "calls_suppressed", "calls_scheduled"), 0)  # fmt: skip
    today = await deps.repos.manager.calls_placed_today(now) if slots and queue else {}
    campaigns = _settings(queue)
    open_calls = [call for call in queue if not _capped(call, campaigns, today)]
    counts["calls_waiting"] += len(queue) - len(open_calls)
    if slots == 0 or not open_calls:  # (ordering a queue whose campaigns are all capped
        return counts  # for the day cost 370 ms per run)
    queue = open_calls
    timing: TimingModel | None = None
    called: set[int] = set()  # one call per lead per run: two campaigns' calls can be due
    placed_order: list[Ranked] = []
    gate = _GateMemo(campaigns, now)
    featurise = any(gate(call).allowed for call in queue)
    for ranked in await _ordered(deps, queue, now, rng, featurise):  # to one lead, and the
        call = ranked.call  # queue's attempt counts predate this run
        if slots == 0:
            break
        lead_id, campaign = call.lead.id, _campaign(call, campaigns)
        decision = gate(call)
        if lead_id in called or not decision.allowed or _capped(call, campaigns, today):
            counts["calls_waiting"] += 1
            continue
        if _learned(campaign) and call.not_before is None:  # its slot is chosen once
            timing = timing or await _timing(deps)
            at = choose_slot(call, campaign, timing, now, rng)
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
        counts[CALL_COUNTS.get(delivery.outcome, "calls_failed")] += 1
        slots -= placed
        if placed:
            placed_order.append(ranked)
            if call.campaign is not None:
                today[call.campaign.id] = today.get(call.campaign.id, 0) + 1
    await deps.repos.scoring.mark_call_order(
        [r.call.id for r in placed_order], [r.score for r in placed_order],
        [r.picked for r in placed_order],
    )  # fmt: skip
    return counts


def _candidates(deps: ManagerDeps) -> str:
    """Which waiting calls are read to be ordered: the hottest by lead score; every one at
    random when every slot is random; the newest for an outside ranker (the simulator's
    oracle: a lead's chance cools with the days since its enquiry)."""
    if deps.ranker is not None:
        return "newest"
    return "random" if deps.settings.call_order_random_share >= 1 else "score"


class _GateMemo:
    """Each candidate's gate verdict at `now`, evaluated once a run: the verdict depends on
    the call and `now` only (not on what this run placed: a lead called this run and the
    daily caps are checked beside it), so the check whether any candidate may be called
    and the placing loop share it."""

    def __init__(self, campaigns: dict[int, CampaignSettings], now: datetime) -> None:
        self.campaigns, self.now = campaigns, now
        self.decided: dict[int, Decision] = {}

    def __call__(self, call: QueuedCall) -> Decision:
        if call.id not in self.decided:
            campaign = _campaign(call, self.campaigns)
            self.decided[call.id] = call_gate(call, campaign, self.now)
        return self.decided[call.id]


def _capped(
    call: QueuedCall, campaigns: dict[int, CampaignSettings], placed_today: dict[int, int]
) -> bool:
    """Its campaign placed its daily call cap (`caps.per_day.call`) today already. The cap
    is applied here, in the queue's order, not when the drip queues the call step: applied
    there (first come, first queued) it chose who is called and the order chose nothing."""
    if call.campaign is None:  # a retry or rescue outside a campaign: no campaign cap
        return False
    cap = campaigns[call.campaign.id].caps.per_day.get("call")
    return cap is not None and placed_today.get(call.campaign.id, 0) >= cap


async def _ordered(
    deps: ManagerDeps,
    queue: list[QueuedCall],
    now: datetime,
    rng: np.random.Generator,
    featurise: bool = True,
) -> list[Ranked]:
    """The queue in the per-call model's order, CALL_ORDER_RANDOM_SHARE of the slots random
    (app.scoring.call_order); an outside ranker (the simulator's oracle) replaces the
    model's order but the model's scores are still recorded. `featurise` False (the gate
    refuses every candidate now, so none is placed and no score recorded): the candidates'
    features are not read (their scoring_features read, 8-13 ms for 200 on day 8 of a
    10,000-lead simulation) and every score is 0; the order is still drawn, so `rng` is
    left where the scored order leaves it (rank_queue's draws depend on the number of
    candidates and the random share, not on the scores)."""
    stored = await deps.repos.scoring.latest_model(now)
    if featurise:
        scores = await queue_scores(deps.repos.scoring, stored, queue, now)
    else:
        scores = [0.0] * len(queue)
    oracle = list(deps.ranker(queue, now)) if deps.ranker is not None else None
    share = deps.settings.call_order_random_share
    if share < 1 and not (stored is not None and "per_call" in stored.model):
        share = 0.0  # the control measures the per-call model: none is trained yet
    return rank_queue(queue, scores, rng, share, oracle)
