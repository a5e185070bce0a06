"""Fitting a ScoreModel with scikit-learn, and the ranking metrics used to judge it.

`fit` learns the encoding (numeric mean/scale after the transform; categorical levels seen
at least `min_level_count` times, one-hot) and an L2-regularised logistic regression, then
folds everything into a JSON-safe ScoreModel. `evaluate_holdout` measures a model the
honest way for a stream of outcomes: fit on the older part, score the newest part. A retrain
`encode`s its set once and both fits use it (`fit_encoded`): the same models to the bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from threadpoolctl import ThreadpoolController

from app.scoring.model import Columns, FeatureSpec, Floats, ScoreModel, transform

Rows = NDArray[np.intp] | slice  # row indices, or a run of rows (numpy reads it in place)


@dataclass(frozen=True)
class Encoded:
    """A training set's inputs prepared once for any number of fits on subsets of its rows
    (the holdout fit and the final fit): the numeric transforms of every row, and each
    categorical column as codes into its distinct values. A fit on rows `r` builds from
    these exactly the matrix it would build from `subset(cols, r)` (the transforms are
    elementwise; level counts and one-hot columns come from the same values), so the
    coefficients are the same to the last bit."""

    spec: FeatureSpec
    raw: Floats  # rows x numeric features, transformed, C order
    codes: list[NDArray[np.int64]]  # per categorical feature: each row's index into values
    values: list[list[Any]]  # per categorical feature: its distinct values, first-seen order


def encode(spec: FeatureSpec, cols: Columns) -> Encoded:
    """Prepare `cols` for `fit_encoded` (one pass over each column)."""
    raw = np.column_stack([transform(cols[name], how) for name, how in spec.numeric])
    codes, values = [], []
    for name in spec.categorical:
        column = np.asarray(cols[name]).tolist()
        distinct = list(dict.fromkeys(column))  # first-seen order; equal values share one
        index = {v: i for i, v in enumerate(distinct)}
        codes.append(np.fromiter(map(index.__getitem__, column), np.int64, len(column)))
        values.append(distinct)
    return Encoded(spec, raw, codes, values)


@cache
def _threadpools() -> ThreadpoolController:
    """The process's BLAS and OpenMP pools, found once (at the first fit, when numpy,
    SciPy and scikit-learn have loaded theirs): a controller's `limit` is then ~16 us,
    `threadpool_limits` finds them again at each call (~1.8 ms)."""
    return ThreadpoolController()


def one_blas_thread() -> Any:
    """The limit `fit_encoded` holds around each fit (one BLAS thread; a context manager),
    for a caller running fits in several threads at once: held around all of them, no
    fit's own limit, ending, restores the process's thread count while another fit still
    runs (app.scoring.leads runs the lead model's fits beside the per-call model's)."""
    return _threadpools().limit(limits=1, user_api="blas")


def _standardise(raw: Floats, out: Floats) -> tuple[Floats, Floats]:
    """Write (raw - mean) / scale into `out` (rows x numeric features); return the mean and
    scale (the population standard deviation; 1 for a constant column). The very bits of
    `(raw - raw.mean(0)) / raw.std(0)`: numpy's std centres the rows, squares and sums
    them in these same steps, but it would compute the mean and the centred rows again."""
    mean = raw.mean(axis=0)
    centred = np.subtract(raw, mean)
    var = np.add.reduce(np.square(centred), axis=0)
    scale = np.sqrt(np.true_divide(var, raw.shape[0], out=var), out=var)
    scale[scale < 1e-9] = 1.0  # a constant column contributes nothing, but must not divide by 0
    np.divide(centred, scale, out=out)
    return mean, scale


def _level_columns(codes: NDArray[np.int64], values: list[Any], min_count: int) -> tuple[
    list[str], NDArray[np.int64]
]:  # fmt: skip
    """The levels (values seen at least `min_count` times, not '', sorted) and each row's
    level column (-1: none)."""
    counts = np.bincount(codes, minlength=len(values)).tolist()
    kept = sorted(
        (v, code) for code, (v, n) in enumerate(zip(values, counts, strict=True))
        if n >= min_count and v != ""
    )  # fmt: skip
    column_of = np.full(len(values), -1, dtype=np.int64)
    for j, (_, code) in enumerate(kept):
        column_of[code] = j
    return [v for v, _ in kept], column_of[codes]


def fit(
    spec: FeatureSpec,
    cols: Columns,
    y: NDArray[Any],
    *,
    c: float = 1.0,
    min_level_count: int = 5,
    kind: str = "logistic",
    sample_weight: NDArray[Any] | None = None,
) -> ScoreModel:
    """Fit the encoding and an L2 logistic regression (strength 1/c) on `cols`, `y`;
    `sample_weight` (e.g. recency weights, bench/scoring_bank.py) weighs the rows' losses."""
    return fit_encoded(
        encode(spec, cols), None, y, c=c, min_level_count=min_level_count, kind=kind,
        sample_weight=sample_weight,
    )  # fmt: skip


