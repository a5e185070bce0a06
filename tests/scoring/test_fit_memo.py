"""The per-call fit recognised by its inputs (app.scoring.fit_memo): a retrain whose
per-call rows, labels and C are exactly the latest stored model's stores that per-call model
again, and it is the very model a new fit gives, to the last bit; any changed input fits
anew. The digest lives in the stored model, so a retrain in a fresh process (each Modal run)
finds it."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from app.scoring import leads
from app.scoring.features import LEAD_SPEC
from app.scoring.fit_memo import INPUTS, inputs_digest, remembered, stored_json
from app.scoring.leads import current_model, per_call_model
from app.scoring.model import ScoreModel
from app.scoring.train import fit, fit_encoded
from tests.conftest import make_settings
from tests.scoring import helpers as h

DAY, MINUTE = timedelta(days=1), timedelta(minutes=1)


def exact(model: ScoreModel) -> str:
    return json.dumps(model.to_json(), sort_keys=True, default=repr)  # floats: every bit


def calls_columns(n: int, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-call rows as `call_columns` gives them: floats with NaN for never, categories
    normalised ('' for missing)."""
    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {"lead_id": np.arange(1, n + 1, dtype=np.int64)}
    for name, _ in LEAD_SPEC.numeric:
        cols[name] = rng.poisson(0.7, n).astype(np.float64)
    cols["days_since_engagement"][rng.random(n) < 0.4] = np.nan
    for name in LEAD_SPEC.categorical:
        cols[name] = rng.choice(np.array(["hvac", "roofing", "", "tx"], dtype=object), n)
    y = (rng.random(n) < 0.2).astype(np.int64)
    return cols, y


def test_a_remembered_fit_is_the_fit_of_the_same_inputs_to_the_bit() -> None:
    cols, y = calls_columns(400, 3)
    model = fit(LEAD_SPEC, cols, y, kind="per_call")
    # the solver is deterministic: a new fit of the same inputs is this model
    assert exact(fit(LEAD_SPEC, cols, y, kind="per_call")) == exact(model)
    model.metrics = {"calls": 400}
    key = inputs_digest(cols, y, c=1.0)
    assert remembered(None, key) is None  # nothing stored yet
    # stored as jsonb and read back: floats by their shortest repr, every bit kept
    last = json.loads(json.dumps(stored_json(model, key)))
    assert last[INPUTS] == key
    again = remembered(last, inputs_digest({k: v.copy() for k, v in cols.items()}, y.copy(),
                                           c=1.0))  # fmt: skip
    assert again is not None and exact(again) == exact(model)


@pytest.mark.parametrize("change", ["label", "number", "nan", "category", "row", "c"])
def test_any_changed_input_is_a_new_fit(change: str) -> None:
    cols, y = calls_columns(300, 5)
    key = inputs_digest(cols, y, c=1.0)
    cols = {k: v.copy() for k, v in cols.items()}
    y, c = y.copy(), 1.0
    if change == "label":
        y[17] = 1 - y[17]
    elif change == "number":
        cols["clicks"][5] = np.nextafter(cols["clicks"][5], 10.0)  # one ulp
    elif change == "nan":
        cols["emails_opened"][8] = np.nan
    elif change == "category":
        cols["industry"][9] = "hvac " if cols["industry"][9] == "hvac" else "hvac"
    elif change == "row":
        cols = {k: v[:-1] for k, v in cols.items()}
        y = y[:-1]
    else:
        c = 0.5
    assert inputs_digest(cols, y, c=c) != key
    last = stored_json(fit(LEAD_SPEC, *calls_columns(300, 5)), key)
    assert remembered(last, inputs_digest(cols, y, c=c)) is None


async def _placed_calls(ctx: Context, start: int, count: int, now: Any) -> None:
    """Referral leads book on the call they answer; web leads never do."""
    for n in range(start, start + count):
        source = "referral" if n % 3 == 0 else "web"
        lead = await h.lead(ctx, n, now - 9 * DAY, source=source)
        placed = now - timedelta(days=8) + n * 30 * MINUTE
        booked = source == "referral" and n % 2 == 0
        await h.call(ctx, lead, "booked" if booked else "no_answer", placed + 3 * MINUTE,
                     state_started=placed)  # fmt: skip


async def test_a_retrain_with_no_new_call_reuses_the_per_call_fit(
    ctx: Context, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Overnight no call is reported: the retrain six hours on stores the same per-call
    model without fitting it again; once a call is reported, the next retrain fits anew,
    and each stored per-call model is the one a fit of the same calls gives."""
    fits: list[str] = []

    def counted(*args: Any, **kwargs: Any) -> ScoreModel:
        fits.append(kwargs.get("kind", "logistic"))
        return fit_encoded(*args, **kwargs)

    monkeypatch.setattr(leads, "fit_encoded", counted)
    s = make_settings(nightshift_env="development", scoring_horizon_days=1,
                      scoring_retrain_hours=6.0)  # fmt: skip
    now = clock.now()
    await _placed_calls(ctx, 0, 240, now)
    first = await current_model(ctx.repos.scoring, now, s)
    assert fits.count("per_call") == 1 and "per_call" in first.model
    fits.clear()
    later = now + timedelta(hours=6, minutes=1)
    second = await current_model(ctx.repos.scoring, later, s)
    assert second.version > first.version
    assert fits.count("per_call") == 0  # the same calls: not fitted again
    alone = await per_call_model(ctx.repos.scoring, later, s)  # no last model: a new fit
    assert alone is not None and fits.count("per_call") == 1
    assert second.model["per_call"] == alone
    assert second.metrics["per_call"] == alone["metrics"]

    await _placed_calls(ctx, 240, 30, now + DAY)  # reported the next day
    fits.clear()
    third_at = later + 2 * DAY
    third = await current_model(ctx.repos.scoring, third_at, s)
    assert fits.count("per_call") == 1 and third.metrics["per_call"]["calls"] == 270
    alone = await per_call_model(ctx.repos.scoring, third_at, s)
    assert alone is not None and third.model["per_call"] == alone
