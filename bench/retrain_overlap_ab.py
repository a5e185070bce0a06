"""A whole retrain (`current_model`) on a kept simulation database: the lead model's fits
beside the per-call model's reads (the tree) against one after the other (as before).

At the kept database's next two retrain instants (six and twelve hours after its latest
stored model: the per-call model remembered, then fitted anew when calls were reported),
alternating rounds on one connection, each retrain inside its own transaction, rolled
back. "sequential" is the tree's `current_model` with `_fit_beside` replaced by the order
before it (`train_model`, then the per-call model awaited). Both sides must store the same
model JSON to the last bit (floats by repr) or the bench stops. Printed: wall and CPU
medians per side and instant.

    .venv/bin/python bench/retrain_overlap_ab.py --dsn "host=DIR user=postgres dbname=..." \
        [--rounds 5]

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
from collections.abc import Awaitable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from app.core import logs
from app.core.settings import Settings
from app.db.scoring import ScoringRepository
from app.db.transport import _configure
from app.scoring import leads
from app.scoring.model import ScoreModel
from app.scoring.training_set import TrainingSet
from app.simulate.engine import sim_settings

sys.path[:0] = [str(Path(__file__).parent)]
from scoring_hourly import OneConnection  # noqa: E402

BESIDE = leads._fit_beside


async def one_after_the_other(
    data: TrainingSet, s: Settings, per_call: Awaitable[dict[str, Any] | None]
) -> tuple[ScoreModel, dict[str, Any] | None]:
    model = leads.train_model(data, s.scoring_regularization_c, s.scoring_horizon_days)
    return model, await per_call


async def retrain(
    conn: psycopg.AsyncConnection[Any], at: datetime, s: Settings, side: str
) -> tuple[float, float, str]:
    leads._fit_beside = BESIDE if side == "beside" else one_after_the_other  # type: ignore[assignment]
    async with conn.transaction(force_rollback=True):
        wall, cpu = time.perf_counter(), time.process_time()
        stored = await leads.current_model(ScoringRepository(OneConnection(conn)), at, s)
        spent = time.perf_counter() - wall, time.process_time() - cpu
    return *spent, json.dumps(stored.model, sort_keys=True, default=repr)


async def main(dsn: str, rounds: int) -> None:
    s = sim_settings(Settings(_env_file=None))
    conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    await _configure(conn)
    row = await (await conn.execute("select max(trained_at) from score_models")).fetchone()
    assert row is not None and row[0] is not None, "no stored model"
    print(f"load {os.getloadavg()[0]:.1f}")
    for hours in (6, 12):
        at = row[0] + timedelta(hours=hours, minutes=1)
        spent: dict[str, list[tuple[float, float]]] = {"sequential": [], "beside": []}
        first: str | None = None
        for r in range(rounds):
            for side in ("sequential", "beside") if r % 2 == 0 else ("beside", "sequential"):
                wall, cpu, model = await retrain(conn, at, s, side)
                first = first or model
                if model != first:
                    sys.exit(f"{at} round {r + 1}: the {side} side's model differs")
                spent[side].append((wall, cpu))
        print(f"retrain at {at}, {rounds} rounds, models identical:")
        for side, times in spent.items():
            wall = statistics.median(w for w, _ in times) * 1000
            cpu = statistics.median(c for _, c in times) * 1000
            print(f"  {side}: wall {wall:.0f} ms, CPU {cpu:.0f} ms (median)")
    leads._fit_beside = BESIDE
    await conn.close()
    print(f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    logs.configure("WARNING")
    asyncio.run(main(args.dsn, args.rounds))
