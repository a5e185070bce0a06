"""A retrain's lead-model fitting: where its CPU goes, and two ways to shorten it, measured.

The training set: from a kept simulation database (`--dsn`: read at the next retrain's
instant, six hours after its latest stored model, inside a rolled-back transaction), or
synthetic (`--rows`: bench/retrain_ab.py's, shaped like the simulator's). Then, with this
process alone doing the work (no database call):

- parts: train_model's CPU (app/scoring/leads.py) split into the encoding, the holdout
  fit's solver (scikit-learn's LogisticRegression.fit), the rest of the holdout (its
  design matrix, scoring the newest rows, AUC), the final fit's solver and the rest of the
  final fit (its design matrix, the model's JSON); median of `--rounds`;
- sparse (NOT landed: it moves coefficients): the same two fits with the design matrix in
  CSR form (the one-hot blocks stored as their ones only), alternated with today's dense
  fits: wall and CPU medians, the largest relative difference of a coefficient, the largest
  probability difference over the training rows, how many scores (0-100, one decimal, as
  written back) differ, and both sides' holdout figures;
- threads (NOT landed): the holdout fit in a second thread beside the final fit, under
  one BLAS-thread limit for both: the same models (checked every round), wall and CPU.

    .venv/bin/python bench/growth_fit_options.py --dsn "host=DIR user=postgres dbname=..."
    .venv/bin/python bench/growth_fit_options.py --rows 200000 [--rounds 5] [--skip threads]

Not a test: it prints measured figures (bench/RESULTS.md, "Simulator").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import psycopg
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from app.core import logs
from app.core.settings import Settings
from app.db.scoring import ScoringRepository
from app.db.transport import _configure
from app.scoring import leads, train
from app.scoring.features import LEAD_SPEC
from app.scoring.model import ScoreModel
from app.scoring.training_set import TrainingSet, training_set
from app.simulate.engine import sim_settings

sys.path[:0] = [str(Path(__file__).parent)]
import retrain_ab  # noqa: E402
from scoring_hourly import OneConnection  # noqa: E402

C = 1.0  # SCORING_REGULARIZATION_C's default (the simulator's too)


async def kept_set(dsn: str) -> tuple[TrainingSet, float]:
    """The kept database's training set at its next retrain, and the horizon in days."""
    s = sim_settings(Settings(_env_file=None))
    conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    await _configure(conn)
    row = await (await conn.execute("select max(trained_at) from score_models")).fetchone()
    assert row is not None and row[0] is not None, "no stored model"
    at = row[0] + timedelta(hours=6, minutes=1)
    async with conn.transaction(force_rollback=True):
        data = await training_set(ScoringRepository(OneConnection(conn)), at, s)
    await conn.close()
    print(f"kept database, training set at {at}: {len(data)} rows, {int(data.y.sum())} booked")
    return data, float(s.scoring_horizon_days)


class Timed(LogisticRegression):
    """LogisticRegression recording each fit's CPU seconds (the solver and its checks)."""

    spent: ClassVar[list[float]] = []

    def fit(self, *args: Any, **kwargs: Any) -> Any:
        cpu = time.process_time()
        try:
            return super().fit(*args, **kwargs)
        finally:
            Timed.spent.append(time.process_time() - cpu)


def parts(data: TrainingSet, horizon: float, rounds: int) -> None:
    """train_model's CPU by part (the solver timed inside the production path)."""
    split: list[list[float]] = []
    plain = train.LogisticRegression
    train.LogisticRegression = Timed  # type: ignore[misc]
    try:
        for _ in range(rounds):
            Timed.spent.clear()
            cpu = time.process_time()
            enc = train.encode(LEAD_SPEC, data.cols)
            t_enc = time.process_time()
            train.evaluate_holdout(LEAD_SPEC, data.cols, data.y, c=C, times=data.times,
                                   gap=horizon * 86400.0, enc=enc)  # fmt: skip
            t_hold = time.process_time()
            train.fit_encoded(enc, None, data.y, c=C)
            t_end = time.process_time()
            hold_fit, final_fit = Timed.spent
            split.append([t_enc - cpu, hold_fit, t_hold - t_enc - hold_fit, final_fit,
                          t_end - t_hold - final_fit])  # fmt: skip
    finally:
        train.LogisticRegression = plain  # type: ignore[misc]
    names = ("encode", "holdout solver", "holdout rest", "final solver", "final rest")
    med = [statistics.median(r[i] for r in split) * 1000 for i in range(len(names))]
    total = sum(med)
    print(f"parts (CPU ms, median of {rounds}; total {total:.0f}, solver "
          f"{(med[1] + med[3]) / total:.0%}):")  # fmt: skip
    print("  " + ", ".join(f"{n} {m:.0f}" for n, m in zip(names, med, strict=True)))


def fit_sparse(enc: train.Encoded, rows: Any, y: Any, *, c: float = C) -> ScoreModel:
    """fit_encoded's encoding and fit with the design matrix in CSR form."""
    raw = enc.raw if rows is None else enc.raw[rows]
    numeric = np.empty_like(raw)
    mean, scale = train._standardise(raw, numeric)
    n, k = numeric.shape
    cat_levels, level_cols, blocks = [], [], [sp.csr_matrix(numeric)]
    for codes, values in zip(enc.codes, enc.values, strict=True):
        levels, col = train._level_columns(codes if rows is None else codes[rows], values, 5)
        hit = np.nonzero(col >= 0)[0]
        blocks.append(sp.csr_matrix((np.ones(len(hit)), (hit, col[hit])), shape=(n, len(levels))))
        cat_levels.append(levels)
        level_cols.append(col)
    clf = LogisticRegression(C=c, max_iter=2000)
    with train._threadpools().limit(limits=1, user_api="blas"):
        clf.fit(sp.hstack(blocks, format="csr"), np.asarray(y, dtype=np.int64))
    coef = clf.coef_[0]
    numeric_json = [
        {"name": name, "transform": how, "mean": float(mean[j]), "scale": float(scale[j]),
         "coef": float(coef[j])}
        for j, (name, how) in enumerate(LEAD_SPEC.numeric)
    ]  # fmt: skip
    return ScoreModel(
        kind="logistic", intercept=float(clf.intercept_[0]), numeric=numeric_json,
        categorical=train._categorical_json(LEAD_SPEC, cat_levels, coef[k:], level_cols),
    )  # fmt: skip


