"""growth's scoring pass (`score_all`) on a kept simulation database: before against after.

On a kept database (bench/history_reads.py `keep`), at `--at` (default: an hour after its
last growth run), alternating rounds on one connection, each pass inside its own
transaction, rolled back:

- hourly: the leads marked since the last run and the leads younger than the horizon (the
  sim's 1 day), scored with the latest stored model, as every hour but a retrain's;
- full: every lead, as after a retrain (the latest model taken as new: applied_at unset).

Sides: `head`, the pass as HEAD made it, kept here: the feature read as `scoring_features`'
rows as dicts, then `to_columns` (its categories normalised value by value), and
`scoring_apply` of --ref (read with `git show`, created in the side's transaction) sent
the ids and scores as arrays; `tree`, this tree's (`scoring_feature_columns` rendered as
columns, then `from_rendered`; `scoring_apply` sent comma-separated texts). Everything else
is the one `score_all`. Printed per side and pass: the median (min) wall ms of the pass, the CPU ms
of this process (the Python) and of the connection's server process in it (medians: what
the load does not move), its database calls' ms by function (medians), and what it
wrote (leads whose score changed, whose reasons alone changed, whose hot flag flipped); each
pass's result (an md5 of every lead's score, reasons and hot flag after it, and its counts)
must be the same on both sides.

    .venv/bin/python bench/scoring_hourly.py --dsn "host=DIR user=postgres dbname=sim_..." \
        [--at "2026-12-05 05:10+00"] [--rounds 6] [--ref 677e1af (the default)]

The kept database needs this tree's functions (`nightshift db migrate` on it, or psql -f the
migration). Rolled-back writes still leave index entries behind: later rounds are slower,
which the alternating order spreads over both sides.

Not a test: it prints measured figures (bench/RESULTS.md, "Simulator").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import time
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from psycopg.rows import dict_row

from app.core import logs
from app.core.clock import ManualClock
from app.core.settings import Settings
from app.db.repositories import LogRepository
from app.db.scoring import ApplyResult, ScoringRepository
from app.db.transport import _adapt, _configure, call_text
from app.scoring import features, leads
from app.scoring.features import from_rendered, to_columns
from app.scoring.model import normalise_category
from app.simulate.engine import sim_settings

ROOT = Path(__file__).resolve().parents[1]
BEFORE = (
    "create temp table scored_before on commit drop as"
    " select id, score, score_reasons, hot_at is not null hot from leads"
)
CHANGED = (
    "select count(*) filter (where b.score is distinct from l.score),"
    " count(*) filter (where b.score is not distinct from l.score"
    " and b.score_reasons is distinct from l.score_reasons),"
    " count(*) filter (where b.hot <> (l.hot_at is not null))"
    " from leads l join scored_before b on b.id = l.id"
)
LEADS_MD5 = ("select md5(string_agg(concat_ws('|', id, score, score_reasons::text, "
             "hot_at is not null), ',' order by id)) from leads")  # fmt: skip


class OneConnection:
    """The Transport on one connection (its transaction), timing each call by function."""

    name = "bench"

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn
        self.ms: defaultdict[str, float] = defaultdict(float)

    async def call(self, function: str, args: Mapping[str, Any] | None = None) -> list[Any]:
        args = dict(args or {})
        params = {k: _adapt(v) for k, v in args.items()}
        started = time.perf_counter()
        async with self.conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(call_text(function, tuple(args)), params)
            rows = list(await cur.fetchall()) if cur.description else []
        self.ms[function] += 1000 * (time.perf_counter() - started)
        return rows

    async def close(self) -> None:
        return None


class HeadRepository(ScoringRepository):
    """HEAD's feature read (the rows as dicts, then columns made of them) and write (ids and
    scores as arrays, to HEAD's scoring_apply)."""

    async def feature_columns(self, now: datetime, lead_ids: Any = None) -> dict[str, Any]:
        return to_columns(await self.features(now, lead_ids=lead_ids))

    async def apply_scores(
        self, ids: Any, scores: Any, reasons: Any, hot_threshold: float, now: datetime
    ) -> ApplyResult:
        rows = await self.transport.call(
            "scoring_apply",
            {"p_ids": list(ids), "p_scores": [float(s) for s in scores],
             "p_reasons": [list(r) for r in reasons],
             "p_hot_threshold": hot_threshold, "p_now": now},
        )  # fmt: skip
        return ApplyResult.model_validate(rows[0])


def head_normalise_category(values: Any) -> Any:
    """HEAD's normalise_category: value by value, each distinct text normalised once."""
    seen: dict[str, str] = {}

    def norm(v: Any) -> str:
        if not isinstance(v, str):
            return str(v).strip().lower() if v is not None else ""
        out = seen.get(v)
        if out is None:
            out = seen[v] = v.strip().lower()
        return out

    return np.array([norm(v) for v in values], dtype=object)


