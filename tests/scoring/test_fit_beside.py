"""A retrain fits the lead model in a worker thread while the per-call model's reads wait on
the database (app.scoring.leads._fit_beside): the lead model is the model `train_model`
gives alone, to the last bit, every fit runs on one BLAS thread for as long as any fit
runs, and a failed lead fit still fails the retrain."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from app.core.settings import Settings
from app.scoring import leads
from app.scoring.features import LEAD_SPEC
from app.scoring.model import ScoreModel
from app.scoring.train import fit
from app.scoring.training_set import TrainingSet
from tests.conftest import make_settings


def snapshots(rows: int, seed: int) -> TrainingSet:
    """A training set shaped like the snapshot store's: counts with gaps, three
    categories, a few percent booked, rows in cutoff order (one snapshot every 6 hours)."""
    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {"lead_id": np.arange(rows, dtype=np.int64)}
    for j, (name, _) in enumerate(LEAD_SPEC.numeric):
        values = rng.poisson(0.5 + j % 4, rows).astype(np.float64)
        values[rng.random(rows) < 0.1] = np.nan
        cols[name] = values
    for name in LEAD_SPEC.categorical:
        cols[name] = rng.choice(np.array(["hvac", "dental", "", "tx"], dtype=object), rows)
    y = (rng.random(rows) < 0.08).astype(np.int64)
    times = np.sort(rng.integers(0, 40, rows)).astype(np.float64) * 21600.0
    return TrainingSet(cols, y, times)


def settings() -> Settings:
    return make_settings(scoring_horizon_days=1, scoring_retrain_hours=6.0)


def exact(model: ScoreModel) -> str:
    return json.dumps(model.to_json(), sort_keys=True, default=repr)


def blas_threads() -> list[int]:
    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


async def test_the_lead_model_fitted_beside_the_per_call_reads_is_the_model_alone() -> None:
    data, s = snapshots(6000, 3), settings()
    alone = leads.train_model(data, s.scoring_regularization_c, s.scoring_horizon_days)
    before = blas_threads()
    seen: list[list[int]] = []
    per_call_cols = snapshots(400, 4)

    async def per_call() -> dict[str, Any]:
        await asyncio.sleep(0)  # a read: the worker thread fits meanwhile
        seen.append(blas_threads())
        model = fit(LEAD_SPEC, per_call_cols.cols, per_call_cols.y, kind="per_call")
        seen.append(blas_threads())
        return model.to_json()

    model, got = await leads._fit_beside(data, s, per_call())
    assert exact(model) == exact(alone)
    assert got == fit(LEAD_SPEC, per_call_cols.cols, per_call_cols.y, kind="per_call").to_json()
    assert seen and all(threads == [1] * len(threads) for threads in seen)
    assert blas_threads() == before  # the process's own count once both are done


async def test_the_per_call_reads_run_while_the_lead_model_is_fitted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The lead fit waits here until the per-call part has begun: one after the other, it
    would wait in vain (the event's timeout only stops a hung test)."""
    data, s = snapshots(3000, 5), settings()
    begun = threading.Event()
    plain = leads.train_model

    def waiting(*args: Any) -> ScoreModel:
        assert begun.wait(timeout=60), "the per-call part did not run beside the fit"
        return plain(*args)

    monkeypatch.setattr(leads, "train_model", waiting)

    async def per_call() -> None:
        begun.set()

    model, got = await leads._fit_beside(data, s, per_call())
    assert got is None
    assert exact(model) == exact(plain(data, s.scoring_regularization_c, 1))


async def test_a_failed_lead_fit_fails_the_retrain_after_the_per_call_part(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data, s = snapshots(500, 6), settings()
    before = blas_threads()
    finished: list[str] = []

    def broken(*args: Any) -> ScoreModel:
        raise FloatingPointError("solver diverged")

    monkeypatch.setattr(leads, "train_model", broken)

    async def per_call() -> None:
        await asyncio.sleep(0)
        finished.append("per_call")

    with pytest.raises(FloatingPointError, match="solver diverged"):
        await leads._fit_beside(data, s, per_call())
    assert finished == ["per_call"]
    assert blas_threads() == before
