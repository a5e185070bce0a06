"""A fit's model does not depend on the machine's core count (app/scoring/train.py): the
solver's matrix products run on one BLAS thread whatever the process allows, so the same
training set gives the same model, to the last bit, on a laptop, in CI and on Modal."""

from __future__ import annotations

import json

import numpy as np
from threadpoolctl import threadpool_limits

from app.scoring.features import LEAD_SPEC
from app.scoring.train import fit


def snapshots(rows: int, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Rows shaped like the growth job's training set: counts with gaps, three categories,
    a few percent booked."""
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray] = {}
    for j, (name, _) in enumerate(LEAD_SPEC.numeric):
        values = rng.poisson(0.5 + j % 4, rows).astype(np.float64)
        values[rng.random(rows) < 0.1] = np.nan
        cols[name] = values
    for name in LEAD_SPEC.categorical:
        cols[name] = rng.choice(np.array(["hvac", "dental", "roofing", "tx", ""], dtype=object),
                                rows)  # fmt: skip
    return cols, (rng.random(rows) < 0.05).astype(np.int64)


def test_the_same_rows_give_the_same_model_with_one_or_many_blas_threads() -> None:
    cols, y = snapshots(30_000, 11)
    models = []
    for threads in (1, 4):
        with threadpool_limits(limits=threads, user_api="blas"):
            models.append(json.dumps(fit(LEAD_SPEC, cols, y).to_json(), sort_keys=True,
                                     default=repr))  # fmt: skip
    assert models[0] == models[1]
