"""campaign_manager's opening (`manager_begin`) against the history: which of its statements
grows, and REF's `call_queue` beside the tree's, on a kept database.

    # the month's database kept at the end of day 28 (10,000 leads, seed 7):
    # bench/history_reads.py keep --dir DIR --days 30 --stop 28
    .venv/bin/python bench/manager_begin_history.py --dsn "host=DIR user=postgres \
        dbname=sim_..." --now "2026-12-28 01:00+00" --now "2026-12-28 12:00+00" --ref HEAD

All in one transaction that is rolled back (the kept database is left as it was): the
index this change made (`calls_waiting_campaign_idx`) (re)created as the tree defines it,
REF's `call_queue` as `call_queue_ref` beside the tree's (and the tree's `manager_begin`).
Then at each instant:
- the opening's four statements, each alone (ms, median of --reps, each rolled back to a
  savepoint), and the waiting queue: calls waiting, of them due, and candidates;
- REF's and the tree's call_queue answer the same calls in the same order (every p_order);
- ms a call of each, A (REF) and B (tree) interleaved (median, min); and of the whole
  opening, REF's `manager_begin` (reading `call_queue_ref`) beside the tree's.

Not a test: it prints measured figures (bench/RESULTS.md, stop 26 CMBEGIN).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "supabase" / "schemas"
PARTS = {  # manager_begin's statements, as it makes them (the defaults: CALL_MAX_ATTEMPTS, ...)
    "enroll_leads": "select * from enroll_leads(%(now)s)",
    "deliverability_check": "select * from deliverability_check(%(now)s)",
    "requeue_unanswered_calls": "select requeue_unanswered_calls(3, 14400, %(now)s)",
    "call_queue": "select call, in_flight from call_queue(200, %(now)s, 'score')",
    "manager_begin": "select tick from manager_begin(%(now)s, 3, 14400, 200, 'score')",
}
QUEUE = """select count(*), count(*) filter (where not_before is null or not_before <= %(now)s)
             from calls where status = 'queued' and vapi_call_id is null"""


def _function(text: str, name: str) -> str:
    start = text.index(f"create or replace function {name}(")
    return text[start : text.index("$$;", text.index("$$", start) + 2) + 3]


def _indexes() -> list[tuple[str, str]]:
    """(name, statement) of the tree's indexes the change made (created, or redefined)."""
    found = []
    for file, name in (("03_outbox.sql", "calls_waiting_campaign_idx"),):
        text = (SCHEMAS / file).read_text()
        start = text.index(f"create index {name} ")
        found.append((name, text[start : text.index(";", start) + 1]))
    return found


def _ms(cur: psycopg.Cursor[Any], sql: str, params: dict[str, Any]) -> tuple[float, list[Any]]:
    started = time.perf_counter()
    cur.execute(sql, params)
    rows = cur.fetchall()
    return (time.perf_counter() - started) * 1000, rows


def _parts(conn: psycopg.Connection[Any], now: str, reps: int) -> None:
    times: dict[str, list[float]] = {name: [] for name in PARTS}
    with conn.cursor() as cur:
        for _ in range(reps):
            for name, sql in PARTS.items():
                with conn.transaction(force_rollback=True):  # a savepoint
                    times[name].append(_ms(cur, sql, {"now": now})[0])
        waiting, due = _ms(cur, QUEUE, {"now": now})[1][0]
        queue = len(_ms(cur, PARTS["call_queue"], {"now": now})[1])
    print(f"{now}: waiting calls {waiting}, due {due}, candidates {queue}")
    print("  ms a statement (median): " + ", ".join(
        f"{name} {statistics.median(t):.2f}" for name, t in times.items()))  # fmt: skip


def _interleaved(
    conn: psycopg.Connection[Any], sqls: tuple[str, str], now: str, reps: int
) -> tuple[list[float], list[float]]:
    """ms of A and B, interleaved (A first on even reps), each rolled back to a savepoint."""
    ta: list[float] = []
    tb: list[float] = []
    with conn.cursor() as cur:
        for rep in range(reps):
            order = ((sqls[0], ta), (sqls[1], tb))
            for sql, into in order if rep % 2 == 0 else order[::-1]:
                with conn.transaction(force_rollback=True):
                    into.append(_ms(cur, sql, {"now": now})[0])
    return ta, tb


def _print(label: str, ref: str, ta: list[float], tb: list[float]) -> None:
    print(f"  {label} ms a call: A ({ref}) median {statistics.median(ta):.2f}"
          f" min {min(ta):.2f} | B (tree) median {statistics.median(tb):.2f}"
          f" min {min(tb):.2f}")  # fmt: skip


def _ab(conn: psycopg.Connection[Any], now: str, reps: int, ref: str) -> None:
    with conn.cursor() as cur:
        for order in ("score", "newest", "random"):
            sql = "select call, in_flight from {}(200, %(now)s, %(order)s)"
            params = {"now": now, "order": order}
            a = _ms(cur, sql.format("call_queue_ref"), params)[1]
            b = _ms(cur, sql.format("call_queue"), params)[1]
            print(f"  {order}: {len(a)} and {len(b)} calls, the same: {a == b}")
    queue = "select call, in_flight from {}(200, %(now)s, 'score')"
    _print(
        "call_queue",
        ref,
        *_interleaved(
            conn, (queue.format("call_queue_ref"), queue.format("call_queue")), now, reps
        ),
    )
    begin = "select tick from {}(%(now)s, 3, 14400, 200, 'score')"
    _print(
        "manager_begin",
        ref,
        *_interleaved(
            conn, (begin.format("manager_begin_ref"), begin.format("manager_begin")), now, reps
        ),
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dsn", required=True)
    p.add_argument("--now", action="append", required=True)
    p.add_argument("--ref", default="HEAD")
    p.add_argument("--reps", type=int, default=30)
    a = p.parse_args()
    campaigns = (SCHEMAS / "02_campaigns.sql").read_text()
    ref = subprocess.run(["git", "show", f"{a.ref}:supabase/schemas/02_campaigns.sql"],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout  # fmt: skip
    old = _function(ref, "call_queue").replace("function call_queue(", "function call_queue_ref(")
    old_begin = (
        _function(ref, "manager_begin")
        .replace("function manager_begin(", "function manager_begin_ref(")
        .replace("from call_queue(", "from call_queue_ref(")
    )
    with psycopg.connect(a.dsn) as conn, conn.transaction(force_rollback=True):
        for name, statement in _indexes():  # as the tree defines them
            conn.execute(f"drop index if exists {name}".encode())
            conn.execute(statement.encode())
            print(f"{statement} (rolled back at the end)")
        conn.execute("analyze calls")
        for statement in (old, old_begin, _function(campaigns, "call_queue"),
                          _function(campaigns, "manager_begin")):  # fmt: skip
            conn.execute(statement.encode())
        for now in a.now:
            _parts(conn, now, a.reps)
            _ab(conn, now, a.reps, a.ref)


if __name__ == "__main__":
    main()