def fit_encoded(
    enc: Encoded,
    rows: Rows | None,
    y: NDArray[Any],
    *,
    c: float = 1.0,
    min_level_count: int = 5,
    kind: str = "logistic",
    sample_weight: NDArray[Any] | None = None,
) -> ScoreModel:
    """`fit` on the rows `rows` (in that order; None: all; a slice reads them in place)
    of an encoded set; `y` holds those rows' labels. The same model as
    `fit(spec, subset(cols, rows), y)`."""
    spec = enc.spec
    labels = np.asarray(y, dtype=np.int64)
    raw = enc.raw if rows is None else enc.raw[rows]
    n, k = raw.shape
    cat_levels, level_cols = [], []
    for codes, values in zip(enc.codes, enc.values, strict=True):
        levels, col = _level_columns(codes if rows is None else codes[rows], values,
                                     min_level_count)  # fmt: skip
        cat_levels.append(levels)
        level_cols.append(col)
    # the standardised block and the one-hot blocks written straight into one C-order
    # matrix (what np.hstack of the blocks gives, without the blocks and the copies)
    x = np.zeros((n, k + sum(len(lv) for lv in cat_levels)), dtype=np.float64)
    mean, scale = _standardise(raw, x[:, :k])
    start = k
    for levels, col in zip(cat_levels, level_cols, strict=True):
        hit = np.nonzero(col >= 0)[0]
        x[hit, start + col[hit]] = 1.0
        start += len(levels)
    clf = LogisticRegression(C=c, max_iter=2000)
    # One BLAS thread, whatever the machine: the model is then the same on a laptop, in CI
    # and on Modal (the solver's sums are split across BLAS threads, so the coefficients
    # moved in their last digits with the core count: 1.7e-13 relative here), and a fit is
    # faster too: 200,000 rows, 1.96 -> 1.27 s, CPU 3.35 -> 1.35 s on this 2-core machine,
    # quiet (`bench/retrain_ab.py --ref 5aada71 --threads`). The simulator already ran its
    # fits so (app/simulate/engine.py: one BLAS thread beside its Postgres).
    with one_blas_thread():
        clf.fit(x, labels, sample_weight=sample_weight)
    coef = clf.coef_[0]
    numeric_json = [
        {"name": name, "transform": how, "mean": float(mean[j]), "scale": float(scale[j]),
         "coef": float(coef[j])}
        for j, (name, how) in enumerate(spec.numeric)
    ]  # fmt: skip
    return ScoreModel(
        kind=kind,
        intercept=float(clf.intercept_[0]),
        numeric=numeric_json,
        categorical=_categorical_json(spec, cat_levels, coef[k:], level_cols),
    )


