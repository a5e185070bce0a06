"""A fitted model recognised by a digest of exactly what it was fitted on.

Contract:
- a fit (encoding, holdout metrics, logistic regression) is a pure function of its inputs:
  the training columns, the labels and the fit's parameters; the same inputs give the same
  model to the last bit (the solver is deterministic: bench/retrain_ab.py checks two fits
  of one set every round);
- `inputs_digest` is a BLAKE2b digest (hex) of those inputs, every column by name, dtype and
  value (floats by their bytes, NaN included; texts in full), and of the parameters;
- a stored model's JSON carries the digest of its inputs under `INPUTS`; `remembered(last,
  key)` is the model stored as `last` when its digest is `key`, else None: nothing else is
  ever reused (no warm start, no partial reuse: a single changed value, label or parameter
  means a new fit).

Why: the per-call model's rows change only when calls are reported, and its retrain runs
every SCORING_RETRAIN_HOURS: a retrain with no newly reported call (overnight, say) would
fit the very same model again (docs/scoring.md "The per-call model and the call queue's
order"). The digest is kept in the stored model, not in the process: every retrain (a Modal
container of its own) reads the last stored model anyway.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.scoring.model import ScoreModel

INPUTS = "inputs"  # the key of the digest in a stored model's JSON


def inputs_digest(cols: Mapping[str, NDArray[Any]], y: NDArray[Any], **params: Any) -> str:
    """A digest of a fit's inputs (hex): every column (name, dtype, shape, values), the
    labels and the keyword parameters (their JSON)."""
    h = hashlib.blake2b(digest_size=32)
    for name in sorted(cols):
        _column(h, name, np.asarray(cols[name]))
    _column(h, "\x00labels", np.asarray(y))
    h.update(json.dumps(params, sort_keys=True, default=repr).encode())
    return h.hexdigest()


def _column(h: Any, name: str, values: NDArray[Any]) -> None:
    h.update(f"{name}\x00{values.dtype.str}\x00{values.shape}\x00".encode())
    if values.dtype.kind == "O":  # texts (categories): each value's JSON, in order
        h.update(json.dumps(values.tolist(), default=repr).encode())
    else:
        h.update(np.ascontiguousarray(values).tobytes())


def remembered(last: Mapping[str, Any] | None, key: str) -> ScoreModel | None:
    """The model stored as `last` (its JSON, with its inputs' digest under INPUTS) when
    that digest is `key`; else None."""
    if last is None or last.get(INPUTS) != key:
        return None
    return ScoreModel.from_json(last)


def stored_json(model: ScoreModel, key: str) -> dict[str, Any]:
    """`model`'s JSON with the digest of its inputs, as `remembered` reads it back."""
    return {**model.to_json(), INPUTS: key}
