"""The per-call model's training read (a retrain's `per_call_model`) on a kept simulation
database: before (every call of the window recomputed) against after (the per-call store).

On a kept database (bench/history_reads.py `keep`; it needs this tree's functions: psql -f
supabase/migrations/20261209140000_per_call_store.sql), at `--at` (default: the next
retrain, 6 h after the latest stored model), alternating rounds on one connection, each
retrain inside its own transaction, rolled back:

- head: HEAD's per_call_model, kept here: `scoring_call_outcomes`, then
  `scoring_feature_columns` of every call's (lead, placed_at), matched to the calls;
- tree: this tree's (app.scoring.leads.per_call_model): `scoring_call_outcomes`, then
  `scoring_call_columns`, after the store was filled as the retrain before left it (the
  same function at --at minus --every hours, not timed): it computes the calls reported
  since and reads the rest.

Printed per side: the median (min) wall ms of the retrain's per-call part (fit included),
the CPU ms of the connection's server process in it and the ms of each database call
(medians), and whether both sides trained the same model (its JSON, metrics included) in
every round.

    .venv/bin/python bench/per_call_store.py --dsn "host=DIR user=postgres dbname=..." \
        [--at "2026-12-28 05:10+00"] [--every 6] [--rounds 6]

Not a test: it prints measured figures (bench/RESULTS.md, "Simulator").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

from app.core import logs
from app.core.settings import Settings
from app.db.scoring import ScoringRepository
from app.db.transport import _configure
from app.scoring.features import LEAD_SPEC, from_rendered_at, micros
from app.scoring.fit_memo import INPUTS
from app.scoring.leads import enough_outcomes, per_call_model
from app.scoring.model import ScoreModel
from app.scoring.train import encode, evaluate_holdout, fit_encoded
from app.simulate.engine import sim_settings

sys.path[:0] = [str(Path(__file__).parent)]
from scoring_hourly import OneConnection, server_cpu  # noqa: E402


async def head_per_call_model(
    repo: ScoringRepository, now: datetime, s: Settings
) -> ScoreModel | None:
    """HEAD's (67c7449) per_call_model: every call of the window recomputed at each retrain."""
    since = now - timedelta(days=s.scoring_train_window_days)
    calls = await repo.call_outcomes(since, now)
    booked = sum(1 for k in calls if k.booked)
    if not enough_outcomes(len(calls), booked, s.scoring_min_outcomes, s.scoring_min_bookings):
        return None
    read, cutoffs = from_rendered_at(await repo.feature_columns(
        now, [k.lead_id for k in calls], [k.placed_at for k in calls]
    ))  # fmt: skip
    keys = zip(read["lead_id"].tolist(), cutoffs.tolist(), strict=True)
    row_of = {key: i for i, key in enumerate(keys)}
    pairs = [(row_of[key], k.booked) for k in calls
             if (key := (k.lead_id, micros(k.placed_at))) in row_of]  # fmt: skip
    rows = np.array([i for i, _ in pairs], dtype=np.intp)
    cols = {name: values[rows] for name, values in read.items()}
    y = np.array([1 if b else 0 for _, b in pairs], dtype=np.int64)
    enc = encode(LEAD_SPEC, cols)
    metrics = evaluate_holdout(LEAD_SPEC, cols, y, c=s.scoring_regularization_c, enc=enc)
    model = fit_encoded(enc, None, y, c=s.scoring_regularization_c, kind="per_call")
    model.metrics = {**metrics, "calls": len(pairs), "bookings": int(y.sum())}
    return model


async def one_retrain(
    conn: psycopg.AsyncConnection[Any], side: str, at: datetime, every: float, s: Settings
) -> tuple[float, dict[str, float], str]:
    """One side's per-call part of a retrain, rolled back: wall ms, ms by call, the model."""
    transport = OneConnection(conn)
    repo = ScoringRepository(transport)
    async with conn.transaction(force_rollback=True):
        if side == "tree":  # the store as the retrain `every` hours before left it
            since = at - timedelta(hours=every) - timedelta(days=s.scoring_train_window_days)
            await repo.call_feature_columns(since, at - timedelta(hours=every))
        transport.ms.clear()
        started, server = time.perf_counter(), server_cpu(conn)
        trained = await (head_per_call_model if side == "head" else per_call_model)(repo, at, s)
        wall = 1000 * (time.perf_counter() - started)
        ms = {**transport.ms, "(server CPU)": server_cpu(conn) - server}
    if trained is not None and not isinstance(trained, dict):  # HEAD's side: a ScoreModel
        trained = trained.to_json()
    elif trained is not None:  # the tree's: the stored JSON, less its inputs' digest
        trained = {k: v for k, v in trained.items() if k != INPUTS}
    model = json.dumps(trained, sort_keys=True)
    return wall, ms, model


async def main(dsn: str, at: str | None, every: float, rounds: int) -> None:
    s = sim_settings(Settings(_env_file=None))
    conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    await _configure(conn)
    if at is None:
        row = await (await conn.execute("select max(trained_at) from score_models")).fetchone()
        when = row[0] + timedelta(hours=every) if row and row[0] else None
    else:
        when = datetime.fromisoformat(at)
    assert when is not None
    walls: defaultdict[str, list[float]] = defaultdict(list)
    calls: defaultdict[str, defaultdict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    models: set[str] = set()
    for round_ in range(rounds):
        for side in ("head", "tree") if round_ % 2 else ("tree", "head"):
            wall, ms, model = await one_retrain(conn, side, when, every, s)
            walls[side].append(wall)
            for function, took in ms.items():
                calls[side][function].append(took)
            models.add(model)
    n = await (await conn.execute(
        "select count(*) from scoring_call_outcomes(%s::timestamptz - make_interval(days => %s),"
        " %s)", (when, s.scoring_train_window_days, when))).fetchone()  # fmt: skip
    await conn.close()
    same = "identical" if len(models) == 1 else "DIFFER"
    print(f"at {when}, {n[0] if n else '?'} calls in the window, {rounds} rounds;"
          f" the per-call models of both sides: {same}")  # fmt: skip
    for side in ("head", "tree"):
        w = walls[side]
        db = {f: statistics.median(v) for f, v in calls[side].items()}
        server = db.pop("(server CPU)")
        shown = ", ".join(f"{f} {m:.1f}" for f, m in sorted(db.items(), key=lambda x: -x[1]))
        print(f"  {side}: {statistics.median(w):6.1f} ms median ({min(w):.1f} min); server CPU"
              f" {server:.0f} ms; calls (medians, ms) {shown}")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--at")
    parser.add_argument("--every", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    logs.configure("WARNING")
    asyncio.run(main(args.dsn, args.at, args.every, args.rounds))
