"""The simulation's report: what was sent and what came of it, the audit, what was learned.

Contract: `build_report` runs once, after the last tick; `Report.as_dict()` is the `--json`
document and `Report.text()` the printed summary (same figures). Learned best hours come
from nightshift's own timing model (`load_timing`). `scoring` reads forward only, never a
score against an outcome it had already seen:
- `auc_forward`: the score each lead had after each hourly growth run t (`ScoreLog`)
  against "booked in (t, t + horizon]", over the leads at risk at t (scoring_features'
  own definition), pooled over every t whose window closed by the end (and per day of
  the run: `auc_forward_by_day`);
- `auc_per_call`, `top20_capture_per_call`: the queue's score of each placed call when it
  was placed (`calls.queue_score`) against "this call booked";
- `holdout_auc` (and `per_call_holdout_auc`): the stored models' own time-split holdout;
- `bookings_per_call`, `call_order`, and `campaign_pauses` (the deliverability guard's
  pauses: a paused campaign is reported, not silently measured);
- `training_rows`, `training_rows_in_call`: the final training set, and how many of its
  rows had a call of their lead in progress at their cutoff (from the calls: must be 0).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from app.db.simulate import SimulateRepository
from app.scoring.features import micros
from app.scoring.timing import TimingModel, load_configured_timing
from app.scoring.train import auc, capture
from app.scoring.training_set import training_set
from app.simulate.audit import Audit, audit
from app.simulate.forward import at_risk_and_labels, forward_pairs, in_any_span, ranked_auc
from app.simulate.population import REGIONS, SimLead
from app.simulate.providers import World

if TYPE_CHECKING:
    from app.jobs.bootstrap import Context
    from app.simulate.engine import SimConfig


START_OF_TIME = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass
class Report:
    leads: int
    days: float
    seed: int
    messages: dict[str, int]
    calls: dict[str, int]
    bookings: int
    opt_outs: dict[str, int]
    engagement: dict[str, int]
    audit: dict[str, Any]
    best_hour: dict[str, dict[str, Any]]
    scoring: dict[str, Any]
    run: dict[str, Any] = field(default_factory=dict)
    # assistant versions on trial (--assistants): per version, app.simulate.assistants
    agents: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        a = self.audit
        lines = [
            f"simulated {self.leads} leads x {self.days:g} days (seed {self.seed})",
            f"messages: {_kv(self.messages)}",
            f"calls: {_kv(self.calls)}",
            f"bookings: {self.bookings}   opt-outs: {_kv(self.opt_outs)}",
            f"engagement: {_kv(self.engagement)}",
            f"violations: {a['violations']} (outside hours {a['outside_hours']}, after opt-out "
            f"{a['after_opt_out']}, over state cap {a['over_state_cap']}, AI call without "
            f"consent {a['ai_call_without_consent']}, text without consent "
            f"{a['text_without_consent']}, outside a step's window {a['outside_step_window']})",
            f"revocations (any wording, by scope): {_kv(a['revocations'])}",
            f"duplicates: keys {a['duplicate_keys']}, rows {a['duplicate_rows']}",
            *[f"  e.g. {e}" for e in a["examples"]],
            "best hour (local) learned vs true:",
            *[f"  {s:<3} {_hour(v['learned'])} vs {v['true']:>2}  ({v['attempts']} calls)"
              for s, v in self.best_hour.items()],
            f"scoring: {_kv(self.scoring)}",
            f"run: {_kv(self.run)}",
            *[f"agent version {name}: {_kv(row)}" for name, row in self.agents.items()],
        ]  # fmt: skip
        return "\n".join(lines)


def _kv(values: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in values.items())


def _hour(value: int | None) -> str:
    return f"{value:>2}" if value is not None else " -"


def learned_hours(model: TimingModel) -> dict[str, dict[str, Any]]:
    """Per simulated region: the hour with the highest posterior answer rate among the
    hours nightshift actually called at, next to the true best hour."""
    out: dict[str, dict[str, Any]] = {}
    for region in REGIONS:
        cells = [c for (state, _), c in model.cells.items() if state == region.state]
        tried = [c for c in cells if c.attempts > 0]
        best = max(tried, key=lambda c: c.answer.mean, default=None)
        out[region.state] = {
            "learned": best.hour if best else None,
            "true": region.best_hour,
            "attempts": sum(c.attempts for c in cells),
        }
    return out


@dataclass(frozen=True)
class Scores:
    """One growth run's scores: lead ids ascending and their scores, 16 bytes a lead (a dict
    per hourly run held ~7 M entries by the end of a 10,000-lead month). `get` as a dict's."""

    ids: NDArray[np.int64]
    values: NDArray[np.float64]

    def get(self, lead_id: int) -> float | None:
        i = int(np.searchsorted(self.ids, lead_id))
        return float(self.values[i]) if i < len(self.ids) and self.ids[i] == lead_id else None


