"""A small drip run's statements on a kept database, a git ref's SQL against this tree's.

Most drip runs of a simulated month claim nothing or a few dozen steps (8,640 runs, one
every 5 virtual minutes; bench/dispatch.py measures the 500-step batches instead). Their
cost is the database's fixed work per call, which a kept simulated database shows at its
size (`bench/history_reads.py keep`). The functions named are installed twice beside the
database's own, from `git show REF` (`<name>_ref`) and from this tree's schema files
(`<name>_tree`), then dropped; each call is rolled back (the database is left as it was),
the two sides taken in turn call by call:

- enqueue_outbox: the outbox write of a small batch (`--items`, default 12): the most recent
  drip messages of the database written again under new keys, the first 2 texts and 20
  emails claimed by the write (Twilio's and Resend's first chunks, `OutboxDelivery.claim_chunk`),
  as the drip loop writes them;
- claim_due_steps: a claim of a small batch (`--due`, default 30): the active campaigns'
  first `--due` active enrollments made due 5 minutes before the instant (in the call's
  transaction, not timed), then `--due` steps claimed. At an instant late in a UTC day
  (`--now` may be given more than once) the claim counts that day's sends of each capped
  campaign. The same function both sides unless the ref's differs;
- the last settle: those `--due` steps claimed (not timed), then settled ('advance') and the
  due rescue texts read: complete_steps then webhook_due_rescue_checks, two round trips
  (the ref side, as a run did), against this tree's drip_settle, one.

Medians (ms a call) and the per-round ratio tree/ref are printed, with the load average.

    .venv/bin/python bench/drip_small_ab.py --dsn "host=DIR user=postgres dbname=..." \
        --now "2026-12-28 13:05+00" [--now ...] [--ref HEAD] [--rounds 6] [--calls 40] \
        [--items 12] [--due 30]

Not a test: it prints measured figures (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = {"enqueue_outbox": "03_outbox.sql", "claim_due_steps": "02_campaigns.sql"}
SIGNATURES = {
    "enqueue_outbox": "(jsonb, timestamptz, jsonb, integer)",
    "claim_due_steps": "(text, integer, integer, timestamptz)",
    "drip_settle": "(text, jsonb, timestamptz, integer)",
}
DUE = ("update enrollments set next_run_at = %(now)s::timestamptz - interval '5 minutes'"
       " where id in (select e.id from enrollments e join campaigns c on c.id = e.campaign_id"
       " where e.status = 'active' and c.status = 'active'"
       " order by e.next_run_at, e.id limit %(due)s)")  # fmt: skip
CLAIM = {"sms": 2, "email": 20}


def function_text(text: str, name: str, suffix: str) -> str:
    """`name`'s `create or replace` statement in a schema file's `text`, renamed."""
    start = text.index(f"create or replace function {name}(")
    body = text[start : text.index("$$;", start) + 3]
    return body.replace(f"function {name}(", f"function {name}_{suffix}(", 1)


def install(conn: psycopg.Connection[Any], ref: str) -> None:
    for name, schema in FUNCTIONS.items():
        at_ref = subprocess.run(["git", "show", f"{ref}:supabase/schemas/{schema}"], cwd=ROOT,
                                check=True, capture_output=True, text=True).stdout  # fmt: skip
        here = (ROOT / "supabase" / "schemas" / schema).read_text()
        conn.execute(function_text(at_ref, name, "ref").encode())
        conn.execute(function_text(here, name, "tree").encode())
    here = (ROOT / "supabase" / "schemas" / "02_campaigns.sql").read_text()
    conn.execute(function_text(here, "drip_settle", "tree").encode())  # new: no ref


def drop(conn: psycopg.Connection[Any]) -> None:
    for name, args in SIGNATURES.items():
        for suffix in ("ref", "tree"):
            conn.execute(f"drop function if exists {name}_{suffix}{args}".encode())


def batch(conn: psycopg.Connection[Any], size: int) -> list[dict[str, Any]]:
    """The `size` most recent drip messages as outbox items (keys set per call)."""
    rows = conn.execute(
        "select channel, kind, provider, to_address, lead_id, enrollment_id, campaign_id,"
        " step_id, payload from messages where idempotency_key like 'drip:%%'"
        " order by id desc limit %s",
        (size,),
    ).fetchall()
    names = ("channel", "kind", "provider", "to_address", "lead_id", "enrollment_id",
             "campaign_id", "step_id", "payload")  # fmt: skip
    return [dict(zip(names, row, strict=True)) for row in rows]


def write(conn: psycopg.Connection[Any], side: str, items: list[dict[str, Any]], tag: str,
          now: datetime) -> float:  # fmt: skip
    keyed = [{**item, "idempotency_key": f"ab:{tag}:{n}"} for n, item in enumerate(items)]
    started = time.perf_counter()
    conn.execute(
        f"select * from enqueue_outbox_{side}(%s, %s, %s, 600)".encode(),
        (Jsonb(keyed), now, Jsonb(CLAIM)),
    ).fetchall()
    spent = time.perf_counter() - started
    conn.rollback()
    return spent


def claim(conn: psycopg.Connection[Any], side: str, due: int, now: datetime) -> float:
    conn.execute(DUE.encode(), {"now": now, "due": due})
    started = time.perf_counter()
    rows = conn.execute(
        f"select * from claim_due_steps_{side}('ab', %s, 600, %s)".encode(), (due, now)
    ).fetchall()
    spent = time.perf_counter() - started
    conn.rollback()
    assert len(rows) == due, (len(rows), due)
    return spent


def settle(conn: psycopg.Connection[Any], side: str, due: int, now: datetime) -> float:
    conn.execute(DUE.encode(), {"now": now, "due": due})
    rows = conn.execute(
        "select step->>'enrollment_id' from claim_due_steps('ab', %s, 600, %s)", (due, now)
    ).fetchall()
    results = Jsonb([{"enrollment_id": int(r[0]), "action": "advance"} for r in rows])
    started = time.perf_counter()
    if side == "ref":
        conn.execute("select * from complete_steps('ab', %s, %s)", (results, now)).fetchall()
        conn.execute("select * from webhook_due_rescue_checks(%s, 100)", (now,)).fetchall()
    else:
        conn.execute("select * from drip_settle_tree('ab', %s, %s)", (results, now)).fetchall()
    spent = time.perf_counter() - started
    conn.rollback()
    return spent


def alternate(label: str, call: Callable[[str, str], float], rounds: int, calls: int) -> None:
    """`call(side, tag)` for both sides in turn, `calls` a side per round; medians printed."""
    spent: dict[str, list[float]] = {"ref": [], "tree": []}
    for n in range(rounds):
        per: dict[str, list[float]] = {"ref": [], "tree": []}
        for i in range(calls):
            for side in ("ref", "tree") if (n + i) % 2 == 0 else ("tree", "ref"):
                per[side].append(call(side, f"{n}:{i}:{side}"))
        for side in per:
            spent[side].append(statistics.median(per[side]))
        print(f"  round {n}: ref {spent['ref'][-1] * 1000:.3f} ms, tree"
              f" {spent['tree'][-1] * 1000:.3f} ms (load {os.getloadavg()[0]:.2f})",
              flush=True)  # fmt: skip
    ref_s, tree_s = spent["ref"], spent["tree"]
    print(
        f"{label}, ms a call: ref median {statistics.median(ref_s) * 1000:.3f}, this tree"
        f" {statistics.median(tree_s) * 1000:.3f}; tree/ref per round"
        f" {' '.join(f'{b / a:.2f}' for a, b in zip(ref_s, tree_s, strict=True))}",
        flush=True,
    )


def main(args: argparse.Namespace) -> None:
    with psycopg.connect(args.dsn, autocommit=True) as admin:
        install(admin, args.ref)
    try:
        with psycopg.connect(args.dsn, prepare_threshold=None) as conn:
            items = batch(conn, args.items)
            conn.rollback()
            for text in args.now:
                now = datetime.fromisoformat(text)

                def do_write(side: str, tag: str, now: datetime = now) -> float:
                    return write(conn, side, items, tag, now)

                def do_claim(side: str, tag: str, now: datetime = now) -> float:
                    return claim(conn, side, args.due, now)

                def do_settle(side: str, tag: str, now: datetime = now) -> float:
                    return settle(conn, side, args.due, now)

                alternate(f"enqueue_outbox of {len(items)} items at {text} ({args.ref})",
                          do_write, args.rounds, args.calls)  # fmt: skip
                alternate(f"claim_due_steps of {args.due} steps at {text} ({args.ref})",
                          do_claim, args.rounds, args.calls)  # fmt: skip
                alternate(f"last settle of {args.due} steps + rescue read at {text}"
                          " (ref: complete_steps, webhook_due_rescue_checks; tree: drip_settle)",
                          do_settle, args.rounds, args.calls)  # fmt: skip
    finally:
        with psycopg.connect(args.dsn, autocommit=True) as admin:
            drop(admin)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dsn", required=True, help="a kept simulated database")
    parser.add_argument("--now", required=True, action="append", help="a virtual instant")
    parser.add_argument("--ref", default="HEAD")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--calls", type=int, default=40, help="calls a side per round")
    parser.add_argument("--items", type=int, default=12, help="outbox items a call")
    parser.add_argument("--due", type=int, default=30, help="steps a claim")
    main(parser.parse_args())
