"""A retrain's per-call model on a kept simulation database: fitted anew against remembered.

On a kept database (bench/history_reads.py `keep`), at `--at` (default: six hours after its
latest stored model, a retrain's instant), alternating rounds on one connection, each
inside its own transaction, rolled back:

- fit: `per_call_model` without the last stored per-call model (the reads, the encoding,
  the holdout fit and the final fit);
- memo: `per_call_model` with the per-call JSON a previous retrain of the same calls stored
  (the reads, the inputs' digest, the stored model).

Both must give the same model to the last bit (their JSON, floats by repr) or the bench
stops. Printed: the median (min) wall ms and CPU ms of this process per side, and from the
database's stored models how many retrains stored the same per-call model as the retrain
before (those a memo would have served: the simulator's calls are reported once a day,
its retrains run every 6 hours).

    .venv/bin/python bench/per_call_memo.py --dsn "host=DIR user=postgres dbname=sim_..." \
        [--at "2026-12-28 05:11+00"] [--rounds 7]

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
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from app.core import logs
from app.core.settings import Settings
from app.db.scoring import ScoringRepository
from app.db.transport import _configure
from app.scoring.leads import per_call_model
from app.simulate.engine import sim_settings

sys.path[:0] = [str(Path(__file__).parent)]
from scoring_hourly import OneConnection  # noqa: E402

REPEATS = (
    "select count(*) filter (where md5(model->>'per_call') = md5(before)), count(*) from ("
    " select model, lag(model->>'per_call') over (order by version) before from score_models"
    ") m where before is not null and model ? 'per_call'"
)


def exact(model: Any) -> str:
    return json.dumps(model, sort_keys=True, default=repr)


async def one(
    conn: psycopg.AsyncConnection[Any], at: datetime, s: Settings, last: dict[str, Any] | None
) -> tuple[float, float, dict[str, Any] | None]:
    """One per-call retrain in a rolled-back transaction: wall s, CPU s, the model."""
    repo = ScoringRepository(OneConnection(conn))
    async with conn.transaction(force_rollback=True):
        started, cpu = time.perf_counter(), time.process_time()
        model = await per_call_model(repo, at, s, last)
        return time.perf_counter() - started, time.process_time() - cpu, model


async def main(dsn: str, at: str | None, rounds: int) -> None:
    s = sim_settings(Settings(_env_file=None))
    conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    await _configure(conn)
    if at is None:
        row = await (await conn.execute("select max(trained_at) from score_models")).fetchone()
        assert row is not None and row[0] is not None, "no stored model"
        when = row[0] + timedelta(hours=6, minutes=1)
    else:
        when = datetime.fromisoformat(at)
    _, _, stored = await one(conn, when, s, None)  # what the retrain before stored
    first = exact(stored)
    spent: dict[str, list[tuple[float, float]]] = {"fit": [], "memo": []}
    for r in range(rounds):
        for side in ("fit", "memo") if r % 2 == 0 else ("memo", "fit"):
            wall, cpu, model = await one(conn, when, s, stored if side == "memo" else None)
            if exact(model) != first:
                sys.exit(f"round {r + 1}: the {side} side's model differs: not the same fit")
            spent[side].append((wall, cpu))
    row = await (await conn.execute(REPEATS)).fetchone()
    await conn.close()
    print(f"at {when}, {rounds} rounds; load {os.getloadavg()[0]:.1f}; models identical")
    for side, times in spent.items():
        walls = [w * 1000 for w, _ in times]
        cpu = statistics.median(c * 1000 for _, c in times)
        print(f"  {side}: {statistics.median(walls):6.1f} ms median ({min(walls):.1f} min),"
              f" CPU {cpu:.1f} ms")  # fmt: skip
    if row is not None:
        print(f"stored models: {row[0]} of {row[1]} retrains stored the per-call model of the"
              f" retrain before")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--at")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    logs.configure("WARNING")
    asyncio.run(main(args.dsn, args.at, args.rounds))
