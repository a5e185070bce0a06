"""A retrain encodes its training set once for the holdout fit and the final fit
(app.scoring.train.encode / fit_encoded): the models must be the very models the separate
encodings gave, to the last bit (a retrain's speed-up must not move a coefficient)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from app.scoring.model import FeatureSpec, transform
from app.scoring.train import encode, evaluate_holdout, fit, fit_encoded, subset

SPEC = FeatureSpec(
    numeric=(("clicks", "log1p"), ("days_since_engagement", "recency"), ("call_ok", "identity")),
    categorical=("industry", "state"),
)


def leads(n: int, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Columns as the snapshot store gives them: NaN for never engaged, '' for a missing
    state, a rare industry ('solar') that only the newest rows carry often."""
    rng = np.random.default_rng(seed)
    clicks = rng.poisson(0.8, n).astype(float)
    engaged = rng.exponential(10.0, n)
    engaged[rng.random(n) < 0.3] = np.nan
    industry = rng.choice(np.array(["hvac", "plumbing", "roofing"], dtype=object), n)
    industry[n - n // 10 :][rng.random(n // 10) < 0.3] = "solar"
    industry[3] = "solar"  # one old row: below the level threshold in the older rows alone
    state = rng.choice(np.array(["tx", "fl", "", "ca"], dtype=object), n)
    logit = -2.5 + 1.2 * np.log1p(clicks) + 0.8 * (industry == "hvac") - 0.5 * (state == "")
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    call_ok = (rng.random(n) < 0.9).astype(float)
    cols = {"clicks": clicks, "days_since_engagement": engaged, "call_ok": call_ok,
            "industry": industry, "state": state}  # fmt: skip
    return cols, y


def exact(model: Any) -> str:
    return json.dumps(model.to_json(), sort_keys=True, default=repr)


def reference_fit(spec: FeatureSpec, cols: dict[str, np.ndarray], y: np.ndarray) -> str:
    """The encoding as train.fit built it before the shared encoding: per-fit levels from
    a Counter, one one-hot block per feature, np.hstack, baseline = mean(block @ weights)."""
    raw = np.column_stack([transform(cols[name], how) for name, how in spec.numeric])
    mean, scale = raw.mean(axis=0), raw.std(axis=0)
    scale[scale < 1e-9] = 1.0
    blocks, all_levels = [(raw - mean) / scale], []
    for name in spec.categorical:
        counts = Counter(cols[name].tolist())
        levels = sorted(v for v, n in counts.items() if n >= 5 and v != "")
        block = np.zeros((len(y), len(levels)))
        for i, v in enumerate(cols[name].tolist()):
            if v in levels:
                block[i, levels.index(v)] = 1.0
        blocks.append(block)
        all_levels.append(levels)
    clf = LogisticRegression(C=1.0, max_iter=2000).fit(np.hstack(blocks), y)
    coef, start = clf.coef_[0], len(spec.numeric)
    out: dict[str, Any] = {"intercept": float(clf.intercept_[0]),
                           "coef": [float(v) for v in coef[:start]], "baselines": []}  # fmt: skip
    for levels, block in zip(all_levels, blocks[1:], strict=True):
        weights = coef[start : start + len(levels)]
        start += len(levels)
        out["baselines"].append(float((block @ weights).mean()))
    out["mean"], out["scale"] = [float(v) for v in mean], [float(v) for v in scale]
    return json.dumps(out, default=repr)


def summary(model: Any) -> str:
    out = {"intercept": model.intercept, "coef": [f["coef"] for f in model.numeric],
           "baselines": [c["baseline"] for c in model.categorical],
           "mean": [f["mean"] for f in model.numeric],
           "scale": [f["scale"] for f in model.numeric]}  # fmt: skip
    return json.dumps(out, default=repr)


def test_a_fit_is_the_fit_the_separate_encoding_gave_to_the_bit() -> None:
    cols, y = leads(3000, seed=11)
    assert summary(fit(SPEC, cols, y)) == reference_fit(SPEC, cols, y)


def test_a_fit_on_older_rows_of_a_shared_encoding_is_the_fit_on_those_rows_alone() -> None:
    cols, y = leads(3000, seed=12)
    older = np.arange(2400)  # 'solar' is a level of the whole set, not of these rows
    alone = fit(SPEC, subset(cols, older), y[older])
    shared = fit_encoded(encode(SPEC, cols), older, y[older])
    assert "solar" not in alone.categorical[0]["levels"]
    assert exact(shared) == exact(alone)
    assert summary(alone) == reference_fit(SPEC, subset(cols, older), y[older])


def test_the_holdout_with_the_shared_encoding_reports_the_same_figures() -> None:
    cols, y = leads(3000, seed=13)
    times = np.repeat(np.arange(30, dtype=np.float64) * 21600.0, 100)
    alone = evaluate_holdout(SPEC, cols, y, times=times, gap=86400.0)
    shared = evaluate_holdout(SPEC, cols, y, times=times, gap=86400.0, enc=encode(SPEC, cols))
    assert alone["holdout_rows"] > 0
    assert json.dumps(shared, default=repr) == json.dumps(alone, default=repr)
