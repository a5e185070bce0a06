"""Repository for campaigns, enrollments and the drip claim (functions in
supabase/schemas/02_campaigns.sql; the outbox write, enqueue_outbox, in 03_outbox.sql).
One round trip per call, batches as jsonb."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from app.db.job_runs import RunRequest, call_begin
from app.db.models import LeadIn, RunStart
from app.db.outbox import MessageClaim
from app.db.transport import Transport
from app.db.webhooks import DueRescue


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class CampaignSaved(_Model):
    campaign_id: int
    slug: str
    status: str
    steps: int
    created: bool


class CampaignSummary(_Model):
    id: int
    slug: str
    name: str
    status: str
    paused_reason: str | None = None
    active_enrollments: int
    steps: int


class Enrolled(_Model):
    campaign_id: int
    slug: str
    enrolled: int
    cap: int


class LeadSnapshot(LeadIn):
    """A lead as the drip claim and the call queue read it: its contact details (LeadIn)
    and what the gate needs (the `leads` row, supabase/schemas/01_core.sql)."""

    id: int
    status: str
    email_opted_out_at: datetime | None = None
    sms_opted_out_at: datetime | None = None
    calls_opted_out_at: datetime | None = None


class CampaignSnapshot(_Model):
    """A campaign as a claim carries it. `definition` is the campaign's settings document,
    written and read by its owner (app.campaigns.definition.CampaignSettings)."""

    id: int
    slug: str
    definition: dict[str, Any]


class StepSnapshot(_Model):
    """A campaign step as a claim carries it. `template` (content, variants, A/B weights)
    and `window` are documents of app.campaigns.definition."""

    id: int
    channel: Literal["email", "sms", "call"]
    template: dict[str, Any]
    window: dict[str, Any] | None = None
    position: int
    is_first_of_channel: bool = False


class ClaimedStep(_Model):
    """One due step, with everything the gate and the renderer need: `recent_attempts`, the
    lead's texts and calls of the last 24 h (the state attempt caps); `sent_today`, the
    campaign's sends today on the step's channel where the campaign caps that channel per
    day (`caps.per_day`), else 0 (not counted: nothing reads it)."""

    enrollment_id: int
    position: int
    campaign: CampaignSnapshot
    step: StepSnapshot
    lead: LeadSnapshot
    recent_attempts: list[datetime] = Field(default_factory=list)
    sent_today: int = 0


class Enqueued(_Model):
    """An outbox row as `enqueue` wrote or found it; `claim`: its claim for sending when the
    write also claimed it (`enqueue`'s `claim`), else None."""

    idempotency_key: str
    kind: Literal["message", "call"]
    id: int
    status: str
    claim: MessageClaim | None = None


Action = Literal["advance", "reschedule", "stop", "review"]


@dataclass(frozen=True)
class DripBegin:
    """A drip run's first call (`CampaignRepository.begin`): the orphan claims released, the
    first batch claimed and, when that batch is empty (the run ends), the due rescue checks;
    None when steps were claimed (the run reads them after its sends)."""

    released: int
    steps: list[ClaimedStep]
    rescues: list[DueRescue] | None


class StepResult(_Model):
    enrollment_id: int
    action: Action
    at: datetime | None = None
    reason: str | None = None


def _with_claim(row: dict[str, Any]) -> dict[str, Any]:
    """The row as `Enqueued` reads it: the row itself (outcome, message) as its claim when
    the write made one, validated with it (one validation of the row, not two)."""
    return {**row, "claim": row if row.get("outcome") is not None else None}


# a batch's rows validated in one call (pydantic's loop, not ours), each as `model_validate`
_ENQUEUED = TypeAdapter(list[Enqueued])
_CLAIMED = TypeAdapter(list[ClaimedStep])
_RESULTS = TypeAdapter(list[StepResult])


class CampaignRepository:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def upsert(self, campaign: dict[str, Any], now: datetime) -> CampaignSaved:
        rows = await self.transport.call("upsert_campaign", {"p_campaign": campaign, "p_now": now})
        return CampaignSaved.model_validate(rows[0])

    async def all(self) -> list[CampaignSummary]:
        return [
            CampaignSummary.model_validate(r) for r in await self.transport.call("list_campaigns")
        ]

    async def enroll(self, now: datetime) -> list[Enrolled]:
        rows = await self.transport.call("enroll_leads", {"p_now": now})
        return [Enrolled.model_validate(r) for r in rows]

    async def claim_due(
        self, worker: str, limit: int, lease_seconds: int, now: datetime
    ) -> list[ClaimedStep]:
        """Claim up to `limit` due steps for `worker` (lease `lease_seconds`). The function
        sends each campaign and step in full once, then by id: each is validated once and
        the same snapshot put in every step of the batch that has it."""
        rows = await self.transport.call(
            "claim_due_steps",
            {"p_worker": worker, "p_limit": limit, "p_lease_seconds": lease_seconds, "p_now": now},
        )
        return _claimed([r["step"] for r in rows])

    async def begin(self, worker: str, limit: int, lease_seconds: int, now: datetime) -> DripBegin:
        """A drip run's first call, one round trip (call only under the drip's job lease: it
        frees the claims of dead runs first: internal.release_orphan_claims); then `claim_due`,
        and the due rescue checks (`WebhookRepository.due_rescue_checks`) if it claimed none."""
        rows = await self.transport.call("drip_begin", {
            "p_worker": worker, "p_limit": limit, "p_lease_seconds": lease_seconds,
            "p_now": now})  # fmt: skip
        return _drip_begin(rows[0]["tick"])

    async def run_begin(
        self, run: RunRequest, worker: str, limit: int, lease_seconds: int
    ) -> tuple[RunStart, DripBegin | None]:
        """Start `run` (start_job_run) and, when it got the drip job's lease, make `begin`
        for `worker` at the run's instant, in one round trip (`drip_run_begin`). The first
        call is None when the run was skipped or the call failed (make it with `begin`)."""
        args = {"p_worker": worker, "p_limit": limit, "p_claim_seconds": lease_seconds}
        start, read = await call_begin(self.transport, "drip_run_begin", run, args)
        return start, None if read is None else _drip_begin(read)

    async def enqueue(
        self,
        items: list[dict[str, Any]],
        now: datetime,
        claim: Mapping[str, int] | None = None,
        reclaim_after_seconds: int = 600,
    ) -> dict[str, Enqueued]:
        """Write the outbox rows of `items` (by key: the row written or found). `claim`
        {channel: n}: the first n message items of each channel (in item order) are also
        claimed for sending in the same call, by `claim_message`'s rules (see enqueue_outbox
        in 03_outbox.sql): their `Enqueued.claim`."""
        if not items:
            return {}
        args: dict[str, Any] = {"p_items": items, "p_now": now}
        if claim:
            args |= {"p_claim": dict(claim), "p_reclaim_after_seconds": reclaim_after_seconds}
        rows = await self.transport.call("enqueue_outbox", args)
        written = _ENQUEUED.validate_python([_with_claim(r) for r in rows])
        return {row.idempotency_key: row for row in written}

    async def complete(self, worker: str, results: list[StepResult], now: datetime) -> int:
        if not results:
            return 0
        payload = _RESULTS.dump_python(results, mode="json")
        rows = await self.transport.call(
            "complete_steps", {"p_worker": worker, "p_results": payload, "p_now": now}
        )
        return len(rows)

    async def settle_last(
        self, worker: str, results: list[StepResult], now: datetime
    ) -> tuple[int, list[DueRescue]]:
        """`complete` for a drip run's last batch, and the due rescue checks read right after
        it (`WebhookRepository.due_rescue_checks`, which the run reads next), one round trip
        (drip_settle): the enrollments settled and the checks."""
        payload = _RESULTS.dump_python(results, mode="json")
        rows = await self.transport.call(
            "drip_settle", {"p_worker": worker, "p_results": payload, "p_now": now}
        )
        tick = rows[0]["tick"]
        return int(tick["settled"]), [DueRescue.model_validate(r) for r in tick["rescues"]]

    async def apply_stop_rules(self, lead_id: int, event: str, now: datetime) -> int:
        rows = await self.transport.call(
            "apply_stop_rules", {"p_lead_id": lead_id, "p_event": event, "p_now": now}
        )
        return int(rows[0]["apply_stop_rules"])


_M = TypeVar("_M", bound=_Model)


def _sent_once(items: list[dict[str, Any]], key: str, full: str, model: type[_M]) -> dict[int, _M]:
    """The `key` objects of `items` by id, each validated once: the SQL sends one in full
    (with its `full` field) in the first row that has it, then only its id (claim_due_steps,
    call_queue); a row's `key` may be null (a call outside a campaign)."""
    return {
        i[key]["id"]: model.model_validate(i[key])
        for i in items
        if i[key] is not None and full in i[key]
    }


def _drip_begin(tick: dict[str, Any]) -> DripBegin:
    """drip_begin's tick as a `DripBegin`."""
    rescues = tick["rescues"]
    return DripBegin(
        int(tick["released"]),
        _claimed(tick["steps"]),
        None if rescues is None else [DueRescue.model_validate(r) for r in rescues],
    )


def _claimed(items: list[dict[str, Any]]) -> list[ClaimedStep]:
    """claim_due_steps' rows as models, each campaign and step validated once and the same
    snapshot put in every step of the batch (`_sent_once`)."""
    campaigns = _sent_once(items, "campaign", "slug", CampaignSnapshot)
    steps = _sent_once(items, "step", "channel", StepSnapshot)
    return _CLAIMED.validate_python(
        [
            {**i, "campaign": campaigns[i["campaign"]["id"]], "step": steps[i["step"]["id"]]}
            for i in items
        ]
    )


class Paused(_Model):
    campaign_id: int
    slug: str
    metric: str
    rate: float
    threshold: float
    sample: int


class Resumed(_Model):
    campaign_id: int
    slug: str
    status: str
    was: str


class QueuedCall(_Model):
    id: int
    lead: LeadSnapshot
    not_before: datetime | None = None
    campaign: CampaignSnapshot | None = None
    recent_attempts: list[datetime] = Field(default_factory=list)
    window: dict[str, Any] | None = None  # the call step's own window, as in its YAML


@dataclass(frozen=True)
class ManagerBegin:
    """A manager run's first call (`ManagerRepository.begin`): the campaigns' enrollments,
    the campaigns paused, the unanswered calls requeued, the waiting calls in order and the
    calls in flight at Vapi."""

    enrolled: list[Enrolled]
    paused: list[Paused]
    requeued: int
    queue: list[QueuedCall]
    in_flight: int


def _manager_begin(tick: dict[str, Any]) -> ManagerBegin:
    """manager_begin's tick as a `ManagerBegin`."""
    return ManagerBegin(
        [Enrolled.model_validate(r) for r in tick["enrolled"]],
        [Paused.model_validate(r) for r in tick["paused"]],
        int(tick["requeued"]),
        _queued(tick["queue"]),
        int(tick["in_flight"]),
    )


def _queued(items: list[dict[str, Any]]) -> list[QueuedCall]:
    """call_queue's calls, each campaign (sent in full once, then by id) validated once."""
    campaigns = _sent_once(items, "campaign", "slug", CampaignSnapshot)
    return [
        QueuedCall.model_validate(
            {**i, "campaign": campaigns[i["campaign"]["id"]] if i["campaign"] else None}
        )
        for i in items
    ]


class ManagerRepository:
    """campaign_manager's functions: deliverability guard, resume, call queue, retries."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def deliverability_check(self, now: datetime) -> list[Paused]:
        rows = await self.transport.call("deliverability_check", {"p_now": now})
        return [Paused.model_validate(r) for r in rows]

    async def resume(self, slug: str, now: datetime) -> Resumed:
        rows = await self.transport.call("resume_campaign", {"p_slug": slug, "p_now": now})
        return Resumed.model_validate(rows[0])

    async def begin(
        self,
        now: datetime,
        max_attempts: int,
        spacing_seconds: int,
        limit: int,
        order: str = "score",
    ) -> ManagerBegin:
        """A manager run's first call, one round trip and one transaction: `enroll` (of
        CampaignRepository), `deliverability_check`, `requeue_unanswered`, then `call_queue`,
        in that order (see manager_begin)."""
        rows = await self.transport.call("manager_begin", {
            "p_now": now, "p_max_attempts": max_attempts, "p_spacing_seconds": spacing_seconds,
            "p_limit": limit, "p_order": order})  # fmt: skip
        return _manager_begin(rows[0]["tick"])

    async def run_begin(
        self,
        run: RunRequest,
        max_attempts: int,
        spacing_seconds: int,
        limit: int,
        order: str = "score",
    ) -> tuple[RunStart, ManagerBegin | None]:
        """Start `run` (start_job_run) and, when it got the manager job's lease, make
        `begin` at the run's instant, in one round trip (`manager_run_begin`). The opening
        is None when the run was skipped or it failed (its writes undone: make it with
        `begin`)."""
        args = {"p_max_attempts": max_attempts, "p_spacing_seconds": spacing_seconds,
                "p_limit": limit, "p_order": order}  # fmt: skip
        start, read = await call_begin(self.transport, "manager_run_begin", run, args)
        return start, None if read is None else _manager_begin(read)

    async def call_queue(
        self, limit: int, now: datetime, order: str = "score"
    ) -> tuple[list[QueuedCall], int]:
        """Waiting calls, hottest first (`order`: see call_queue), and how many calls are in
        flight at Vapi. The function sends each campaign in full once, then by id: each is
        validated once and the same snapshot put in every call that has it."""
        rows = await self.transport.call(
            "call_queue", {"p_limit": limit, "p_now": now, "p_order": order}
        )
        return _queued([r["call"] for r in rows]), (rows[0]["in_flight"] if rows else 0)

    async def calls_placed_today(self, now: datetime) -> dict[int, int]:
        """Calls placed per campaign id since the start of `now`'s (UTC) day."""
        rows = await self.transport.call("calls_placed_today", {"p_now": now})
        return {int(r["campaign_id"]): int(r["placed"]) for r in rows}

    async def defer_call(self, call_id: int, at: datetime, now: datetime) -> None:
        await self.transport.call("defer_call", {"p_id": call_id, "p_at": at, "p_now": now})

    async def requeue_unanswered(
        self, max_attempts: int, spacing_seconds: int, now: datetime
    ) -> int:
        rows = await self.transport.call(
            "requeue_unanswered_calls",
            {"p_max_attempts": max_attempts, "p_spacing_seconds": spacing_seconds, "p_now": now},
        )
        return int(rows[0]["requeue_unanswered_calls"])
