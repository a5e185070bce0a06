"""A/B variants: Thompson sampling assignment and winner promotion.

Each step's variants are Beta-Bernoulli arms on the step's goal (click for email, reply for
SMS, or booking; AB_GOAL_EMAIL / AB_GOAL_SMS). Every growth run computes, by Monte Carlo
over the posteriors Beta(1 + successes, 1 + failures), each variant's probability of being
best. Those probabilities are the assignment weights: sending each lead the variant drawn
with them is Thompson sampling in batch form (probability matching), and the drip reads
them from campaign_steps.template.ab (app.campaigns.steps.choose_variant). A variant is
promoted when its P(best) exceeds AB_PROMOTE_PROBABILITY and every variant has at least
AB_MIN_SAMPLE sends; the decision is recorded in `variant_decisions` and then sticks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from app.core.settings import Settings
from app.db.scoring import ScoringRepository, VariantArm

DRAWS = 20_000
WINDOW_DAYS = 90


@dataclass(frozen=True)
class Arm:
    n: int
    successes: int


def p_best(
    arms: Mapping[str, Arm], rng: np.random.Generator, draws: int = DRAWS
) -> dict[str, float]:
    """Each arm's posterior probability of having the highest rate (uniform priors)."""
    names = sorted(arms)
    a = np.array([1 + arms[k].successes for k in names], dtype=np.float64)
    b = np.array([1 + arms[k].n - arms[k].successes for k in names], dtype=np.float64)
    samples = rng.beta(a, b, size=(draws, len(names)))
    wins = np.bincount(samples.argmax(axis=1), minlength=len(names)) / draws
    return {k: float(w) for k, w in zip(names, wins, strict=True)}


def winner(
    arms: Mapping[str, Arm], probs: Mapping[str, float], min_sample: int, threshold: float
) -> str | None:
    """The arm to promote, if any: P(best) > threshold after min_sample sends per arm."""
    if len(arms) < 2 or min(a.n for a in arms.values()) < min_sample:
        return None
    best = max(probs, key=lambda k: probs[k])
    return best if probs[best] > threshold else None


def goal_of(channel: str, goals: Mapping[str, str]) -> str:
    return goals.get(channel, "booking")


def successes(arm: VariantArm, goal: str) -> int:
    return {"click": arm.clicked, "reply": arm.replied, "booking": arm.booked}[goal]


def decide(
    stats: Iterable[VariantArm],
    goals: Mapping[str, str],
    min_sample: int,
    threshold: float,
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """One decision per step with at least two variants sent."""
    by_step: dict[int, list[VariantArm]] = defaultdict(list)
    for arm in stats:
        by_step[arm.step_id].append(arm)
    out = []
    for step_id, rows in sorted(by_step.items()):
        if len(rows) < 2:
            continue
        goal = goal_of(rows[0].channel, goals)
        arms = {r.variant: Arm(r.sent, successes(r, goal)) for r in rows}
        probs = p_best(arms, rng)
        out.append({
            "step_id": step_id, "campaign_id": rows[0].campaign_id, "goal": goal,
            "arms": {k: {"n": a.n, "successes": a.successes} for k, a in arms.items()},
            "p_best": probs, "winner": winner(arms, probs, min_sample, threshold),
        })  # fmt: skip
    return out


def hourly_seed(now: datetime) -> int:
    """The seed of a deployed run's draws: the hour of `now` since the epoch, so a rerun
    within the hour (a retry, a guardian restart) reproduces the same weights and winners."""
    return int(now.timestamp()) // 3600


async def update_variants(
    repo: ScoringRepository, now: datetime, s: Settings, rng: np.random.Generator
) -> dict[str, int]:
    """Recompute every step's assignment weights and promote winners (two SQL calls); the
    Monte Carlo draws come from `rng` (the caller chooses its seed: see `hourly_seed`)."""
    stats = await repo.variant_stats(WINDOW_DAYS, s.scoring_horizon_days, now)
    goals = {"email": s.ab_goal_email, "sms": s.ab_goal_sms}
    decisions = decide(stats, goals, s.ab_min_sample, s.ab_promote_probability, rng)
    recorded = await repo.record_variants(decisions, now)
    return {"ab_steps": recorded, "ab_winners": sum(1 for d in decisions if d["winner"])}
