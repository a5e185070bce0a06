"""enroll_leads before (REF: a pass over every lead of each audience at every run) and after
(the tree: only the leads changed since a campaign's last complete pass), on a kept database.

    # the month's database kept at the end of day 28 (10,000 leads, seed 7):
    # bench/history_reads.py keep --dir DIR --days 30 --stop 28
    .venv/bin/python bench/manager_enroll_ab.py --dsn "host=DIR user=postgres \
        dbname=sim_..." --now "2026-12-28 05:00+00" --reps 40 --changed 0,10,100,1000

All in one transaction that is rolled back (the kept database is left as it was): the tree's
migration (supabase/migrations/20261211100000_enroll_changes.sql) is applied if the database
has not got it, REF's enroll_leads is created beside it as enroll_leads_ref, and the tree's
makes one run 15 minutes before --now (its full pass: every campaign's complete pass is then
remembered). Then for each --changed K: K leads' scores rise by 1 (the hourly scoring's
write: each is logged for the next run) and --new N leads arrive, and the next run at --now
is timed, A (REF) and B (the tree) interleaved, B first on odd reps, each rolled back to a
savepoint: ms a call (median, min), after a check that both enroll the same leads in the
same order; then the same for the whole opening (manager_begin, and a copy of it that calls
REF's enroll_leads).

`--writes`: the log's cost on the writes of leads: K leads' scores raised (one statement, as
scoring_apply) and one lead imported (upsert_leads), with the triggers and without
(`alter table leads disable trigger`), interleaved: ms a statement.

`--sim DSN`: on a database a simulation left (its campaign_manager runs made by the tree),
the leads logged per run: enroll_pending's inserted rows (pg_stat_user_tables) over the
campaign_manager runs (job_runs).

Not a test: it prints measured figures (bench/RESULTS.md, stop 28 MANAGER).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sql_ab import ref_functions, renamed_functions

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "supabase" / "schemas" / "02_campaigns.sql"
MIGRATION = ROOT / "supabase" / "migrations" / "20261211100000_enroll_changes.sql"
ENROLLED = "select lead_id from enrollments where enrolled_at = %(now)s order by id"
RAISE = """update leads set score = least(100, coalesce(score, 0) + 1)
            where id in (select id from leads order by id limit %(k)s)"""
NEW = """insert into leads (name, phone, created_at, updated_at)
         select 'Bench ' || i, '+1212777' || lpad(i::text, 4, '0'), %(now)s, %(now)s
           from generate_series(1, %(n)s) i"""
PARTS = {  # manager_begin's arguments: the defaults (CALL_MAX_ATTEMPTS, ...)
    "enroll_leads": "select * from enroll_leads(%(now)s)",
    "manager_begin": "select tick from manager_begin(%(now)s, 3, 14400, 200, 'score')",
}
LEAD_TRIGGERS = ("leads_enroll_insert", "leads_enroll_update")


def _timed(conn: psycopg.Connection, sql: str, args: dict[str, Any]) -> tuple[float, Any]:
    conn.execute("savepoint rep")
    start = time.perf_counter()
    rows = conn.execute(sql, args).fetchall()
    ms = (time.perf_counter() - start) * 1000
    enrolled = conn.execute(ENROLLED, args).fetchall()
    conn.execute("rollback to savepoint rep")
    return ms, (rows, enrolled)


def _prepare(conn: psycopg.Connection, ref: str, now: datetime) -> None:
    has = conn.execute("select to_regclass('enroll_pending') is not null").fetchone()
    if not (has and has[0]):
        conn.execute(MIGRATION.read_text())  # type: ignore[arg-type]
    conn.execute(ref_functions(ref, "supabase/schemas/02_campaigns.sql",  # type: ignore[arg-type]
                               {"enroll_leads": "enroll_leads_ref"}))  # fmt: skip
    # the whole opening with REF's enroll_leads
    begin = renamed_functions(SCHEMA.read_text(), {"manager_begin": "manager_begin_ref"})
    conn.execute(begin.replace("from enroll_leads(", "from enroll_leads_ref("))  # type: ignore[arg-type]
    conn.execute("select * from enroll_leads(%s)", (now - timedelta(minutes=15),))


def _ab(conn: psycopg.Connection, now: datetime, changed: list[int], new: int, reps: int) -> None:
    for part in ("enroll_leads", "manager_begin"):
        print(part)
        _pair(conn, now, changed, new, reps, part)


def _pair(
    conn: psycopg.Connection, now: datetime, changed: list[int], new: int, reps: int, part: str
) -> None:
    sides = {"A (ref)": PARTS[part].replace("(%(now)s", "_ref(%(now)s"), "B (tree)": PARTS[part]}
    for k in changed:
        conn.execute("savepoint changes")
        conn.execute(RAISE, {"k": k})  # type: ignore[arg-type]
        conn.execute(NEW, {"n": new, "now": now - timedelta(minutes=5)})  # type: ignore[arg-type]
        logged = conn.execute("select count(*) from enroll_pending").fetchone()
        answers = {name: _timed(conn, sql, {"now": now})[1] for name, sql in sides.items()}
        same = answers["A (ref)"] == answers["B (tree)"]
        times: dict[str, list[float]] = {name: [] for name in sides}
        for rep in range(reps):
            order = list(sides) if rep % 2 == 0 else list(reversed(sides))
            for name in order:
                times[name].append(_timed(conn, sides[name], {"now": now})[0])
        a, b = (statistics.median(times[n]) for n in sides)
        ms = ", ".join(f"{n} {statistics.median(t):.2f}/{min(t):.2f} ms" for n, t in times.items())
        print(f"changed {k:5d} + {new} new (logged {logged[0] if logged else '?'}), enrolled "
              f"{len(answers['B (tree)'][1])}, the same: {same}: {ms} (median/min); "
              f"B/A {b / a:.3f}")  # fmt: skip
        conn.execute("rollback to savepoint changes")


def _writes(conn: psycopg.Connection, now: datetime, changed: list[int], reps: int) -> None:
    one = [{"name": "Bench Lead", "phone": "+12125550999", "email": "bench@example.com"}]
    statements = {f"raise {k} scores": (RAISE, {"k": k}) for k in changed if k}
    statements["import 1 lead"] = (
        "select * from upsert_leads(%(leads)s, %(now)s)",
        {"leads": psycopg.types.json.Jsonb(one), "now": now},
    )
    for label, (sql, args) in statements.items():
        times: dict[str, list[float]] = {"with": [], "without": []}
        for rep in range(reps):
            for side in ("with", "without") if rep % 2 == 0 else ("without", "with"):
                conn.execute("savepoint rep")
                if side == "without":
                    for t in LEAD_TRIGGERS:
                        conn.execute(f"alter table leads disable trigger {t}")  # type: ignore[arg-type]
                start = time.perf_counter()
                conn.execute(sql, args)  # type: ignore[arg-type]
                times[side].append((time.perf_counter() - start) * 1000)
                conn.execute("rollback to savepoint rep")
        w, wo = (statistics.median(times[s]) for s in ("with", "without"))
        print(f"{label}: with the log {w:.3f} ms, without {wo:.3f} ms (medians of {reps}); "
              f"+{w - wo:.3f} ms")  # fmt: skip


def _sim(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "select n_tup_ins from pg_stat_user_tables where relname = 'enroll_pending'"
        ).fetchone()
        runs = conn.execute(
            "select count(*), min(started_at), max(started_at) from job_runs"
            " where job = 'campaign_manager'"
        ).fetchone()
        leads = conn.execute("select count(*) from leads").fetchone()
        assert row and runs and leads
        print(
            f"enroll_pending rows inserted: {row[0]}; campaign_manager runs: {runs[0]} "
            f"({runs[1]} .. {runs[2]}); leads: {leads[0]}; "
            f"per run: {row[0] / max(runs[0], 1):.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dsn")
    parser.add_argument("--now", default="2026-12-28 05:00+00")
    parser.add_argument("--reps", type=int, default=40)
    parser.add_argument("--changed", default="0,10,100,1000")
    parser.add_argument("--new", type=int, default=2, help="new leads before each run")
    parser.add_argument("--ref", default="f0c283f", help="the before side's commit")
    parser.add_argument("--writes", action="store_true")
    parser.add_argument("--sim")
    args = parser.parse_args()
    if args.sim:
        _sim(args.sim)
    if not args.dsn:
        return
    now = datetime.fromisoformat(args.now)
    changed = [int(k) for k in args.changed.split(",")]
    with psycopg.connect(args.dsn) as conn:
        try:
            _prepare(conn, args.ref, now)
            if args.writes:
                _writes(conn, now, changed, args.reps)
            else:
                _ab(conn, now, changed, args.new, args.reps)
        finally:
            conn.rollback()


if __name__ == "__main__":
    main()
