"""The `drip` loop: send due sequence steps, inside permitted hours, never twice.

One tick: claim a batch of due steps (one call: FOR UPDATE SKIP LOCKED + lease) → plan each
(gate, caps, render; pure) → write every outbox row of the batch (one call) → deliver each
through the provider layer (a row is claimed before its provider is called) → settle every
enrollment of the batch (one call). Each channel's rows are claimed in chunks sized by its
provider's rate limiter (`OutboxDelivery.claim_chunk`), the same way for every provider: the
first chunk by the outbox write itself (its rows written already claimed), the next ones by
the delivery as their turn comes.
Repeats while batches come back full, up to a bound; the next batch's claim runs while this
batch's sends are in flight, once its rows are all claimed (NextClaim), and is topped up
after the settle when it came back short; a batch's settle runs in the database while the
next batch is planned (Settling), and ends before that batch's first call. A step outside
the permitted window is rescheduled to the next permitted instant; one lead's failure is
logged and rescheduled, never the end of the run.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from app.campaigns.definition import CampaignSettings
from app.campaigns.overlap import NextClaim, Settling, heap_frozen
from app.campaigns.rescue import deliver_due_rescues
from app.campaigns.steps import Plan, plan_step, settle, step_result
from app.compliance.rules import HoursRule
from app.core.clock import Clock
from app.core.settings import Settings
from app.db.campaigns import ClaimedStep, DripBegin, Enqueued, StepResult
from app.db.failures import Failure
from app.db.repositories import Repositories
from app.db.webhooks import DueRescue
from app.providers.delivery import Delivery, OutboxDelivery

log = structlog.get_logger(__name__)
RETRY_LATER = timedelta(minutes=15)  # a retryable provider failure: try the step again then
BUSY_LATER = timedelta(minutes=5)  # another worker holds the outbox row


@dataclass(frozen=True)
class DripDeps:
    """What a drip tick uses (the job entry builds it): the database (campaigns, and the
    rescue texts), the clock, settings (batch sizes, lease, concurrency, content), the
    outbox delivery (its senders name each channel's provider), the process's holder
    name, which prefixes each run's lease owner, and whether the run frees dead runs' claims
    first (only under the drip job's lease: app/jobs/drip.py), and the run's first call
    when the job's begin made it already with the run's start (`opened`)."""

    repos: Repositories
    clock: Clock
    settings: Settings
    delivery: OutboxDelivery
    holder: str
    release_orphans: bool = False
    opened: Opened | None = None


@dataclass(frozen=True)
class Opened:
    """A run's first call made already, with the job run's start (app/jobs/drip.py `begin`:
    `CampaignRepository.run_begin`): the worker it claimed for and what it answered."""

    worker: str
    begun: DripBegin


def new_worker(holder: str) -> str:
    """A run's claim owner: the process's holder name and a suffix of its own."""
    return f"{holder}:{uuid.uuid4().hex[:8]}"


async def run(deps: DripDeps) -> dict[str, Any]:
    """One tick of `drip`; returns counts by outcome. With `deps.release_orphans` (the job's
    run, under its lease only: no other drip run is alive) it first frees the steps still
    claimed by a run that died mid-batch (they would otherwise wait DRIP_LEASE_SECONDS),
    counted as `orphan_claims_released`; the release, the first claim and, when that claims
    nothing, the rescue checks are then one database call (`CampaignRepository.begin`), or
    made already with the run's start (`deps.opened`: the tick goes on from its answer).
    When it claimed steps, the rescue checks are read by the settle of its last batch
    (`CampaignRepository.settle_last`), else on their own after the sends."""
    with heap_frozen():
        return await _run(deps)


async def _run(deps: DripDeps) -> dict[str, Any]:
    opened = deps.opened
    worker = opened.worker if opened is not None else new_worker(deps.holder)
    settings = deps.settings
    totals: Counter[str] = Counter()

    def claim(limit: int = settings.drip_batch_size) -> Coroutine[Any, Any, list[ClaimedStep]]:
        return deps.repos.campaigns.claim_due(
            worker, limit, settings.drip_lease_seconds, deps.clock.now()
        )

    due_rescues: list[DueRescue] | None = None  # None: read after the sends, on their own
    if opened is not None or deps.release_orphans:
        begun = opened.begun if opened is not None else await deps.repos.campaigns.begin(
            worker, settings.drip_batch_size, settings.drip_lease_seconds, deps.clock.now()
        )  # fmt: skip
        steps, due_rescues = begun.steps, begun.rescues
        if begun.released:
            totals["orphan_claims_released"] = begun.released
    else:
        steps = await claim()
    settling: Settling | None = None  # the previous batch's settle, still in the database
    try:
        for n in range(settings.drip_max_batches):
            if not steps:
                break
            full = len(steps) >= settings.drip_batch_size
            following = NextClaim(claim) if full and n + 1 < settings.drip_max_batches else None
            try:
                planned = plan_batch(deps, steps)  # while the previous settle runs
                if settling is not None:
                    await settling.done()
                # the last batch's settle reads the due rescue checks too (one round trip)
                settling = await deliver_planned(
                    deps, worker, planned, following, last=following is None
                )
                totals.update(settling.counts)
            except BaseException:
                if following is not None:
                    await following.abandon()
                raise
            if following is None:
                break
            steps = await following.result()
            if len(steps) < settings.drip_batch_size:
                # Claimed beside the batch, before its settle: a step that settle made due (a
                # next step with no delay) was not due yet. Topped up now, after the settle,
                # as a claim made then finds it; a batch still short then ends the run.
                await settling.done()
                steps += await claim(settings.drip_batch_size - len(steps))
        if settling is not None:
            settled = await settling.done()
            if isinstance(settled, tuple):  # settle_last: (settled, the due rescue checks)
                due_rescues = settled[1]
    finally:
        if settling is not None:  # an exception on the way: the settle still ends first
            await settling.abandon()
    # Missed-call rescue texts held back until the lead's permitted hours (app/campaigns/rescue)
    rescues = await deliver_due_rescues(
        deps.repos.webhooks, deps.delivery, settings.business_timezone, deps.clock.now(),
        due_rescues,
    )  # fmt: skip
    if rescues:
        totals["rescue_texts"] += rescues
    return dict(totals)


@dataclass(frozen=True)
class Planned:
    """A batch planned (gate, caps, render: pure Python, no database)."""

    steps: list[ClaimedStep]
    campaigns: dict[int, CampaignSettings | Exception]
    plans: list[Plan]
    now: datetime


def plan_batch(deps: DripDeps, steps: list[ClaimedStep]) -> Planned:
    """Gate, caps and render each step of the batch (no database call)."""
    now, delivery = deps.clock.now(), deps.delivery
    providers = {
        "email": delivery.email.name,
        "sms": delivery.sms.name,
        "call": delivery.calls.name,
    }
    used: dict[tuple[int, str], int] = {}
    rules: dict[int, HoursRule] = {}  # each step's window rule, made once per batch
    campaigns = _campaign_settings(steps)
    plans = [_safe_plan(s, campaigns, now, deps.settings, used, providers, rules) for s in steps]
    return Planned(steps, campaigns, plans, now)


async def deliver_planned(
    deps: DripDeps,
    worker: str,
    planned: Planned,
    following: NextClaim | None = None,
    *,
    last: bool = False,
) -> Settling:
    """Write the outbox rows, deliver, settle: one call each for the whole batch, a claim
    and a record call per delivery chunk, plus the provider requests themselves.
    `following` (the next batch's claim) is started once this batch's rows are all claimed.
    The settle is returned running (Settling): the caller awaits it before its next call.
    `last` (the run's last batch): the settle also reads the due rescue checks, which the
    run reads next (`CampaignRepository.settle_last`); its result is then that pair."""
    plans, campaigns, now, delivery = planned.plans, planned.campaigns, planned.now, deps.delivery
    await _record_plan_failures(deps, plans, now)
    items = [p.item for p in plans if p.item]
    enqueued = await deps.repos.campaigns.enqueue(
        items, now, _first_chunks(delivery, items), delivery.reclaim_after_seconds
    )
    all_claimed = following.start if following is not None else None
    deliveries = await _deliver_all(
        delivery, deps.settings.drip_concurrency, _by_channel(items, enqueued), all_claimed
    )
    if following is not None:  # no message rows, or the delivery crashed before its claim
        following.start()
    row_ids = {id(p): enqueued[p.item["idempotency_key"]].id for p in plans if p.item}
    results = [
        p.result or _after_delivery(p, campaigns, deliveries.get(row_ids[id(p)]), deps.clock.now())
        for p in plans
    ]
    settle = deps.repos.campaigns.settle_last if last else deps.repos.campaigns.complete
    task = asyncio.create_task(settle(worker, results, deps.clock.now()))
    await asyncio.sleep(0)  # the settle's statement goes out before the caller plans on
    counts = Counter(f"{r.action}:{r.reason}" if r.reason else r.action for r in results)
    return Settling(task, counts)


async def _record_plan_failures(deps: DripDeps, plans: list[Plan], now: datetime) -> None:
    """A step that could not be planned (a bad template, an unreadable campaign) is a
    per-lead failure: into system_logs in the failure shape (app/db/failures.py)."""
    for plan in plans:
        reason = plan.result.reason if plan.result is not None else None
        if reason and reason.startswith("error:"):
            failure = Failure(
                "drip:step", reason.removeprefix("error:"), f"step not planned: {reason}",
                key=f"enrollment:{plan.step.enrollment_id}", lead_id=plan.step.lead.id,
            )  # fmt: skip
            await deps.repos.failures.record(failure, now)


def _first_chunks(delivery: OutboxDelivery, items: list[dict[str, Any]]) -> dict[str, int]:
    """How many message rows of each channel the outbox write claims as it writes them: the
    first chunk of each (`claim_chunk`, what the channel's limiter lets out in a short while),
    which delivery would claim right after the write; the next chunks are claimed as their
    turn comes (`deliver_messages`)."""
    rows = Counter(item["channel"] for item in items if item["channel"] != "call")
    return {channel: min(n, delivery.claim_chunk(channel)) for channel, n in rows.items()}


def _by_channel(
    items: list[dict[str, Any]], enqueued: dict[str, Enqueued]
) -> dict[str, list[Enqueued]]:
    """The message rows of the batch (calls wait for campaign_manager), by channel."""
    out: dict[str, list[Enqueued]] = {}
    for item in items:
        if item["channel"] != "call":
            out.setdefault(item["channel"], []).append(enqueued[item["idempotency_key"]])
    return out


async def _deliver_all(
    delivery: OutboxDelivery,
    concurrency: int,
    by_channel: dict[str, list[Enqueued]],
    all_claimed: Callable[[], None] | None = None,
) -> dict[int, Delivery]:
    """Deliver each channel's outbox rows, `DRIP_CONCURRENCY` sends at a time, claimed in
    chunks of what the channel's rate limiter lets out in a short while: a row is claimed
    (and its opt-out re-checked) only shortly before its send (docs/chaos.md); the first
    chunk was claimed by the write itself (`_first_chunks`). `all_claimed` is called once the
    last channel's last chunk is claimed."""
    out: dict[int, Delivery] = {}
    last = list(by_channel)[-1] if by_channel else None
    for channel, rows in by_channel.items():
        ids = [row.id for row in rows]
        send = delivery.deliver_messages(
            ids, concurrency=concurrency, chunk=delivery.claim_chunk(channel),
            all_claimed=all_claimed if channel == last else None,
            claimed=[row.claim for row in rows if row.claim is not None],
        )  # fmt: skip
        out.update(await _guarded(send, ids, channel, delivery))
    return out


async def _guarded(
    send: Awaitable[dict[int, Delivery]], ids: list[int], channel: str, delivery: OutboxDelivery
) -> dict[int, Delivery]:
    """What a batch delivery returned; nothing when it crashed (e.g. the database dropped
    mid-batch): no step is lost, each is rescheduled and its outbox row reconciled later.
    The crash reaches system_logs (source `drip:delivery`, code the exception's type)."""
    try:
        return await send
    except Exception as exc:
        log.exception("batch delivery failed", messages=len(ids))
        if delivery.failures is not None:  # never raises (app/db/failures.py)
            failure = Failure(
                "drip:delivery", type(exc).__name__,
                f"batch delivery failed ({len(ids)} {channel} message(s) rescheduled): {exc}",
                key=f"outbox:{ids[0]}" if len(ids) == 1 else f"outbox:{ids[0]}..{ids[-1]}",
                context={"channel": channel, "messages": len(ids)},
            )  # fmt: skip
            await delivery.failures.record(failure, delivery.clock.now())
        return {}


def _campaign_settings(steps: list[ClaimedStep]) -> dict[int, CampaignSettings | Exception]:
    """Each campaign's stored settings, parsed once per batch (many steps share one); an
    unreadable definition fails only its own steps (see _safe_plan)."""
    parsed: dict[int, CampaignSettings | Exception] = {}
    for step in steps:
        if step.campaign.id not in parsed:
            try:
                parsed[step.campaign.id] = CampaignSettings.stored(step.campaign.definition)
            except ValueError as exc:
                parsed[step.campaign.id] = exc
    return parsed


def _safe_plan(
    step: ClaimedStep,
    campaigns: dict[int, CampaignSettings | Exception],
    now: datetime,
    settings: Settings,
    used: dict[tuple[int, str], int],
    providers: dict[str, str],
    rules: dict[int, HoursRule] | None = None,
) -> Plan:
    try:
        campaign = campaigns[step.campaign.id]
        if isinstance(campaign, Exception):
            raise campaign
        return plan_step(step, campaign, now, settings, used, providers, rules)
    except Exception as exc:  # a bad template or row must not stop the batch
        log.exception("step planning failed", enrollment_id=step.enrollment_id)
        return settle(step, "reschedule", f"error:{type(exc).__name__}", now + RETRY_LATER)


def _after_delivery(
    plan: Plan,
    campaigns: dict[int, CampaignSettings | Exception],
    delivery: Delivery | None,
    now: datetime,
) -> StepResult:
    """How a step ends at `now`, from what delivery did with its outbox row."""
    step = plan.step
    if step.step.channel == "call":  # queued: campaign_manager places calls hottest-first
        return step_result(step, "advance", "call_queued")
    if delivery is None:  # the batch's delivery crashed: the outbox row is reconciled later
        return step_result(step, "reschedule", "error:delivery", now + RETRY_LATER)
    outcome = delivery.outcome
    if outcome in ("sent", "done"):
        return step_result(step, "advance", None)
    if outcome == "failed":  # permanent: this step is over for this lead, reason on the row
        return step_result(step, "advance", f"failed:{delivery.error_code}")
    if outcome == "refused":  # no consent, a hold, a DNC list (reason on the row): step skipped
        return step_result(step, "advance", "refused")
    if outcome == "suppressed":
        campaign = campaigns[step.campaign.id]  # planned, so it was readable
        stops = not isinstance(campaign, CampaignSettings) or campaign.stop.on_opt_out
        reason = f"opted_out:{step.step.channel}"
        return step_result(step, "stop" if stops else "advance", reason)
    later = BUSY_LATER if outcome == "busy" else RETRY_LATER
    return step_result(step, "reschedule", outcome, now + later)
