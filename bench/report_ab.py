"""The simulation report's own cost, per lead (now) against per (lead, t) row (before).

Runs one simulation (`app.simulate.engine.simulate`, the production path) and, after its
last tick, on the same database and score log: the report as built now (`build_report`,
whole, then its forward AUC and training check alone), and the two parts as they were
computed before issue 19's per-lead read — the (lead, t, label) rows of
simulate_forward_rows turned into tuples, and a per-row any() over each training row's
lead's call spans (the `training_rows` dicts). Prints the seconds of each (`rounds`
interleaved rounds, the best of each) and whether the figures are equal.

    .venv/bin/python bench/report_ab.py [--leads 3000] [--days 6] [--seed 1] [--rounds 2]

Not a test: it prints measured figures (tests/simulate/test_report_forward.py holds the
two computations equal).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from app.core import logs
from app.db.simulate import SimulateRepository
from app.scoring.leads import training_rows
from app.scoring.train import auc
from app.simulate import engine, report
from app.simulate.engine import SimConfig, simulate
from app.simulate.report import ScoreLog

Part = Callable[[], Awaitable[dict[str, Any]]]


async def per_row_forward_auc(ctx: Any, log: ScoreLog) -> dict[str, Any]:
    """The forward AUC as computed before (one tuple per (lead, t) row)."""
    now, horizon = ctx.clock.now(), ctx.settings.scoring_horizon_days
    times = [t for t in log.at if t + timedelta(days=horizon) <= now]
    if not times:
        return await report.forward_auc(ctx, log)  # the same empty answer
    rows = await SimulateRepository(ctx.transport).forward_rows(now, times, horizon)
    kept = [(log.at[t].get(lead), bool(label), t) for lead, t, label in rows if label is not None]
    kept = [k for k in kept if k[0] is not None]

    def pooled(part: list[Any]) -> float | None:
        y = np.array([b for _, b, _ in part], dtype=np.int64)
        return report._r(auc(y, np.array([s for s, _, _ in part], dtype=np.float64)))

    trained = [k for k in kept if k[2] in log.trained]
    days: dict[int, list[Any]] = {}
    for k in kept:
        days.setdefault(int((k[2] - min(times)).total_seconds() // 86400), []).append(k)
    return {"auc_forward": pooled(kept), "auc_forward_rows": len(kept),
            "auc_forward_trained": pooled(trained) if trained else None,
            "auc_forward_by_day": [pooled(days[d]) for d in sorted(days)]}  # fmt: skip


async def per_row_training_check(ctx: Any) -> dict[str, int]:
    """The training check as computed before (a per-row any() over dicts)."""
    rows = await training_rows(ctx.repos.scoring, ctx.clock.now(), ctx.settings)
    spans: dict[int, list[tuple[datetime, datetime | None]]] = {}
    for span in await SimulateRepository(ctx.transport).call_spans():
        spans.setdefault(span.lead_id, []).append((span.placed_at, span.report_received_at))
    in_call = sum(
        1 for r in rows
        if any(placed <= r["cutoff_at"] and (got is None or got > r["cutoff_at"])
               for placed, got in spans.get(r["lead_id"], []))
    )  # fmt: skip
    return {"training_rows": len(rows), "training_rows_in_call": in_call}


async def timed(part: Part) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    out = await part()
    return time.perf_counter() - started, out


async def compare(ctx: Any, world: Any, *args: Any, rounds: int, **kwargs: Any) -> Any:
    log: ScoreLog = args[4]
    parts: dict[str, Part] = {
        "forward_auc now": lambda: report.forward_auc(ctx, log),
        "forward_auc before": lambda: per_row_forward_auc(ctx, log),
        "training_check now": lambda: report.training_check(ctx),
        "training_check before": lambda: per_row_training_check(ctx),
    }
    best: dict[str, float] = {}
    figures: dict[str, dict[str, Any]] = {}
    built: Any = None
    for _ in range(rounds):
        started = time.perf_counter()
        built = await report.build_report(ctx, world, *args, **kwargs)
        best["build_report now"] = min(best.get("build_report now", 1e9),
                                       time.perf_counter() - started)  # fmt: skip
        for name, part in parts.items():
            seconds, figures[name] = await timed(part)
            best[name] = min(best.get(name, 1e9), seconds)
    for name, seconds in best.items():
        print(f"{name:<24} {seconds:7.2f} s")
    now_fig = {**figures["forward_auc now"], **figures["training_check now"]}
    before = {**figures["forward_auc before"], **figures["training_check before"]}
    in_report = {k: built.scoring[k] for k in now_fig}
    print(f"figures equal: {now_fig == before and in_report == before}  "
          f"(auc_forward_rows {before['auc_forward_rows']}, training_rows "
          f"{before['training_rows']})")  # fmt: skip
    return built


def main(leads: int, days: float, seed: int, rounds: int) -> None:
    logs.configure("WARNING")

    async def hooked(*args: Any, **kwargs: Any) -> Any:
        return await compare(*args, rounds=rounds, **kwargs)

    setattr(engine, "build_report", hooked)  # noqa: B010 (the hook the run calls)
    started = time.perf_counter()
    asyncio.run(simulate(SimConfig(leads, days, seed)))
    print(f"{leads} leads x {days:g} days (seed {seed}): {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leads", type=int, default=3000)
    parser.add_argument("--days", type=float, default=6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    main(args.leads, args.days, args.seed, args.rounds)
