"""The simulation's report: what was sent and what came of it, the audit, what was learned.

Contract: `build_report` runs once, after the last tick; `Report.as_dict()` is the `--json`
document and `Report.text()` the printed summary (same figures). Learned best hours come
from nightshift's own timing model (`load_timing`); AUC is the stored model's holdout AUC and
an AUC computed here from the final lead scores against the simulated bookings.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from app.db.simulate import SimulateRepository
from app.scoring.timing import TimingModel, load_configured_timing
from app.simulate.audit import Audit, audit
from app.simulate.population import REGIONS, SimLead
from app.simulate.providers import World

if TYPE_CHECKING:
    from app.jobs.bootstrap import Context
    from app.simulate.engine import SimConfig


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
            f"{a['after_opt_out']}, over state cap {a['over_state_cap']})",
            f"duplicates: keys {a['duplicate_keys']}, rows {a['duplicate_rows']}",
            *[f"  e.g. {e}" for e in a["examples"]],
            "best hour (local) learned vs true:",
            *[f"  {s:<3} {_hour(v['learned'])} vs {v['true']:>2}  ({v['attempts']} calls)"
              for s, v in self.best_hour.items()],
            f"scoring: {_kv(self.scoring)}",
            f"run: {_kv(self.run)}",
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


def score_auc(scores: list[tuple[float, bool]]) -> float | None:
    """ROC AUC of nightshift's scores against the simulated bookings (None: one class)."""
    labels = [b for _, b in scores]
    if not scores or all(labels) or not any(labels):
        return None
    from sklearn.metrics import roc_auc_score

    return round(float(roc_auc_score(labels, [s for s, _ in scores])), 4)


async def scoring_summary(ctx: Context, world: World) -> dict[str, Any]:
    stored = await ctx.repos.scoring.latest_model(ctx.clock.now())
    rows = await SimulateRepository(ctx.transport).lead_scores()
    pairs = []
    for row in rows:
        lead = world.by_address.get(row.phone or "") or world.by_address.get(row.email or "")
        if lead is not None:
            pairs.append((row.score if row.score is not None else 0.0, lead.index in world.booked))
    holdout = stored.metrics.get("holdout_auc") if stored else None
    return {
        "model": stored.kind if stored else None,
        "model_version": stored.version if stored else None,
        "holdout_auc": round(holdout, 4) if isinstance(holdout, float) else None,
        "auc_on_simulated_outcomes": score_auc(pairs),
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
    extra: dict[str, Any],
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
        scoring=await scoring_summary(ctx, world),
        run={**extra, "webhooks_posted": world.queue.posted,
             "webhooks_rejected": len(world.queue.rejected),
             "wall_seconds": round(time.perf_counter() - started, 1)},
    )  # fmt: skip
