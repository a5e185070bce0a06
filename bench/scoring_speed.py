"""How long scoring all leads takes: 1,000,000 synthetic leads through the growth job's code.

Times, separately: the probability and per-feature contributions (ScoreModel.explain, the
vectorised pass), choosing each lead's top-3 reasons (vectorised), and putting those
reasons into words (the only per-lead Python step). The feature matrix comes from SQL and
the write-back is one call per batch: neither is timed here.
Run by hand: `.venv/bin/python bench/scoring_speed.py [N]`. Prints seconds (best of 3).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.scoring.features import LEAD_SPEC
from app.scoring.reasons import reason_texts, top_reasons
from app.scoring.train import fit

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
INDUSTRIES = np.array(["hvac", "plumbing", "roofing", "solar", "electrical", ""], dtype=object)
STATES = np.array(["NY", "CA", "TX", "FL", "IL", "OH", "GA", "NC", "PA", "MI"], dtype=object)
SOURCES = np.array(["web", "referral", "ads", "import", ""], dtype=object)


def leads(n: int, rng: np.random.Generator) -> dict[str, Any]:
    """Synthetic lead columns shaped like scoring_features rows."""
    cols: dict[str, Any] = {
        name: rng.poisson(0.5, n).astype(float) for name, _ in LEAD_SPEC.numeric
    }
    cols["lead_age_days"] = rng.exponential(30, n)
    for flag in ("email_ok", "sms_ok", "call_ok"):
        cols[flag] = (rng.random(n) < 0.9).astype(float)
    cols["days_since_engagement"] = np.where(rng.random(n) < 0.4, rng.exponential(10, n), np.nan)
    cols["industry"] = rng.choice(INDUSTRIES, n)
    cols["state"] = rng.choice(STATES, n)
    cols["source"] = rng.choice(SOURCES, n)
    cols["last_click_campaign"] = np.where(cols["clicks"] > 0, "tune-up", None).astype(object)
    cols["last_click_at"] = np.full(n, None, dtype=object)
    cols["last_reply_at"] = np.full(n, None, dtype=object)
    return cols


def best_of(runs: int, work: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("leads", nargs="?", type=int, default=1_000_000, help="leads to score")
    n = parser.parse_args().leads
    rng = np.random.default_rng(0)
    train = leads(50_000, rng)
    y = (rng.random(50_000) < 0.05 + 0.2 * (train["clicks"] > 0)).astype(int)
    model = fit(LEAD_SPEC, train, y)
    cols = leads(n, rng)
    cores = len(os.sched_getaffinity(0))
    print(
        f"{n:,} leads, {len(model.groups)} feature groups; machine: {platform.machine()}, "
        f"{cores} cores, Python {platform.python_version()}, numpy {np.__version__}"
    )
    print()
    t_explain, (proba, contrib) = best_of(3, lambda: model.explain(cols))
    t_top, _ = best_of(3, lambda: top_reasons(contrib))
    t_text, texts = best_of(1, lambda: reason_texts(model.groups, cols, contrib, NOW))
    scores = np.round(proba * 100, 1)
    print("| step                                         | seconds |")
    print("|----------------------------------------------|---------|")
    print(f"| score: probability + contributions (vector)  | {t_explain:7.2f} |")
    print(f"| top-3 reasons chosen (vectorised)            | {t_top:7.2f} |")
    print(f"| top-3 reasons put into words                 | {t_text:7.2f} |")
    print(f"| total                                        | {t_explain + t_top + t_text:7.2f} |")
    print(f"\nscore range {scores.min():.1f}..{scores.max():.1f}, mean {scores.mean():.1f}; "
          f"example reasons: {texts[0]}")  # fmt: skip


if __name__ == "__main__":
    main()
