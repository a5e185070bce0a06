"""The call queue's order: the per-call model's chance that a call placed now books, with a
share of the slots (CALL_ORDER_RANDOM_SHARE) filled in random order as a live control.

Contract:
- `queue_scores`: the candidate leads' features as of now (`scoring_features`, the one
  definition training reads too), scored by the stored model's per-call part
  (`model.per_call`: trained on calls, features as of placed_at, label "this call
  booked"), else by its lead model (the prior included);
- `rank_queue`: the order in which to try the candidates. Each slot is taken from the
  candidates left: with probability `random_share` a uniformly random one ('random'),
  else the highest score ('score'); ties keep the queue's order. Deterministic for the
  generator it is given (the graph's `rng`);
- a `CallRanker` (the simulator's oracle, through `Overrides.call_ranker`) replaces the
  scores; its picks are marked 'oracle'. Placed calls keep their score and how they were
  picked (`calls.queue_score`, `calls.queue_order`): the live control's bookings per
  call can be compared with the model's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np

from app.db.campaigns import QueuedCall
from app.db.scoring import ScoringRepository, StoredModel
from app.scoring.features import to_columns
from app.scoring.model import ScoreModel

CallRanker = Callable[[Sequence[QueuedCall], datetime], Sequence[float]]
Picked = Literal["score", "random", "oracle"]


@dataclass(frozen=True)
class Ranked:
    call: QueuedCall
    score: float  # the per-call model's chance (0-1) that this call books
    picked: Picked


def per_call_part(stored: StoredModel | None) -> ScoreModel | None:
    """The model that orders calls: the per-call model when trained, else the lead model."""
    if stored is None:
        return None
    part = stored.model.get("per_call")
    return ScoreModel.from_json(part if isinstance(part, dict) else stored.model)


async def queue_scores(
    repo: ScoringRepository, stored: StoredModel | None, calls: Sequence[QueuedCall], now: datetime
) -> list[float]:
    """Each call's chance of booking if placed now (0 for all when no model is stored)."""
    model = per_call_part(stored)
    if model is None or not calls:
        return [0.0] * len(calls)
    ids = sorted({c.lead.id for c in calls})
    rows = await repo.features(now, lead_ids=ids)
    if not rows:
        return [0.0] * len(calls)
    cols = to_columns(rows)
    chance = dict(zip(cols["lead_id"].tolist(), model.probability(cols).tolist(), strict=True))
    return [float(chance.get(c.lead.id, 0.0)) for c in calls]


def rank_queue(
    calls: Sequence[QueuedCall],
    scores: Sequence[float],
    rng: np.random.Generator,
    random_share: float,
    oracle: Sequence[float] | None = None,
) -> list[Ranked]:
    """The order in which to try `calls` (see the module contract)."""
    keys = np.asarray(oracle if oracle is not None else scores, dtype=np.float64)
    left = list(np.argsort(-keys, kind="stable"))
    out: list[Ranked] = []
    best: Picked = "oracle" if oracle is not None else "score"
    while left:
        picked: Picked = best
        if random_share > 0 and rng.random() < random_share:
            picked = "random"
        i = int(left.pop(int(rng.integers(len(left))) if picked == "random" else 0))
        out.append(Ranked(calls[i], float(scores[i]), picked))
    return out
