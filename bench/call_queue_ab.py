"""campaign_manager's call queue on a kept database: REF's `call_queue` beside the tree's.

    # a kept day-8 database: bench/history_reads.py keep --dir /tmp/hist/pg --stop 8
    .venv/bin/python bench/call_queue_ab.py --dsn "host=/tmp/hist/pg user=postgres \
        dbname=sim_..." --now "2026-12-08 05:00+00" --ref HEAD --reps 30

In one session, rolled back: REF's function created as `call_queue_ref`, the tree's as
`call_queue` (and the tree's internal.leads_recent_attempts), then
- the same calls, in the same order, with the same leads, campaigns and attempts (each
  campaign resolved by id as ManagerRepository.call_queue does), for every p_order;
- the bytes each answer carries, and ms a call, A (REF) and B (tree) interleaved, fetched and
  decoded by psycopg (median, min);
- the candidates' `scoring_features` read (what a run skips when the gate refuses every
  candidate), and in how many of the day's 96 quarter-hours the gate refuses all of them.

Not a test: it prints measured figures (bench/RESULTS.md, "campaign_manager's call queue").
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from app.campaigns import manager
from app.db.campaigns import CampaignSnapshot, LeadSnapshot, QueuedCall

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "supabase" / "schemas"


def _function(text: str, name: str) -> str:
    """The `create or replace function NAME(` statement of a schema file's text."""
    start = text.index(f"create or replace function {name}(")
    return text[start : text.index("$$;", text.index("$$", start) + 2) + 3]


def _resolved(rows: list[Any]) -> list[dict[str, Any]]:
    """Each call with its campaign in full and the lead's LeadSnapshot columns only."""
    keep = set(LeadSnapshot.model_fields)
    full = {
        r["campaign"]["id"]: r["campaign"]
        for r in rows
        if r["campaign"] and "slug" in r["campaign"]
    }
    return [
        {**r, "campaign": full[r["campaign"]["id"]] if r["campaign"] else None,
         "lead": {k: v for k, v in r["lead"].items() if k in keep}}
        for r in rows
    ]  # fmt: skip


def _ms(cur: psycopg.Cursor[Any], sql: str, *params: Any) -> tuple[float, list[Any]]:
    start = time.perf_counter()
    cur.execute(sql, params)
    rows = cur.fetchall()
    return (time.perf_counter() - start) * 1000, rows


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dsn", required=True)
    p.add_argument("--now", required=True)
    p.add_argument("--ref", default="HEAD")
    p.add_argument("--reps", type=int, default=30)
    a = p.parse_args()
    now = datetime.fromisoformat(a.now)
    ref = subprocess.run(
        ["git", "show", f"{a.ref}:supabase/schemas/02_campaigns.sql"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    old = re.sub(r"function call_queue\(", "function call_queue_ref(", _function(ref, "call_queue"))
    new = _function((SCHEMAS / "02_campaigns.sql").read_text(), "call_queue")
    batch = _function((SCHEMAS / "03_outbox.sql").read_text(), "internal.leads_recent_attempts")
    with psycopg.connect(a.dsn) as conn, conn.cursor() as cur:
        for statement in (batch, old, new):
            cur.execute(statement.encode())
        for order in ("score", "newest", "random"):
            _, ra = _ms(cur, "select call, in_flight from call_queue_ref(200, %s, %s)", now, order)
            _, rb = _ms(cur, "select call, in_flight from call_queue(200, %s, %s)", now, order)
            same = _resolved([r[0] for r in ra]) == _resolved([r[0] for r in rb])
            size = [sum(len(json.dumps(r[0])) for r in rows) for rows in (ra, rb)]
            print(f"{order}: {len(ra)} and {len(rb)} calls, the same: {same};"
                  f" bytes {size[0]:,} -> {size[1]:,}")  # fmt: skip
        ta, tb = [], []
        for _ in range(a.reps):
            ta.append(_ms(cur, "select call, in_flight from call_queue_ref(200, %s)", now)[0])
            tb.append(_ms(cur, "select call, in_flight from call_queue(200, %s)", now)[0])
        print(f"call_queue ms a call: A ({a.ref}) median {statistics.median(ta):.2f}"
              f" min {min(ta):.2f} | B (tree) median {statistics.median(tb):.2f}"
              f" min {min(tb):.2f}")  # fmt: skip
        _, rows = _ms(cur, "select call, in_flight from call_queue(200, %s)", now)
        items = [r[0] for r in rows]
        snaps = {i["campaign"]["id"]: CampaignSnapshot.model_validate(i["campaign"]) for i in items
                 if i["campaign"] and "slug" in i["campaign"]}  # fmt: skip
        calls = [
            QueuedCall.model_validate(
                {**i, "campaign": snaps[i["campaign"]["id"]] if i["campaign"] else None}
            )
            for i in items
        ]
        ids = sorted({c.lead.id for c in calls})
        tf = [
            _ms(cur, "select * from scoring_features(%s, %s)", now, ids)[0] for _ in range(a.reps)
        ]
        print(f"scoring_features of the {len(ids)} candidates' leads:"
              f" median {statistics.median(tf):.2f} min {min(tf):.2f} ms")  # fmt: skip
        conn.rollback()
    campaigns = manager._settings(calls)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    refused = [
        t for t in (day + timedelta(minutes=15 * q) for q in range(96))
        if not any(manager._GateMemo(campaigns, t)(c).allowed for c in calls)
    ]  # fmt: skip
    print(f"quarter-hours of {day:%Y-%m-%d} (UTC) the gate refuses all {len(calls)}:"
          f" {len(refused)} of 96")  # fmt: skip


if __name__ == "__main__":
    main()