@dataclass
class ScoreLog:
    """Every scored lead's score after each growth run: {run time: Scores}."""

    at: dict[datetime, Scores] = field(default_factory=dict)
    trained: set[datetime] = field(default_factory=set)  # runs scored by a trained model

    def keep(
        self, now: datetime, scores: tuple[NDArray[np.int64], NDArray[np.float64]],
        trained: bool = False,
    ) -> None:  # fmt: skip
        """`scores`: SimulateRepository.scores() read after the run at `now`."""
        self.at[now] = Scores(*scores)
        if trained:
            self.trained.add(now)


def _r(value: Any) -> float | None:
    return round(value, 4) if isinstance(value, float) else None


async def forward_auc(ctx: Context, log: ScoreLog) -> dict[str, Any]:
    """The scores after each growth run t against bookings in (t, t + horizon], over the
    leads at risk at t, pooled (`auc_forward`, `auc_forward_rows`); and the same over the
    runs scored by a trained model only (`auc_forward_trained`: what the holdout predicts;
    the prior's hours before it are in the pooled figure); and per day of the run
    (`auc_forward_by_day`, day 0 from the first t: the at-risk pool fills with days-old
    leads over a run, so a late window — the holdout's — ranks more easily)."""
    now, horizon = ctx.clock.now(), ctx.settings.scoring_horizon_days
    times = sorted(t for t in log.at if t + timedelta(days=horizon) <= now)
    if not times:
        return {"auc_forward": None, "auc_forward_rows": 0, "auc_forward_trained": None,
                "auc_forward_by_day": []}  # fmt: skip
    # scoring_features' at-risk rows and labels, read once per lead (simulate_forward_leads)
    # and laid over a month's ~700 hourly times as arrays: (lead, t) rows in (t, lead)
    # order, every window closed by now
    leads = await SimulateRepository(ctx.transport).forward_leads()
    times_us = np.array([micros(t) for t in times], dtype=np.int64)
    horizon_us = timedelta(days=horizon) // timedelta(microseconds=1)
    risk, labels = at_risk_and_labels(leads, times_us, horizon_us)
    pairs = forward_pairs(risk, labels, leads.ids, [log.at[t] for t in times])
    scores = np.concatenate([p for p, _ in pairs])
    booked = np.concatenate([y for _, y in pairs])
    # sorted by score once; each part (all, trained, a day) is a mask over the sorted rows
    order = np.argsort(scores)
    time_of = np.repeat(np.arange(len(times)), [len(p) for p, _ in pairs])[order]
    by_score, booked_by_score = scores[order], booked[order]

    def pooled(part: list[int]) -> float | None:
        wanted = np.zeros(len(times), dtype=np.bool_)
        wanted[part] = True
        rows = wanted[time_of]
        value = ranked_auc(booked_by_score[rows], by_score[rows])
        if value is not None and abs(value * 10_000 % 1 - 0.5) < 1e-4:
            # within 1e-8 of a 4th-digit rounding edge: the printed digit is sklearn's, as
            # before (their floating-point difference could fall either side of it)
            value = auc(booked_by_score[rows].astype(np.int64), by_score[rows])
        return _r(value)

    kept = [j for j, (p, _) in enumerate(pairs) if len(p)]
    trained = [j for j in kept if times[j] in log.trained]
    days: dict[int, list[int]] = {}
    for j in kept:
        days.setdefault(int((times[j] - times[0]).total_seconds() // 86400), []).append(j)
    return {"auc_forward": pooled(kept) if kept else None, "auc_forward_rows": len(scores),
            "auc_forward_trained": pooled(trained) if trained else None,
            "auc_forward_by_day": [pooled(days[d]) for d in sorted(days)]}  # fmt: skip


async def training_check(ctx: Context) -> dict[str, int]:
    """The final training set, and how many of its rows were observed while one of their
    lead's calls was in progress (placed, report not received): must be 0. Checked from the
    calls themselves, not from scoring_features' own filter."""
    held = await training_set(ctx.repos.scoring, ctx.clock.now(), ctx.settings)
    spans = await SimulateRepository(ctx.transport).call_spans()
    # each row's cutoff as training_rows gives it (a datetime of its epoch seconds)
    unique, which = np.unique(held.times, return_inverse=True)
    cutoffs = np.array([micros(datetime.fromtimestamp(t, UTC)) for t in unique.tolist()],
                       dtype=np.int64)[which]  # fmt: skip
    never = np.iinfo(np.int64).max
    in_call = in_any_span(
        np.asarray(held.cols["lead_id"], dtype=np.int64), cutoffs,
        np.array([k.lead_id for k in spans], dtype=np.int64),
        np.array([micros(k.placed_at) for k in spans], dtype=np.int64),
        np.array([never if k.report_received_at is None else micros(k.report_received_at)
                  for k in spans], dtype=np.int64),
    )  # fmt: skip
    return {"training_rows": len(held), "training_rows_in_call": int(in_call.sum())}


async def per_call_figures(ctx: Context) -> dict[str, Any]:
    """The queue's score of each placed call (when placed) against the call booking."""
    calls = await ctx.repos.scoring.call_outcomes(START_OF_TIME, ctx.clock.now())
    scored = [k for k in calls if k.queue_score is not None]
    y = np.array([1 if k.booked else 0 for k in scored], dtype=np.int64)
    p = np.array([k.queue_score for k in scored], dtype=np.float64)
    by_order = Counter(k.queue_order for k in calls)
    booked_by_order = Counter(k.queue_order for k in calls if k.booked)
    return {
        "auc_per_call": _r(auc(y, p)),
        "top20_capture_per_call": _r(capture(y, p, 0.2)) if len(scored) else None,
        "calls_by_order": {str(o): {"calls": n, "booked": booked_by_order[o]}
                           for o, n in sorted(by_order.items(), key=lambda kv: str(kv[0]))},
    }  # fmt: skip


async def scoring_summary(
    ctx: Context, world: World, log: ScoreLog, call_order: str
) -> dict[str, Any]:
    stored = await ctx.repos.scoring.latest_model(ctx.clock.now())
    metrics = stored.metrics if stored else {}
    per_call = metrics.get("per_call") or {}
    o = world.outcomes
    placed = o["call_answered"] + o["call_customer-did-not-answer"] + o["call_voicemail"]
    pauses = await SimulateRepository(ctx.transport).campaign_pauses()
    return {
        "model": stored.kind if stored else None,
        "model_version": stored.version if stored else None,
        "per_call_model": bool(stored and "per_call" in stored.model),
        "call_order": call_order,
        **await forward_auc(ctx, log),
        "holdout_auc": _r(metrics.get("holdout_auc")),
        "per_call_holdout_auc": _r(per_call.get("holdout_auc")),
        **await per_call_figures(ctx),
        "bookings_per_call": round(o["call_booked"] / placed, 4) if placed else None,
        "campaign_pauses": [p.model_dump(mode="json") for p in pauses],
        **await training_check(ctx),
    }


def _counts(world: World) -> tuple[dict[str, int], dict[str, int]]:
    channels = Counter(s.channel for s in world.sent)
    messages = {"email": channels["email"], "sms": channels["sms"]}
    o = world.outcomes
    calls = {
        "placed": channels["call"], "answered": o["call_answered"],
        "no_answer": o["call_customer-did-not-answer"], "voicemail": o["call_voicemail"],
        "booked": o["call_booked"],
    }  # fmt: skip
    return messages, calls


async def _timing(ctx: Context) -> TimingModel:
    return await load_configured_timing(ctx.repos.scoring, ctx.clock.now(), ctx.settings)


async def build_report(
    ctx: Context, world: World, leads: list[SimLead], config: SimConfig, started: float,
    extra: dict[str, Any], log: ScoreLog | None = None,
) -> Report:  # fmt: skip
    """The report of a finished run (see the module contract)."""
    found: Audit = audit(world)
    messages, calls = _counts(world)
    opt_outs = Counter(channel for _, channel in world.opt_outs)
    o = world.outcomes
    return Report(
        leads=len(leads), days=config.days, seed=config.seed, messages=messages, calls=calls,
        bookings=len(world.booked),
        opt_outs={"sms_stop": opt_outs["sms"], "email_hard_bounce": opt_outs["email"]},
        engagement={"email_clicks": o["email_clicked"], "sms_replies": o["sms_reply"]},
        audit={**asdict(found), "violations": found.violations},
        best_hour=learned_hours(await _timing(ctx)),
        scoring=await scoring_summary(ctx, world, log or ScoreLog(), config.call_order),
        run={**extra, "webhooks_posted": world.queue.posted,
             "webhooks_rejected": len(world.queue.rejected),
             "wall_seconds": round(time.perf_counter() - started, 1)},
        agents=world.assistants.report() if world.assistants else {},
    )  # fmt: skip
