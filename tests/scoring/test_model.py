"""The model code: a known signal is recovered, JSON round-trips give identical scores,
reasons name the features that matter."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np

from app.scoring.features import LEAD_SPEC
from app.scoring.model import FeatureSpec, ScoreModel
from app.scoring.prior import prior_model
from app.scoring.reasons import reason_texts
from app.scoring.train import auc, capture, evaluate_holdout, fit

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
SPEC = FeatureSpec(numeric=(("clicks", "log1p"), ("noise", "identity")), categorical=("industry",))


def synthetic(n: int, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Bookings driven by clicks and the 'hvac' industry; 'noise' carries no signal."""
    rng = np.random.default_rng(seed)
    clicks = rng.poisson(0.7, n).astype(float)
    industry = rng.choice(np.array(["hvac", "plumbing", "roofing"], dtype=object), n)
    noise = rng.normal(size=n)
    logit = -3.0 + 1.6 * np.log1p(clicks) + 1.0 * (industry == "hvac")
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return {"clicks": clicks, "noise": noise, "industry": industry}, y


def test_training_recovers_a_known_signal() -> None:
    cols, y = synthetic(4000, seed=1)
    model = fit(SPEC, cols, y)
    test_cols, test_y = synthetic(4000, seed=2)
    p = model.probability(test_cols)
    score = auc(test_y, p)
    assert score is not None and score > 0.7
    assert capture(test_y, p, 0.2) > 0.35  # far better than the 0.2 of a random order
    coef = {f["name"]: f["coef"] for f in model.numeric}
    assert coef["clicks"] > 0.5 and abs(coef["noise"]) < 0.15
    levels = model.categorical[0]["levels"]
    assert levels["hvac"] > levels["plumbing"] and levels["hvac"] > levels["roofing"]


def test_json_round_trip_gives_identical_scores() -> None:
    cols, y = synthetic(2000, seed=3)
    model = fit(SPEC, cols, y)
    restored = ScoreModel.from_json(json.loads(json.dumps(model.to_json())))
    p1, c1 = model.explain(cols)
    p2, c2 = restored.explain(cols)
    assert np.array_equal(p1, p2) and np.array_equal(c1, c2)


def test_unknown_category_and_missing_values_score_without_error() -> None:
    cols, y = synthetic(1000, seed=4)
    model = fit(SPEC, cols, y)
    odd = {
        "clicks": np.array([np.nan, 2.0]),
        "noise": np.array([0.0, np.nan]),
        "industry": np.array(["solar", "hvac"], dtype=object),
    }
    p = model.probability(odd)
    assert np.all(np.isfinite(p)) and p[1] > p[0]


def test_holdout_metric_uses_the_newest_rows() -> None:
    cols, y = synthetic(3000, seed=5)
    metrics = evaluate_holdout(SPEC, cols, y)
    assert metrics["holdout_rows"] == 600 and metrics["holdout_auc"] > 0.65


def _lead_columns() -> dict[str, np.ndarray]:
    base = {name: np.zeros(2) for name, _ in LEAD_SPEC.numeric}
    base["days_since_engagement"] = np.array([1.0, np.nan])
    base["clicks"] = np.array([1.0, 0.0])
    base["sms_replies"] = np.array([1.0, 0.0])
    base["calls_answered"] = np.array([1.0, 0.0])
    base["lead_age_days"] = np.array([10.0, 10.0])
    base["call_ok"] = np.array([1.0, 1.0])
    for name in LEAD_SPEC.categorical:
        base[name] = np.array(["", ""], dtype=object)
    base["last_click_campaign"] = np.array(["tune-up", None], dtype=object)
    base["last_click_at"] = np.array([datetime(2026, 11, 25, 12, tzinfo=UTC), None], dtype=object)
    base["last_reply_at"] = np.array([None, None], dtype=object)
    return base


def test_prior_ranks_engagement_and_explains_it() -> None:
    model = prior_model()
    cols = _lead_columns()
    p, contrib = model.explain(cols)
    assert p[0] > 0.4 > 0.1 > p[1]  # engaged lead is hot, the silent one is not
    reasons = reason_texts(model.groups, cols, contrib, NOW)
    assert reasons[0] == [
        "replied by SMS",  # +1.5 * log 2
        "last engaged yesterday",  # +1.0 * exp(-1/14)
        "clicked the tune-up email yesterday",  # +1.2 * log 2
    ]
    assert reasons[1] == ["can be called", "but lead added 10 days ago"]
