"""Repository for scoring and growth (functions in supabase/schemas/06_scoring.sql). One
round trip per call; batches travel as arrays/jsonb."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.db.transport import Transport


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class StoredModel(_Model):
    version: int
    kind: Literal["logistic", "prior"]
    features: dict[str, Any] = Field(default_factory=dict)
    model: dict[str, Any]
    metrics: dict[str, Any] = Field(default_factory=dict)
    trained_at: datetime
    applied_at: datetime | None = None  # when every lead was scored with it


class CallOutcome(_Model):
    """A placed call whose end-of-call report was received: did it book?"""

    call_id: int
    lead_id: int
    placed_at: datetime
    booked: bool
    queue_score: float | None = None
    queue_order: str | None = None


class Marked(_Model):
    """Leads whose features changed since they were last scored, and the highest mark."""

    lead_ids: list[int]
    upto: int


@dataclass(frozen=True)
class TrainingChunk:
    """One stored snapshot as the training reads it (not validated: its columns are
    megabytes of text that numpy parses)."""

    cutoff_epoch: float
    n: int
    columns: dict[str, Any]
    booked: list[int]


class ApplyResult(_Model):
    updated: int
    newly_hot: list[dict[str, Any]] = Field(default_factory=list)


class TopLead(_Model):
    lead_id: int
    name: str | None = None
    status: str
    score: float
    score_reasons: list[str] = Field(default_factory=list)
    hot_at: datetime | None = None


class TimingCell(_Model):
    state: str
    local_hour: int
    attempts: int
    answered: int
    booked: int


class VariantArm(_Model):
    campaign_id: int
    step_id: int
    channel: str
    variant: str
    sent: int
    clicked: int
    replied: int
    booked: int


class VariantDecision(_Model):
    campaign: str
    step_position: int
    channel: str
    goal: str
    arms: dict[str, Any]
    p_best: dict[str, float]
    winner: str | None = None
    promoted_at: datetime | None = None
    updated_at: datetime


class LogLine(_Model):
    at: datetime
    source: str
    message: str


class FailurePattern(_Model):
    fingerprint: str
    today: int
    previous_daily_avg: float
    first_seen_at: datetime
    is_new: bool
    sample: str | None = None


class PendingCall(_Model):
    call_id: int
    ended_reason: str | None = None
    outcome: str | None = None
    duration_seconds: float | None = None
    analysis: dict[str, Any] = Field(default_factory=dict)
    transcript: str | None = None
    messages: list[Any] = Field(default_factory=list)


class QualityWeek(_Model):
    """Connected calls' quality: the last 7 days against the 7 before (quality_weekly)."""

    week_calls: int
    week_avg: float | None = None
    week_low: int
    previous_calls: int
    previous_avg: float | None = None


class LowQualityCall(_Model):
    call_id: int
    vapi_call_id: str | None = None
    lead_id: int | None = None
    score: int
    reasons: list[str] = Field(default_factory=list)
    ended_reason: str | None = None
    ended_at: datetime | None = None


class BookedCall(_Model):
    call_id: int
    vapi_call_id: str | None = None
    ended_at: datetime | None = None
    transcript: str
    summary: str | None = None
    analysis: dict[str, Any] = Field(default_factory=dict)


