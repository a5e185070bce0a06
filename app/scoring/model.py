"""The scoring model: a regularised logistic regression (scikit-learn) kept as plain JSON.

Contract:
- input is columnar: `Columns` maps a feature name to a numpy array (numeric: float, NaN
  for missing; categorical: object array of strings), so scoring a million leads is a few
  vectorised passes, never a Python loop per lead;
- a `FeatureSpec` says which columns are numeric (and their transform) and which are
  categorical; encoding is fitted on the training data (standardisation, category levels);
- `ScoreModel` is the whole fitted model as JSON-safe data (`to_json`/`from_json`): the same
  scores come back after a round trip, and nothing is ever pickled;
- `explain` returns the probability and, per feature group, its contribution to the
  log-odds relative to the average training lead (what the reasons are built from).
The lead scorer (app.scoring.leads) and bench/scoring_bank.py both use this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

Transform = Literal["identity", "log1p", "recency"]
Columns = Mapping[str, NDArray[Any]]
Floats = NDArray[np.float64]
RECENCY_DAYS = 14.0  # "recency": exp(-days / 14); never (NaN) counts as 0


@dataclass(frozen=True)
class FeatureSpec:
    numeric: tuple[tuple[str, Transform], ...]
    categorical: tuple[str, ...] = ()

    @property
    def groups(self) -> list[str]:
        """Feature group names in contribution-matrix column order."""
        return [name for name, _ in self.numeric] + list(self.categorical)


def transform(values: NDArray[Any], how: Transform) -> Floats:
    """The numeric transform; NaN (missing) becomes 0 after it (an infinity the largest
    finite float of its sign): `np.nan_to_num(x, nan=0.0)` of the transformed values."""
    if how == "log1p":
        x = np.log1p(np.clip(np.asarray(values, dtype=np.float64), 0.0, None))
    elif how == "recency":
        x = np.exp(-np.clip(np.asarray(values, dtype=np.float64), 0.0, None) / RECENCY_DAYS)
    else:  # a copy, never the caller's array: it is written below
        x = np.array(values, dtype=np.float64)
    # nan_to_num's values in fewer passes (it tests and writes NaN, +inf and -inf apart);
    # a column with an infinity (none in practice) goes through nan_to_num itself
    np.copyto(x, 0.0, where=np.isnan(x))
    return np.nan_to_num(x, nan=0.0, copy=False) if np.isinf(x).any() else x


@dataclass
class ScoreModel:
    """A fitted (or hand-set) logistic model. All fields are JSON-safe."""

    kind: str
    intercept: float
    numeric: list[dict[str, Any]]  # {name, transform, mean, scale, coef}
    categorical: list[dict[str, Any]] = field(default_factory=list)  # {name, levels, baseline}
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def groups(self) -> list[str]:
        return [n["name"] for n in self.numeric] + [c["name"] for c in self.categorical]

    def spec(self) -> FeatureSpec:
        return FeatureSpec(
            tuple((n["name"], n["transform"]) for n in self.numeric),
            tuple(c["name"] for c in self.categorical),
        )

    def explain(self, cols: Columns) -> tuple[Floats, Floats]:
        """(probability per row, contribution matrix rows x groups) in vectorised passes."""
        n = _rows(cols)
        contrib = np.empty((n, len(self.groups)), dtype=np.float64)
        logit = np.full(n, self.intercept, dtype=np.float64)
        for j, f in enumerate(self.numeric):
            z = (transform(cols[f["name"]], f["transform"]) - f["mean"]) / f["scale"]
            contrib[:, j] = f["coef"] * z
        offset = len(self.numeric)
        for j, c in enumerate(self.categorical):
            weights = _lookup(cols[c["name"]], c["levels"])
            contrib[:, offset + j] = weights - c["baseline"]
            logit += c["baseline"]
        logit += contrib.sum(axis=1)
        return _sigmoid(logit), contrib

    def probability(self, cols: Columns) -> Floats:
        return self.explain(cols)[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "intercept": self.intercept, "numeric": self.numeric,
            "categorical": self.categorical, "metrics": self.metrics,
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ScoreModel:
        return cls(
            kind=str(data["kind"]),
            intercept=float(data["intercept"]),
            numeric=[dict(n) for n in data["numeric"]],
            categorical=[dict(c) for c in data.get("categorical", [])],
            metrics=dict(data.get("metrics", {})),
        )


def _rows(cols: Columns) -> int:
    return len(next(iter(cols.values()))) if cols else 0


def _sigmoid(x: Floats) -> Floats:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(x, -35.0, 35.0))), dtype=np.float64)


def _lookup(values: NDArray[Any], levels: Mapping[str, float]) -> Floats:
    """The weight of each row's category (0 for a level the model does not know)."""
    column = values.tolist() if isinstance(values, np.ndarray) else list(values)
    # map() calls dict.get in C: no Python frame per row, as a generator would take
    return np.fromiter(map(levels.get, column, repeat(0.0)), dtype=np.float64, count=len(column))


def normalise_category(values: Any) -> NDArray[Any]:
    """Categories as lower-case stripped strings; missing becomes ''."""
    values = list(values)
    try:
        distinct = set(values)
    except TypeError:  # an unhashable value: normalised one by one below
        distinct = {0}
    # Only texts and None: each distinct one normalised once, then mapped in C (a number
    # may share a set slot with another, 1 and 1.0 and True: those go one by one below).
    if all(type(v) is str or v is None for v in distinct):
        table = {v: "" if v is None else v.strip().lower() for v in distinct}
        return np.array(list(map(table.__getitem__, values)), dtype=object)
    seen: dict[str, str] = {}  # each distinct text normalised once (a column has few)

    def norm(v: Any) -> str:
        if not isinstance(v, str):  # None, or a number (1 and 1.0 would share a key)
            return str(v).strip().lower() if v is not None else ""
        out = seen.get(v)
        if out is None:
            out = seen[v] = v.strip().lower()
        return out

    return np.array([norm(v) for v in values], dtype=object)