def _categorical_json(
    spec: FeatureSpec, cat_levels: list[list[str]], coef: Floats, level_cols: list[NDArray[Any]]
) -> list[dict[str, Any]]:
    """Per categorical feature: its level weights and their training-average (baseline):
    the mean over rows of the row's level weight, 0 for a row of no level (exactly the
    one-hot block times the weights: one non-zero term a row)."""
    out, start = [], 0
    for name, levels, col in zip(spec.categorical, cat_levels, level_cols, strict=True):
        weights = coef[start : start + len(levels)]
        start += len(levels)
        per_row = np.append(weights, 0.0)[col]  # col -1 (no level) picks the 0
        baseline = float(per_row.mean()) if len(levels) else 0.0
        out.append({
            "name": name, "baseline": baseline,
            "levels": {lv: float(w) for lv, w in zip(levels, weights, strict=True)},
        })  # fmt: skip
    return out


def auc(y: NDArray[Any], p: NDArray[Any]) -> float | None:
    """ROC AUC, or None when only one class is present."""
    labels = np.asarray(y, dtype=np.int64)
    if labels.min(initial=0) == labels.max(initial=0):
        return None
    return float(roc_auc_score(labels, p))


def capture(y: NDArray[Any], p: NDArray[Any], top: float) -> float:
    """Share of all positives found in the top `top` fraction of rows by score."""
    labels = np.asarray(y, dtype=np.int64)
    total = labels.sum()
    if total == 0:
        return 0.0
    k = max(1, round(len(labels) * top))
    order = np.argsort(-np.asarray(p), kind="stable")[:k]
    return float(labels[order].sum() / total)


def subset(cols: Columns, rows: NDArray[Any] | slice) -> dict[str, NDArray[Any]]:
    return {name: np.asarray(values)[rows] for name, values in cols.items()}


def evaluate_holdout(
    spec: FeatureSpec,
    cols: Columns,
    y: NDArray[Any],
    *,
    share: float = 0.2,
    c: float = 1.0,
    times: NDArray[Any] | None = None,
    gap: Any = None,
    enc: Encoded | None = None,
) -> dict[str, Any]:
    """Fit on the oldest rows, measure on the newest `share` (rows must be in time order).
    With `times` (each row's observation time) and `gap` (the label horizon, a timedelta)
    the split is by time: the test rows are those observed from the cut time on, and the
    training rows those whose label window (t, t + gap] closed by then, so no training
    label reads the test period. `enc`: `encode(spec, cols)` when the caller has it (the
    final fit shares it)."""
    n = len(y)
    cut = int(n * (1 - share))
    y_arr = np.asarray(y)
    test = np.arange(cut, n)
    train = np.arange(cut)
    if times is not None and 0 < cut < n:
        t = np.asarray(times)
        cut_time = t[cut]
        test = np.nonzero(t >= cut_time)[0]
        train = (
            np.nonzero(t + gap <= cut_time)[0] if gap is not None else np.nonzero(t < cut_time)[0]
        )
    if len(train) < 10 or len(test) < 10 or len(set(y_arr[train].tolist())) < 2:
        return {"holdout_rows": 0}
    enc = encode(spec, cols) if enc is None else enc
    older, newer = _run(train), _run(test)  # rows in time order: a prefix and a suffix
    model = fit_encoded(enc, older, y_arr[older], c=c)
    p = model.probability(subset(cols, newer))
    return {
        "holdout_rows": len(test),
        "holdout_auc": auc(y_arr[newer], p),
        "holdout_top10_capture": capture(y_arr[newer], p, 0.1),
    }


def _run(rows: NDArray[np.intp]) -> Rows:
    """`rows` as a slice when they are consecutive and ascending (a time-ordered set's
    older or newer part), which numpy reads in place (no copy of each column); else as
    they are. The same rows in the same order either way."""
    n = len(rows)
    if n and int(rows[-1]) - int(rows[0]) == n - 1 and bool(np.all(rows[1:] > rows[:-1])):
        return slice(int(rows[0]), int(rows[-1]) + 1)
    return rows
