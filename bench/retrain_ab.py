"""One retrain's model fitting: a git ref's app/scoring/train.py against this tree's.

`train_model`'s work after the training set is read (app/scoring/leads.py): the holdout fit
and score (evaluate_holdout, split by time with the horizon's gap) and the final fit, on a
synthetic training set shaped like the simulator's (14 numeric features with NaNs, three
categorical ones, rows in cutoff order, one snapshot every 6 hours, ~5 % booked). Alternating
rounds, the ref's side then the tree's, each on the same columns; the models must be the
same to the last bit (their JSON compared, every float by its repr) or the bench stops.

    .venv/bin/python bench/retrain_ab.py [--ref HEAD] [--rows 200000] [--rounds 5]
    # where the tree's fitting goes: scikit-learn's LogisticRegression.fit against the rest
    .venv/bin/python bench/retrain_ab.py --profile [--rows 150000]
    # a ref whose fits used every BLAS thread (before 20261210's one-thread fit) against the
    # tree's: their models differ in the last digits, so the largest relative difference of
    # a coefficient is printed instead of stopping
    .venv/bin/python bench/retrain_ab.py --ref 5aada71 --threads
    # on a kept simulation database's training set at its next retrain (read once, rolled
    # back: bench/growth_fit_options.py) instead of the synthetic one
    .venv/bin/python bench/retrain_ab.py --dsn "host=DIR user=postgres dbname=..."

Not a test: it prints measured figures (bench/RESULTS.md, "Simulator").
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.scoring import train as tree  # noqa: E402
from app.scoring.features import LEAD_SPEC  # noqa: E402

HORIZON = 86400.0  # the simulator's SCORING_HORIZON_DAYS=1, in seconds
LEVELS = {"industry": 14, "source": 7, "state": 51}


def ref_module(ref: str) -> types.ModuleType:
    """The ref's app/scoring/train.py as a module (it imports this tree's model.py)."""
    text = subprocess.run(
        ["git", "show", f"{ref}:app/scoring/train.py"], cwd=ROOT, check=True,
        capture_output=True, text=True,
    ).stdout  # fmt: skip
    mod = types.ModuleType("train_ref")
    sys.modules[mod.__name__] = mod  # a dataclass in it looks its module up there
    exec(compile(text, f"{ref}:app/scoring/train.py", "exec"), mod.__dict__)
    return mod


def training_set(rows: int, seed: int) -> tuple[dict[str, Any], Any, Any]:
    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {}
    logit = np.full(rows, -3.2)
    for j, (name, _) in enumerate(LEAD_SPEC.numeric):
        v = rng.poisson(0.5 + j % 4, rows).astype(np.float64)
        logit += 0.08 * (j % 3 - 1) * np.log1p(v)
        v[rng.random(rows) < 0.08] = np.nan
        cols[name] = v
    for name in LEAD_SPEC.categorical:
        values = [f"{name}_{i}" for i in range(LEVELS[name])] + [""]
        picked = rng.integers(0, len(values), rows)
        logit += 0.3 * np.sin(picked)
        cols[name] = np.array([values[i] for i in picked.tolist()], dtype=object)
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    times = np.sort(rng.integers(0, 4 * 30, rows)).astype(np.float64) * 6 * 3600
    return cols, y, times


def retrain(
    mod: Any, cols: dict[str, Any], y: Any, times: Any
) -> tuple[float, float, dict[str, Any]]:
    """train_model's fitting with `mod` (the tree's shares one encoding, as leads.py does):
    wall seconds, CPU seconds of the process (every BLAS thread: steadier under load), model."""
    start, cpu = time.perf_counter(), time.process_time()
    if hasattr(mod, "encode"):
        enc = mod.encode(LEAD_SPEC, cols)
        metrics = mod.evaluate_holdout(LEAD_SPEC, cols, y, times=times, gap=HORIZON, enc=enc)
        model = mod.fit_encoded(enc, None, y)
    else:
        metrics = mod.evaluate_holdout(LEAD_SPEC, cols, y, times=times, gap=HORIZON)
        model = mod.fit(LEAD_SPEC, cols, y)
    model.metrics = metrics
    return time.perf_counter() - start, time.process_time() - cpu, model.to_json()


def exact(model: dict[str, Any]) -> str:
    return json.dumps(model, sort_keys=True, default=repr)  # floats: repr, every bit


def drift(a: dict[str, Any], b: dict[str, Any]) -> float:
    """The largest relative difference between two models' coefficients and intercept."""
    pairs = [(a["intercept"], b["intercept"])] + [
        (x["coef"], y["coef"]) for x, y in zip(a["numeric"], b["numeric"], strict=True)
    ]
    for x, y in zip(a["categorical"], b["categorical"], strict=True):
        pairs += [(x["levels"][k], y["levels"][k]) for k in x["levels"]]
    return max(abs(p - q) / max(abs(p), abs(q), 1e-12) for p, q in pairs)


def profile(cols: dict[str, Any], y: Any, times: Any) -> None:
    """CPU seconds of the tree's fitting inside scikit-learn's LogisticRegression.fit (the
    lbfgs solver, the part that cannot change without moving a coefficient) and outside."""
    prof = cProfile.Profile(timer=time.process_time)
    prof.enable()
    retrain(tree, cols, y, times)
    prof.disable()
    stats: Any = pstats.Stats(prof)
    total = stats.total_tt
    solver = sum(
        ct for (path, _, name), (_, _, _, ct, _) in stats.stats.items()
        if name == "fit" and path.endswith("sklearn/linear_model/_logistic.py")
    )  # fmt: skip
    print(f"fitting {total:.3f} s CPU: LogisticRegression.fit {solver:.3f} s "
          f"({solver / total:.0%}), the rest {total - solver:.3f} s")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref", default="HEAD")
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--threads", action="store_true")
    ap.add_argument("--dsn")
    args = ap.parse_args()
    if args.dsn:  # the simulator's horizon is HORIZON's day too
        from growth_fit_options import kept_set  # this directory's; it imports this module

        data, _ = asyncio.run(kept_set(args.dsn))
        cols, y, times, args.rows = data.cols, data.y, data.times, len(data)
    else:
        cols, y, times = training_set(args.rows, args.seed)
    print(f"{args.rows} rows, {int(y.sum())} booked; load {os.getloadavg()[0]:.1f}")
    if args.profile:
        return profile(cols, y, times)
    ref = ref_module(args.ref)
    spent: dict[str, list[tuple[float, float]]] = {"ref": [], "tree": []}
    for r in range(args.rounds):
        *t_ref, m_ref = retrain(ref, cols, y, times)
        *t_tree, m_tree = retrain(tree, cols, y, times)
        if args.threads:
            print(f"  largest relative coefficient difference {drift(m_ref, m_tree):.1e}")
        elif exact(m_ref) != exact(m_tree):
            sys.exit("the models differ: not the same fit")
        spent["ref"].append((t_ref[0], t_ref[1]))
        spent["tree"].append((t_tree[0], t_tree[1]))
        print(f"round {r + 1}: {args.ref} {t_ref[0]:.3f} s ({t_ref[1]:.3f} CPU), "
              f"tree {t_tree[0]:.3f} s ({t_tree[1]:.3f} CPU)")  # fmt: skip
    for i, what in enumerate(("wall", "CPU")):
        a = statistics.median(t[i] for t in spent["ref"])
        b = statistics.median(t[i] for t in spent["tree"])
        print(f"median {what}: {args.ref} {a:.3f} s, tree {b:.3f} s ({b / a:.2f}x)")
    same = "compared above" if args.threads else "identical every round"
    print(f"models {same}; load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