def ref_apply(ref: str) -> str:
    """`scoring_apply` as `ref` defines it (its own signature: it does not replace ours)."""
    text = subprocess.run(["git", "show", f"{ref}:supabase/schemas/06_scoring.sql"], cwd=ROOT,
                          check=True, capture_output=True, text=True).stdout  # fmt: skip
    start = text.index("create or replace function scoring_apply(")
    return text[start : text.index("$$;", start) + 3]


def server_cpu(conn: psycopg.AsyncConnection[Any]) -> float:
    """The connection's server process's CPU ms so far (user + system; /proc: the embedded
    server runs on this machine; 10 ms ticks)."""
    fields = Path(f"/proc/{conn.info.backend_pid}/stat").read_text().rsplit(")", 1)[1].split()
    return 1000 * (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def one_pass(
    conn: psycopg.AsyncConnection[Any], side: str, kind: str, at: datetime, s: Settings, sql: str
) -> tuple[float, dict[str, float], str]:
    """One pass in a rolled-back transaction: its wall ms, ms by call, and its result."""
    transport = OneConnection(conn)
    head = side == "head"
    repo = (HeadRepository if head else ScoringRepository)(transport)
    leads.from_rendered = (lambda cols: cols) if head else from_rendered  # type: ignore[assignment]
    features.normalise_category = head_normalise_category if head else normalise_category
    async with conn.transaction(force_rollback=True):
        if head:
            await conn.execute(sql)
        stored = await repo.latest_model(at)
        assert stored is not None, "no stored model at --at"
        if kind == "full":
            stored = stored.model_copy(update={"applied_at": None})
        await conn.execute(BEFORE)
        transport.ms.clear()
        started, cpu, server = time.perf_counter(), time.process_time(), server_cpu(conn)
        counts = await leads.score_all(repo, LogRepository(transport), ManualClock(at), s, stored)
        wall = 1000 * (time.perf_counter() - started)
        ms = {**transport.ms, "(Python CPU)": 1000 * (time.process_time() - cpu),
              "(server CPU)": server_cpu(conn) - server}  # fmt: skip
        row = await (await conn.execute(LEADS_MD5)).fetchone()
        changed = await (await conn.execute(CHANGED)).fetchone()
        assert changed is not None
        written = f"score changed {changed[0]}, reasons only {changed[1]}, hot flag {changed[2]}"
        result = f"{row[0] if row else None} {sorted(counts.items())}; written: {written}"
    return wall, ms, result


async def main(dsn: str, at: str | None, rounds: int, ref: str) -> None:
    s = sim_settings(Settings(_env_file=None))
    head_sql = ref_apply(ref)
    conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    await _configure(conn)
    if at is None:
        row = await (await conn.execute("select max(started_at) + interval '1 hour' from job_runs"
                                        " where job = 'growth'")).fetchone()  # fmt: skip
        when = row[0] if row else None
    else:
        when = datetime.fromisoformat(at)
    assert when is not None
    walls: defaultdict[tuple[str, str], list[float]] = defaultdict(list)
    calls: defaultdict[tuple[str, str], defaultdict[str, list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    results: defaultdict[str, set[str]] = defaultdict(set)
    for round_ in range(rounds):
        for side in ("head", "tree") if round_ % 2 else ("tree", "head"):
            for kind in ("hourly", "full"):
                wall, ms, result = await one_pass(conn, side, kind, when, s, head_sql)
                walls[side, kind].append(wall)
                for function, took in ms.items():
                    calls[side, kind][function].append(took)
                results[kind].add(result)
    await conn.close()
    print(f"at {when}, {rounds} rounds")
    for kind in ("hourly", "full"):
        same = "identical" if len(results[kind]) == 1 else "DIFFER"
        print(f"{kind} pass ({next(iter(results[kind])).split(' ', 1)[1]}; results {same}):")
        for side in ("head", "tree"):
            w = walls[side, kind]
            db = {f: statistics.median(v) for f, v in calls[side, kind].items()}
            cpu, server = db.pop("(Python CPU)"), db.pop("(server CPU)")
            shown = ", ".join(f"{f} {m:.1f}" for f, m in sorted(db.items(), key=lambda x: -x[1]))
            print(f"  {side}: {statistics.median(w):6.1f} ms median ({min(w):.1f} min); CPU ms:"
                  f" this process {cpu:.1f}, the server's {server:.0f}; calls (medians, with"
                  f" their arguments' dumping and rows' parsing) {shown}")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--at")
    parser.add_argument("--rounds", type=int, default=6)
    # the commit before scoring_apply took texts: its side sends arrays (HEAD's takes texts)
    parser.add_argument("--ref", default="677e1af")
    args = parser.parse_args()
    logs.configure("WARNING")
    asyncio.run(main(args.dsn, args.at, args.rounds, args.ref))
