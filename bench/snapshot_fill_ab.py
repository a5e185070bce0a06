"""The snapshot store on a kept simulation database, HEAD against this tree: a retrain's new
snapshot (`scoring_snapshots_fill`) with the store rows' foreign key to their snapshot time
(HEAD) and without (this tree); with --read, a retrain's training read
(`scoring_training_chunks`) of renderings kept as jsonb (HEAD) and as json (this tree).

On a kept database (bench/history_reads.py `keep`; it needs this tree's schema: psql -f
supabase/migrations/20261209140000_per_call_store.sql), at `--at` (default: 6 h after the
newest stored snapshot time plus the horizon, the sim's 1 day), alternating rounds on one
connection, each fill inside its own transaction, rolled back: `fk` adds the foreign key
back first (`not valid`: it checks the rows inserted, as HEAD's did, not the stored ones),
`tree` runs as it is. Printed per side: the median (min) ms of the fill call and the CPU ms
of the connection's server process in it (medians), and whether both sides stored the same
snapshot (an md5 of its rendered columns) in every round.

--read: at --at (default: the newest snapshot plus the horizon and 10 minutes), the snapshots
a retrain reads (app.scoring.training_set.chosen_snapshots, none filled: the newest held
ones up to SCORING_MAX_TRAINING_ROWS), read by the repository's `training_chunks` (orjson
decoding, as the app) from `scoring_training_chunks` (tree) and from HEAD's function (git
show --ref) reading a jsonb copy of the renderings (a temporary table), alternating, in one
rolled-back transaction. Printed per side: the median (min) ms of the read with its decoding
and the server process's CPU ms (medians), and whether both training sets (from_chunks) were
the same.

    .venv/bin/python bench/snapshot_fill_ab.py --dsn "host=DIR user=postgres dbname=..." \
        [--at "2026-12-28 11:10+00"] [--rounds 8] [--read [--ref HEAD]]

Not a test: it prints measured figures (bench/RESULTS.md, "Simulator").
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from psycopg.rows import dict_row

from app.core.settings import Settings
from app.db.scoring import ScoringRepository, TrainingChunk
from app.db.transport import _configure
from app.scoring.training_set import from_chunks
from app.simulate.engine import sim_settings

sys.path[:0] = [str(Path(__file__).parent)]
from scoring_hourly import OneConnection, server_cpu  # noqa: E402
from sql_ab import ref_functions  # noqa: E402

HEAD_COPY = (
    "create temp table head_times on commit drop as"
    " select cutoff_at, n, columns::jsonb columns from scoring_snapshot_times"
)

HEAD_FK = (
    "alter table scoring_snapshots add constraint scoring_snapshots_cutoff_at_fkey"
    " foreign key (cutoff_at) references scoring_snapshot_times (cutoff_at)"
    " on delete cascade not valid"
)
NEWEST = "select max(cutoff_at) from scoring_snapshot_times"
FILL = "select * from scoring_snapshots_fill(%s, array[%s::timestamptz])"
RENDERED = "select n, md5(columns::text) from scoring_snapshot_times where cutoff_at = %s"


def main(dsn: str, at: str | None, rounds: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        newest = conn.execute("select max(cutoff_at) from scoring_snapshot_times").fetchone()
        assert newest and newest[0], "no stored snapshot"
        t: datetime = newest[0] + timedelta(hours=6)
        when = datetime.fromisoformat(at) if at else t + timedelta(days=1, minutes=10)
        ms: defaultdict[str, list[float]] = defaultdict(list)
        cpu: defaultdict[str, list[float]] = defaultdict(list)
        stored: set[tuple[int, str]] = set()
        for round_ in range(rounds):
            for side in ("fk", "tree") if round_ % 2 else ("tree", "fk"):
                with conn.transaction(force_rollback=True):
                    if side == "fk":
                        conn.execute(HEAD_FK)
                    started, server = time.perf_counter(), server_cpu(conn)  # type: ignore[arg-type]
                    conn.execute(FILL, (when, t)).fetchall()
                    ms[side].append(1000 * (time.perf_counter() - started))
                    cpu[side].append(server_cpu(conn) - server)  # type: ignore[arg-type]
                    row = conn.execute(RENDERED, (t,)).fetchone()
                    assert row is not None
                    stored.add((row[0], row[1]))
    same = "identical" if len(stored) == 1 else "DIFFER"
    n = next(iter(stored))[0]
    print(f"snapshot {t} filled at {when}: {n} rows, {rounds} rounds; stored snapshots {same}")
    for side in ("fk", "tree"):
        print(f"  {side}: {statistics.median(ms[side]):6.1f} ms median ({min(ms[side]):.1f} min);"
              f" server CPU {statistics.median(cpu[side]):.0f} ms (median)")  # fmt: skip


async def read_ab(dsn: str, at: str | None, rounds: int, ref: str) -> None:
    s = sim_settings(Settings(_env_file=None))
    head_sql = ref_functions(
        ref,
        "supabase/schemas/06_scoring.sql",
        {"scoring_training_chunks": "pg_temp.head_training_chunks"},
    )
    head_sql = head_sql.replace("from scoring_snapshot_times t", "from pg_temp.head_times t")
    conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    await _configure(conn)
    newest = await (
        await conn.execute("select max(cutoff_at) from scoring_snapshot_times")
    ).fetchone()
    assert newest and newest[0], "no stored snapshot"
    when = datetime.fromisoformat(at) if at else newest[0] + timedelta(days=1, minutes=10)
    rows = await (await conn.execute(
        "select cutoff_at, n from scoring_snapshot_times where cutoff_at + interval '1 day' <= %s"
        " and n is not null order by cutoff_at desc", (when,))).fetchall()  # fmt: skip
    chosen, held = [], 0
    for cutoff, n in rows:  # newest first, up to the training's row cap (whole snapshots)
        chosen.append(cutoff)
        held += n
        if held >= s.scoring_max_training_rows:
            break
    chosen.sort()
    transport = OneConnection(conn)
    repo = ScoringRepository(transport)
    ms: defaultdict[str, list[float]] = defaultdict(list)
    cpu: defaultdict[str, list[float]] = defaultdict(list)
    sets: dict[str, list[Any]] = {}
    async with conn.transaction(force_rollback=True):
        await conn.execute(HEAD_COPY)
        await conn.execute(head_sql)
        for round_ in range(rounds):
            for side in ("head", "tree") if round_ % 2 else ("tree", "head"):
                name = "pg_temp.head_training_chunks" if side == "head" else None
                started, server = time.perf_counter(), server_cpu(conn)
                chunks = await (head_chunks(transport, when, chosen) if name else
                                repo.training_chunks(when, chosen, 1))  # fmt: skip
                ms[side].append(1000 * (time.perf_counter() - started))
                cpu[side].append(server_cpu(conn) - server)
                data = from_chunks(chunks)
                sets[side] = [data.y, data.times, *(data.cols[k] for k in sorted(data.cols))]
    await conn.close()
    same = all(_equal(a, b) for a, b in zip(sets["head"], sets["tree"], strict=True))
    print(f"training read at {when}: {len(chosen)} snapshots, {held} rows, {rounds} rounds;"
          f" training sets {'identical' if same else 'DIFFER'}")  # fmt: skip
    for side in ("head", "tree"):
        print(
            f"  {side}: {statistics.median(ms[side]):6.1f} ms median ({min(ms[side]):.1f} min)"
            f" with decoding; server CPU {statistics.median(cpu[side]):.0f} ms (median)"
        )


def _equal(a: Any, b: Any) -> bool:
    """Equal arrays, NaN equal to NaN in a float one."""
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))


async def head_chunks(transport: OneConnection, when: datetime, chosen: list[datetime]) -> Any:
    """The repository's training_chunks, calling HEAD's function (its jsonb renderings)."""
    async with transport.conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("select * from pg_temp.head_training_chunks(%s, %s, 1)", (when, chosen))
        rows = await cur.fetchall()
    return [TrainingChunk(r["cutoff_epoch"], r["n"], r["columns"], r["booked"]) for r in rows]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--at")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--read", action="store_true")
    parser.add_argument("--ref", default="HEAD")
    args = parser.parse_args()
    if args.read:
        asyncio.run(read_ab(args.dsn, args.at, args.rounds, args.ref))
    else:
        main(args.dsn, args.at, args.rounds)