def retrain(
    data: TrainingSet, horizon: float, fitter: Callable[..., ScoreModel]
) -> tuple[float, float, ScoreModel]:
    """train_model with `fitter` in place of fit_encoded: wall s, CPU s, the model."""
    wall, cpu = time.perf_counter(), time.process_time()
    plain = train.fit_encoded
    train.fit_encoded = fitter  # evaluate_holdout's holdout fit
    try:
        enc = train.encode(LEAD_SPEC, data.cols)
        metrics = train.evaluate_holdout(LEAD_SPEC, data.cols, data.y, c=C, times=data.times,
                                         gap=horizon * 86400.0, enc=enc)  # fmt: skip
        model = fitter(enc, None, data.y, c=C)
    finally:
        train.fit_encoded = plain
    model.metrics = metrics
    return time.perf_counter() - wall, time.process_time() - cpu, model


def sparse(data: TrainingSet, horizon: float, rounds: int) -> None:
    spent: dict[str, list[tuple[float, float]]] = {"dense": [], "sparse": []}
    models: dict[str, ScoreModel] = {}
    for r in range(rounds):
        for side in ("dense", "sparse") if r % 2 == 0 else ("sparse", "dense"):
            wall, cpu, models[side] = retrain(
                data, horizon, train.fit_encoded if side == "dense" else fit_sparse
            )
            spent[side].append((wall, cpu))
    today = leads.train_model(data, C, horizon)
    today.metrics = {k: v for k, v in today.metrics.items() if k.startswith("holdout")}
    same = retrain_ab.exact(models["dense"].to_json()) == retrain_ab.exact(today.to_json())
    assert same, "the bench's dense side is not train_model's model"
    a, b = models["dense"], models["sparse"]
    pa, pb = a.probability(data.cols), b.probability(data.cols)
    moved = int(np.sum(np.round(pa * 100.0, 1) != np.round(pb * 100.0, 1)))
    print(f"sparse design matrix (NOT landed), {rounds} rounds alternating:")
    for side, times in spent.items():
        print(f"  {side}: wall {statistics.median(w for w, _ in times):.3f} s, CPU "
              f"{statistics.median(c for _, c in times):.3f} s (median)")  # fmt: skip
    print(
        f"  largest relative coefficient difference "
        f"{retrain_ab.drift(a.to_json(), b.to_json()):.1e}; probabilities differ by at most "
        f"{np.abs(pa - pb).max():.1e}; scores (one decimal) differing: {moved} of {len(pa)}"
    )
    for side, m in models.items():
        print(f"  {side} holdout: " + json.dumps({k: v for k, v in m.metrics.items()}))


def threads(data: TrainingSet, horizon: float, rounds: int) -> None:
    def both() -> ScoreModel:
        enc = train.encode(LEAD_SPEC, data.cols)
        with train._threadpools().limit(limits=1, user_api="blas"), ThreadPoolExecutor(1) as ex:
            holdout = ex.submit(train.evaluate_holdout, LEAD_SPEC, data.cols, data.y, c=C,
                                times=data.times, gap=horizon * 86400.0, enc=enc)  # fmt: skip
            model = train.fit_encoded(enc, None, data.y, c=C)
            model.metrics = holdout.result()
        return model

    def one() -> ScoreModel:
        model = leads.train_model(data, C, horizon)
        model.metrics = {k: v for k, v in model.metrics.items() if k.startswith("holdout")}
        return model

    spent: dict[str, list[tuple[float, float]]] = {"one thread": [], "two threads": []}
    for r in range(rounds):
        got = []
        for side in ("one thread", "two threads") if r % 2 == 0 else ("two threads", "one thread"):
            wall, cpu = time.perf_counter(), time.process_time()
            got.append(retrain_ab.exact((one if side == "one thread" else both)().to_json()))
            spent[side].append((time.perf_counter() - wall, time.process_time() - cpu))
        assert got[0] == got[1], "the threaded fits differ"
    print(f"holdout fit beside the final fit (NOT landed), {rounds} rounds, models identical:")
    for side, times in spent.items():
        print(f"  {side}: wall {statistics.median(w for w, _ in times):.3f} s, CPU "
              f"{statistics.median(c for _, c in times):.3f} s (median)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--dsn")
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--skip", nargs="*", default=[], choices=["parts", "sparse", "threads"])
    args = ap.parse_args()
    logs.configure("WARNING")
    if args.dsn:
        data, horizon = asyncio.run(kept_set(args.dsn))
    else:
        cols, y, times = retrain_ab.training_set(args.rows, 7)
        data, horizon = TrainingSet(cols, y, times), retrain_ab.HORIZON / 86400.0
        print(f"synthetic training set: {args.rows} rows, {int(y.sum())} booked")
    print(f"load {os.getloadavg()[0]:.1f}")
    for name, step in (("parts", parts), ("sparse", sparse), ("threads", threads)):
        if name not in args.skip:
            step(data, horizon, args.rounds)
    print(f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
