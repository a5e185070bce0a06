"""A/B: Thompson sampling converges to the better variant; a winner is promoted after the
minimum sample, recorded, shown, and used by the drip's variant choice."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import numpy as np

from app.campaigns.steps import choose_variant
from app.core.clock import ManualClock
from app.db.campaigns import ClaimedStep
from app.db.scoring import VariantArm
from app.jobs.bootstrap import Context
from app.scoring.assign import pick_variant
from app.scoring.variants import Arm, decide, p_best, update_variants, winner
from tests.campaigns.helpers import load
from tests.scoring import helpers as h

AB_CAMPAIGN = """
slug: ab-test
name: A/B test
timezone: America/New_York
steps:
  - channel: email
    delay: 0m
    variants:
      - {name: a, subject: "Tune-up time", html: '<p><a href="https://example.com/b">book</a></p>'}
      - {name: b, subject: "Save 20%", html: '<p><a href="https://example.com/b">book</a></p>'}
"""
VARIANTS = [{"name": "a"}, {"name": "b"}]


def test_p_best_and_promotion_rule() -> None:
    rng = np.random.default_rng(1)
    arms = {"a": Arm(200, 8), "b": Arm(200, 30)}
    probs = p_best(arms, rng)
    assert probs["b"] > 0.99 and abs(sum(probs.values()) - 1) < 1e-9
    assert winner(arms, probs, min_sample=100, threshold=0.95) == "b"
    assert winner(arms, probs, min_sample=300, threshold=0.95) is None  # sample too small
    close = {"a": Arm(200, 20), "b": Arm(200, 22)}
    assert winner(close, p_best(close, rng), 100, 0.95) is None  # not sure enough


def test_thompson_assignment_converges_to_the_better_variant() -> None:
    rng = np.random.default_rng(42)
    rate = {"a": 0.04, "b": 0.10}
    sent = {"a": [0, 0], "b": [0, 0]}
    ab: dict[str, Any] = {}
    share_b = []
    for day in range(30):
        today = {"a": 0, "b": 0}
        for lead in range(100):
            digest = hashlib.sha256(f"{day}:{lead}".encode()).digest()
            name = pick_variant(VARIANTS, ab, digest)["name"]
            today[name] += 1
            sent[name][0] += 1
            sent[name][1] += int(rng.random() < rate[name])
        share_b.append(today["b"] / 100)
        stats = [
            VariantArm(
                campaign_id=1,
                step_id=1,
                channel="email",
                variant=k,
                sent=n,
                clicked=s,
                replied=0,
                booked=0,
            )
            for k, (n, s) in sent.items()
        ]
        (decision,) = decide(stats, {"email": "click"}, 100, 0.95, rng)
        ab = {"weights": decision["p_best"], "winner": decision["winner"]}
    assert share_b[0] < 0.7  # it explored a at first
    assert np.mean(share_b[-5:]) > 0.9  # then sent the better variant almost always
    assert ab["winner"] == "b"


def test_pick_variant_without_data_keeps_the_stable_split() -> None:
    digest = hashlib.sha256(b"7:3").digest()
    assert pick_variant(VARIANTS, None, digest) == VARIANTS[digest[0] % 2]
    assert pick_variant(VARIANTS, {"winner": "b"}, digest)["name"] == "b"
    assert pick_variant(VARIANTS, {"weights": {"a": 0.0, "b": 1.0}}, digest)["name"] == "b"


async def _sends(
    ctx: Context, step: dict[str, Any], campaign: int, variant: str, n: int, clicked: int, at: Any
) -> None:
    for i in range(n):
        lead = await h.lead(ctx, 1000 * (variant == "b") + i, at - timedelta(days=30))
        await h.message(
            ctx,
            lead,
            "email",
            at,
            "clicked" if i < clicked else "delivered",
            campaign_id=campaign,
            step_id=step["id"],
            payload={"variant": variant},
        )


async def _update(ctx: Context, seed: int) -> dict[str, int]:
    """One `update_variants` at the clock's time, its draws seeded with `seed`."""
    rng = np.random.default_rng(seed)
    return await update_variants(ctx.repos.scoring, ctx.clock.now(), ctx.settings, rng)


async def test_winner_is_promoted_recorded_and_used(ctx: Context, clock: ManualClock) -> None:
    campaign = await load(ctx, AB_CAMPAIGN)
    (step,) = await h.execute(ctx, "select id, template from campaign_steps")
    await _sends(ctx, step, campaign, "a", 120, 4, clock.now() - timedelta(days=2))
    await _sends(ctx, step, campaign, "b", 120, 25, clock.now() - timedelta(days=2))
    counts = await _update(ctx, seed=0)
    assert counts == {"ab_steps": 1, "ab_winners": 1}
    (shown,) = await ctx.repos.scoring.variant_decisions()
    assert (shown.campaign, shown.goal, shown.winner) == ("ab-test", "click", "b")
    assert shown.arms == {"a": {"n": 120, "successes": 4}, "b": {"n": 120, "successes": 25}}
    assert shown.promoted_at == clock.now() and shown.p_best["b"] > 0.95
    (saved,) = await h.execute(ctx, "select template from campaign_steps")
    assert saved["template"]["ab"]["winner"] == "b"
    claimed = ClaimedStep.model_validate({
        "enrollment_id": 1, "position": 0,
        "campaign": {"id": campaign, "slug": "ab-test", "definition": {}},
        "step": {"id": step["id"], "channel": "email", "template": saved["template"],
                 "position": 0},
        "lead": {"id": 1, "status": "new", "email": "lead@example.com"},
    })  # fmt: skip
    assert choose_variant(claimed)["name"] == "b"
    clock.advance(timedelta(hours=1))
    await _update(ctx, seed=1)  # a winner sticks and keeps its promotion time
    (again,) = await ctx.repos.scoring.variant_decisions()
    assert again.winner == "b" and again.promoted_at == shown.promoted_at


async def test_no_winner_below_the_minimum_sample(ctx: Context, clock: ManualClock) -> None:
    campaign = await load(ctx, AB_CAMPAIGN)
    (step,) = await h.execute(ctx, "select id from campaign_steps")
    await _sends(ctx, step, campaign, "a", 30, 0, clock.now() - timedelta(days=1))
    await _sends(ctx, step, campaign, "b", 30, 15, clock.now() - timedelta(days=1))
    assert (await _update(ctx, seed=0))["ab_winners"] == 0
    (shown,) = await ctx.repos.scoring.variant_decisions()
    assert shown.winner is None and shown.p_best["b"] > 0.99  # sure, but too few sends
    (saved,) = await h.execute(ctx, "select template from campaign_steps")
    assert "winner" not in saved["template"]["ab"] and saved["template"]["ab"]["weights"]