class ScoringRepository:
    """Every scoring/growth function; rows of the feature matrix come back as dicts."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def features(
        self,
        now: datetime,
        *,
        lead_ids: Sequence[int] | None = None,
        cutoffs: Sequence[datetime] | None = None,
        times: Sequence[datetime] | None = None,
        at_risk: bool = False,
        horizon_days: int | None = None,
    ) -> list[dict[str, Any]]:
        """The feature matrix in one call, one dict per (lead, cutoff); see
        scoring_features(). Rows: `lead_ids` with their `cutoffs` (pairs), `lead_ids` at
        `now`, every lead at each of `times`, or every lead at `now`. `at_risk`: only
        leads at risk at their cutoff; `horizon_days`: adds the label."""
        args: dict[str, Any] = {"p_now": now, "p_at_risk": at_risk}
        if lead_ids is not None:
            args["p_lead_ids"] = list(lead_ids)
        if cutoffs is not None:
            args["p_cutoffs"] = list(cutoffs)
        if times is not None:
            args["p_times"] = list(times)
        if horizon_days is not None:
            args["p_horizon_days"] = horizon_days
        return await self.transport.call("scoring_features", args)

    async def feature_columns(
        self,
        now: datetime,
        lead_ids: Sequence[int] | None = None,
        cutoffs: Sequence[datetime] | None = None,
    ) -> dict[str, Any]:
        """The scoring pass's feature read: `scoring_features` at `now` of `lead_ids` (every
        lead when None; with `cutoffs`, pairs) rendered as columns in one value
        (scoring_feature_columns; parsed by app.scoring.features.from_rendered)."""
        args: dict[str, Any] = {"p_now": now}
        if lead_ids is not None:
            args["p_lead_ids"] = list(lead_ids)
        if cutoffs is not None:
            args["p_cutoffs"] = list(cutoffs)
        rows = await self.transport.call("scoring_feature_columns", args)
        rendered: dict[str, Any] = rows[0]["scoring_feature_columns"]
        return rendered

    async def call_outcomes(self, since: datetime, now: datetime) -> list[CallOutcome]:
        """Placed calls whose report was received in (since, now]: the per-call rows."""
        rows = await self.transport.call("scoring_call_outcomes", {"p_since": since, "p_now": now})
        return [CallOutcome.model_validate(r) for r in rows]

    async def call_feature_columns(self, since: datetime, now: datetime) -> dict[str, Any]:
        """The per-call model's features: each call of `call_outcomes(since, now)` with its
        lead's features as of placed_at, from the per-call store (computing the calls it does
        not hold yet), rendered as columns in one value keyed by `call_id`
        (scoring_call_columns; parsed by app.scoring.features.model_columns)."""
        rows = await self.transport.call("scoring_call_columns", {"p_since": since, "p_now": now})
        rendered: dict[str, Any] = rows[0]["scoring_call_columns"]
        return rendered

    async def mark_call_order(
        self, ids: Sequence[int], scores: Sequence[float], orders: Sequence[str]
    ) -> int:
        """Record, on calls being placed, the queue's score and order (score | random)."""
        if not ids:
            return 0
        rows = await self.transport.call(
            "scoring_mark_call_order",
            {"p_ids": list(ids), "p_scores": [float(s) for s in scores], "p_orders": list(orders)},
        )
        return int(rows[0]["scoring_mark_call_order"])

    async def marked(self) -> Marked:
        """The leads marked for scoring (see scoring_dirty in 06_scoring.sql)."""
        rows = await self.transport.call("scoring_marked")
        return Marked.model_validate(rows[0])

    async def recent_leads(self, since: datetime) -> list[int]:
        """The leads created after `since` (scoring_recent_leads)."""
        rows = await self.transport.call("scoring_recent_leads", {"p_since": since})
        return [int(i) for i in rows[0]["scoring_recent_leads"] or []]

    async def first_lead_at(self) -> datetime | None:
        """When the first lead was created; None with no lead (scoring_first_lead_at)."""
        rows = await self.transport.call("scoring_first_lead_at")
        first: datetime | None = rows[0]["scoring_first_lead_at"]
        return first

    async def snapshots_held(
        self, times: Sequence[datetime], keep_from: datetime
    ) -> dict[datetime, int]:
        """The store's held snapshots among `times` and their row counts; the snapshots
        before `keep_from` are deleted first (scoring_snapshots_held)."""
        rows = await self.transport.call(
            "scoring_snapshots_held", {"p_times": list(times), "p_keep_from": keep_from}
        )
        return {r["cutoff_at"]: int(r["n"]) for r in rows}

    async def fill_snapshots(self, now: datetime, times: Sequence[datetime]) -> dict[datetime, int]:
        """Compute and store the snapshots `times` not held yet; every held one's row count
        (scoring_snapshots_fill)."""
        rows = await self.transport.call(
            "scoring_snapshots_fill", {"p_now": now, "p_times": list(times)}
        )
        return {r["cutoff_at"]: int(r["n"]) for r in rows}

    async def training_chunks(
        self, now: datetime, times: Sequence[datetime], horizon_days: int
    ) -> list[TrainingChunk]:
        """The stored snapshots `times` whose label window has closed, one chunk each in
        cutoff order: the rows' rendered columns (numeric ones as comma-separated text,
        categorical ones as lists, one shared row order) and the leads booked within the
        horizon after the cutoff (scoring_training_chunks)."""
        rows = await self.transport.call(
            "scoring_training_chunks",
            {"p_now": now, "p_times": list(times), "p_horizon_days": horizon_days},
        )
        return [TrainingChunk(r["cutoff_epoch"], r["n"], r["columns"], r["booked"]) for r in rows]

    async def clear_marks(self, upto: int, version: int | None, now: datetime) -> int:
        """Clear the marks up to `upto`; with `version`, every lead was scored with it."""
        rows = await self.transport.call(
            "scoring_clear", {"p_upto": upto, "p_version": version, "p_now": now}
        )
        return int(rows[0]["scoring_clear"])

    async def save_model(
        self,
        kind: str,
        features: dict[str, Any],
        model: dict[str, Any],
        metrics: dict[str, Any],
        now: datetime,
    ) -> StoredModel:
        rows = await self.transport.call(
            "scoring_save_model",
            {"p_kind": kind, "p_features": features, "p_model": model, "p_metrics": metrics,
             "p_now": now},
        )  # fmt: skip
        return StoredModel.model_validate(rows[0])

    async def latest_model(self, now: datetime) -> StoredModel | None:
        rows = await self.transport.call("scoring_latest_model", {"p_now": now})
        return StoredModel.model_validate(rows[0]) if rows else None

    async def apply_scores(
        self,
        ids: Sequence[int],
        scores: Sequence[float],
        reasons: Sequence[Sequence[str]],
        hot_threshold: float,
        now: datetime,
    ) -> ApplyResult:
        """Write a batch of scores and reasons in one call; reports newly hot leads.
        `updated` counts the leads whose score, reasons or hot flag changed (only those are
        written). Ids and scores travel as comma-separated texts (scores as `repr` prints
        them, which Postgres reads back exactly): an array is dumped value by value."""
        if not ids:
            return ApplyResult(updated=0)
        rows = await self.transport.call(
            "scoring_apply",
            {"p_ids": ",".join(map(str, map(int, ids))),
             "p_scores": ",".join(map(repr, map(float, scores))),
             "p_reasons": [list(r) for r in reasons],
             "p_hot_threshold": hot_threshold, "p_now": now},
        )  # fmt: skip
        return ApplyResult.model_validate(rows[0])

    async def top_leads(self, limit: int, now: datetime) -> list[TopLead]:
        rows = await self.transport.call("scoring_top_leads", {"p_limit": limit, "p_now": now})
        return [TopLead.model_validate(r) for r in rows]

    async def timing_stats(self, days: int, default_tz: str, now: datetime) -> list[TimingCell]:
        rows = await self.transport.call(
            "timing_call_stats", {"p_days": days, "p_default_tz": default_tz, "p_now": now}
        )
        return [TimingCell.model_validate(r) for r in rows]

    async def variant_stats(self, days: int, horizon_days: int, now: datetime) -> list[VariantArm]:
        rows = await self.transport.call(
            "variant_stats", {"p_days": days, "p_horizon_days": horizon_days, "p_now": now}
        )
        return [VariantArm.model_validate(r) for r in rows if r["variant"] is not None]

    async def record_variants(self, decisions: list[dict[str, Any]], now: datetime) -> int:
        if not decisions:
            return 0
        rows = await self.transport.call("variant_record", {"p_decisions": decisions, "p_now": now})
        return len(rows)

    async def variant_decisions(self) -> list[VariantDecision]:
        rows = await self.transport.call("variant_decisions_list")
        return [VariantDecision.model_validate(r) for r in rows]

    async def failure_lines(self, since: datetime, now: datetime) -> list[LogLine]:
        rows = await self.transport.call("failure_log_lines", {"p_since": since, "p_now": now})
        return [LogLine.model_validate(r) for r in rows]

    async def record_failures(self, rows: list[dict[str, Any]], now: datetime) -> int:
        if not rows:
            return 0
        out = await self.transport.call("failure_record", {"p_rows": rows, "p_now": now})
        return int(out[0]["failure_record"])

    async def failure_summary(self, days: int, limit: int, now: datetime) -> list[FailurePattern]:
        rows = await self.transport.call(
            "failure_summary", {"p_days": days, "p_limit": limit, "p_now": now}
        )
        return [FailurePattern.model_validate(r) for r in rows]

    async def quality_pending(self, limit: int, now: datetime) -> list[PendingCall]:
        rows = await self.transport.call("quality_pending", {"p_limit": limit, "p_now": now})
        return [PendingCall.model_validate(r) for r in rows]

    async def record_quality(self, rows: list[dict[str, Any]], now: datetime) -> int:
        if not rows:
            return 0
        out = await self.transport.call("quality_record", {"p_rows": rows, "p_now": now})
        return int(out[0]["quality_record"])

    async def quality_week(self, below: int, now: datetime) -> QualityWeek:
        """This week's call quality against the week before (see quality_weekly)."""
        rows = await self.transport.call("quality_weekly", {"p_below": below, "p_now": now})
        return QualityWeek.model_validate(rows[0])

    async def low_quality(self, below: int, limit: int) -> list[LowQualityCall]:
        rows = await self.transport.call("quality_low", {"p_below": below, "p_limit": limit})
        return [LowQualityCall.model_validate(r) for r in rows]

    async def booked_calls(self, limit: int, now: datetime) -> list[BookedCall]:
        rows = await self.transport.call("training_booked_calls", {"p_limit": limit, "p_now": now})
        return [BookedCall.model_validate(r) for r in rows]
