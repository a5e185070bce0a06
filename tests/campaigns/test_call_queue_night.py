"""A run whose every waiting call the gate refuses (the leads' night) places none, so it
reads no features to order them (their scoring_features read: 8-13 ms for 200 candidates on
day 8 of a 10,000-lead simulation); the order is still drawn, so the run's generator ends
where a scored order leaves it and the later runs draw what they drew before."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pytest

from app.campaigns import manager
from app.core.clock import ManualClock
from app.db.campaigns import LeadSnapshot, QueuedCall
from app.db.scoring import ScoringRepository, StoredModel
from app.jobs.bootstrap import Context
from app.jobs.campaign_manager import manager_deps
from app.scoring.call_order import rank_queue
from tests.campaigns.helpers import CALLS, add_leads, load, query

NIGHT = datetime.fromisoformat("2026-11-27T07:00:00+00:00")  # 02:00 in New York (212)


async def test_a_queue_the_gate_refuses_whole_waits_unfeaturised(
    ctx: Context, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign = await load(ctx, CALLS)
    await add_leads(ctx, 3)
    for lead_id in (1, 2, 3):
        await query(
            ctx,
            "insert into calls (idempotency_key, lead_id, campaign_id, to_number, status)"
            " values (%s, %s, %s, '+12125550000', 'queued') returning id",
            f"k{lead_id}", lead_id, campaign,
        )  # fmt: skip
    featurised: list[int] = []
    scores = manager.queue_scores

    async def counted(
        repo: ScoringRepository, stored: StoredModel | None, calls: Sequence[QueuedCall],
        now: datetime,
    ) -> list[float]:  # fmt: skip
        featurised.append(len(calls))
        return await scores(repo, stored, calls, now)

    monkeypatch.setattr(manager, "queue_scores", counted)
    clock.set(NIGHT)
    counts = await manager.place_calls(manager_deps(ctx), np.random.default_rng(5))
    assert (counts["calls_placed"], counts["calls_waiting"]) == (0, 3)
    assert featurised == []
    queued = await query(ctx, "select count(*) n from calls where status = 'queued'")
    assert queued[0]["n"] == 3  # each still waits for its hours


@pytest.mark.parametrize("share", [0.0, 0.1, 0.5, 1.0])
def test_the_order_draws_the_same_from_the_generator_whatever_the_scores(share: float) -> None:
    """What lets a refused queue go unscored: rank_queue's draws depend on how many
    candidates there are and the random share, never on the scores (or an oracle's)."""
    calls = [QueuedCall(id=i, lead=LeadSnapshot(id=i, status="contacted")) for i in range(200)]
    scored, unscored = np.random.default_rng(11), np.random.default_rng(11)
    rank_queue(calls, [((i * 37) % 101) / 101 for i in range(200)], scored, share)
    rank_queue(calls, [0.0] * 200, unscored, share, [float(i % 7) for i in range(200)])
    assert scored.bit_generator.state == unscored.bit_generator.state
    assert scored.random() == unscored.random()
