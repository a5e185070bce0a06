"""A retrain's encoding and design matrices built in fewer passes (app.scoring.train,
app.scoring.model.transform): every value must be the value the plain numpy formulas gave,
to the last bit, so the fitted models do not move (tests/scoring/test_shared_encoding.py
checks whole fits against the encoding as it was first written)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.scoring.model import RECENCY_DAYS, FeatureSpec, Transform, transform
from app.scoring.train import (
    _run,
    _standardise,
    auc,
    capture,
    encode,
    evaluate_holdout,
    fit,
    fit_encoded,
    subset,
)

SPEC = FeatureSpec(
    numeric=(("clicks", "log1p"), ("days_since_engagement", "recency"), ("call_ok", "identity")),
    categorical=("industry",),
)


def plain_transform(values: np.ndarray, how: Transform) -> np.ndarray:
    """The transform as first written: nan_to_num over the transformed values."""
    x = np.asarray(values, dtype=np.float64)
    if how == "log1p":
        x = np.log1p(np.clip(x, 0.0, None))
    elif how == "recency":
        x = np.exp(-np.clip(x, 0.0, None) / RECENCY_DAYS)
    return np.nan_to_num(x, nan=0.0)


def plain_block(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The standardised block as first written: numpy's mean and std."""
    mean, scale = raw.mean(axis=0), raw.std(axis=0)
    scale[scale < 1e-9] = 1.0
    return (raw - mean) / scale, mean, scale


@pytest.mark.parametrize("how", ["identity", "log1p", "recency"])
def test_a_transform_gives_the_plain_formulas_values_and_leaves_its_input_alone(
    how: Transform,
) -> None:
    rng = np.random.default_rng(5)
    values = rng.normal(3.0, 40.0, 5000)
    values[rng.random(5000) < 0.2] = np.nan  # never engaged, no count yet
    values[:4] = [-0.0, 0.0, 1e308, -1e308]
    kept = values.copy()
    assert transform(values, how).tobytes() == plain_transform(values, how).tobytes()
    assert values.tobytes() == kept.tobytes()
    counts = np.arange(12)  # integers, as a count column may come
    assert transform(counts, how).tobytes() == plain_transform(counts, how).tobytes()


@pytest.mark.parametrize("how", ["identity", "log1p", "recency"])
def test_a_column_with_an_infinity_still_becomes_the_largest_finite_floats(how: Transform) -> None:
    values = np.array([np.inf, -np.inf, np.nan, 2.0, -3.0])
    assert transform(values, how).tobytes() == plain_transform(values, how).tobytes()
    assert np.isfinite(transform(values, how)).all()


def test_the_standardised_block_is_numpys_mean_and_std_to_the_bit() -> None:
    rng = np.random.default_rng(6)
    raw = np.column_stack([
        rng.normal(1e6, 3.0, 4001),  # a large offset: the centring order matters
        np.log1p(rng.poisson(0.7, 4001).astype(np.float64)),
        np.full(4001, 7.25),  # constant: scale 1
        rng.exponential(2.0, 4001),
    ])  # fmt: skip
    for block in (raw, raw[:3000], raw[1000:]):  # the whole set, a prefix, a suffix (views)
        out = np.zeros((len(block), 6))  # the design matrix's leading columns
        mean, scale = _standardise(block, out[:, :4])
        expected, plain_mean, plain_scale = plain_block(block)
        assert np.ascontiguousarray(out[:, :4]).tobytes() == expected.tobytes()
        assert mean.tobytes() == plain_mean.tobytes()
        assert scale.tobytes() == plain_scale.tobytes()
        assert not out[:, 4:].any()


def test_consecutive_rows_are_read_in_place_and_others_as_indices() -> None:
    assert _run(np.arange(0, 2400)) == slice(0, 2400)
    assert _run(np.arange(2400, 3000)) == slice(2400, 3000)
    shuffled = np.array([0, 2, 1, 3])
    assert _run(shuffled) is shuffled
    gaps = np.array([0, 1, 3, 4])
    assert _run(gaps) is gaps
    empty = np.arange(0)
    assert _run(empty) is empty


def leads(n: int, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    clicks = rng.poisson(0.8, n).astype(float)
    engaged = rng.exponential(10.0, n)
    engaged[rng.random(n) < 0.3] = np.nan
    industry = rng.choice(np.array(["hvac", "plumbing", "roofing", ""], dtype=object), n)
    logit = -2.5 + 1.2 * np.log1p(clicks) + 0.8 * (industry == "hvac")
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    cols = {"clicks": clicks, "days_since_engagement": engaged,
            "call_ok": (rng.random(n) < 0.9).astype(float), "industry": industry}  # fmt: skip
    return cols, y


def exact(value: object) -> str:
    return json.dumps(value, sort_keys=True, default=repr)


def test_a_fit_on_a_run_of_rows_is_the_fit_on_their_indices() -> None:
    cols, y = leads(3000, seed=21)
    enc = encode(SPEC, cols)
    for rows in (np.arange(2400), np.arange(600, 3000)):
        run = _run(rows)
        assert isinstance(run, slice)
        in_place = fit_encoded(enc, run, y[run])
        copied = fit_encoded(enc, rows, y[rows])
        assert exact(in_place.to_json()) == exact(copied.to_json())


def holdout_by_hand(cols: dict[str, np.ndarray], y: np.ndarray, times: np.ndarray) -> dict:
    """evaluate_holdout's split (the cut at 80 % of the rows, a day's gap), its fit on the
    training rows' own columns and its figures on the test rows' columns."""
    cut_time = times[int(len(y) * 0.8)]
    test = np.nonzero(times >= cut_time)[0]
    older = np.nonzero(times + 86400.0 <= cut_time)[0]
    p = fit(SPEC, subset(cols, older), y[older]).probability(subset(cols, test))
    return {"holdout_rows": len(test), "holdout_auc": auc(y[test], p),
            "holdout_top10_capture": capture(y[test], p, 0.1)}  # fmt: skip


def test_the_holdout_in_time_order_and_out_of_it_measures_the_rows_it_names() -> None:
    """In time order the split's parts are runs of rows (read in place); with two rows
    exchanged (the contract asks for time order, a caller may not keep it) they are
    indices: both give the figures of a fit on those rows' own columns."""
    cols, y = leads(3000, seed=22)
    times = np.repeat(np.arange(30, dtype=np.float64) * 21600.0, 100)
    swap = np.arange(3000)
    swap[[5, 2950]] = swap[[2950, 5]]  # one old row and one of the newest, exchanged
    for rows in (np.arange(3000), swap):
        part = {k: v[rows] for k, v in cols.items()}
        got = evaluate_holdout(SPEC, part, y[rows], times=times[rows], gap=86400.0)
        assert got["holdout_rows"] > 0
        assert exact(got) == exact(holdout_by_hand(part, y[rows], times[rows]))
