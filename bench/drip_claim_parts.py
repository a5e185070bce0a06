"""The drip claim's parts on a kept database: each statement of `claim_due_steps` (EXPLAIN
ANALYZE), and the batch's recent attempts (`internal.leads_recent_attempts`) a git ref's text
against this tree's.

`parts`: the claim's four statements, read from this tree's supabase/schemas/02_campaigns.sql
(its variables bound: the ids claimed, none settled, no caps read), run under EXPLAIN
(ANALYZE, TIMING OFF) at a virtual instant in a transaction rolled back, alternately with
the planner left to choose (`enable_seqscan` on, as before migration 20261211110000) and
with `enable_seqscan = off` (the function's setting since): per statement the median
execution and planning ms, and the plan's first scan of `enrollments` for the due select.

`attempts`: `internal.leads_recent_attempts` of the ref (a SQL function with a SET clause,
planned at every call) and of this tree (plpgsql, one generic plan per connection), installed
beside each other under other names and called in shuffled turns on one connection for
batches of leads that have attempts in the 24 h before the instant: median ms a call (the
round trip included) and whether both returned the same rows.

    .venv/bin/python bench/drip_claim_parts.py parts --dsn "host=DIR user=postgres dbname=..." \\
        --now "2026-12-28 13:05+00" [--rounds 5]
    .venv/bin/python bench/drip_claim_parts.py attempts --dsn ... --now ... [--ref HEAD]

Not a test: it prints measured figures (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import time
from datetime import datetime
from typing import Any

import psycopg
from sql_ab import ROOT, ref_functions, tree_functions

CAMPAIGNS = "supabase/schemas/02_campaigns.sql"
OUTBOX = "supabase/schemas/03_outbox.sql"
ATTEMPTS = "internal.leads_recent_attempts"
NAMES = ("due select + lock", "opt-out / refusal checks", "sent today", "lease + snapshot")


def claim_statements() -> list[str]:
    """claim_due_steps' four statements from this tree, its variables bound to query
    parameters (%(now)s, %(ids)s: the due select's answer) or to constants."""
    text = (ROOT / CAMPAIGNS).read_text()
    start = text.index("create or replace function claim_due_steps(")
    body = text[start : text.index("\n$$;\n", start)]
    body = re.sub(r"--[^\n]*", "", body[body.index("\nbegin\n") + 7 :])
    found = [
        part.strip()
        for part in body.split(";\n")
        if part.strip().startswith(("select", "with", "return query"))
    ]
    bound = []
    for part in found:
        part = part.replace("%", "%%").replace("return query", "")
        part = part.replace("into v_settled", "").replace("into v_today", "")
        part = part.replace("into v_ids", "")
        for name, value in (
            ("v_ids", "%(ids)s::bigint[]"),
            ("v_settled", "'{}'::bigint[]"),
            ("v_today", "'{}'::jsonb"),
            ("p_now", "%(now)s"),
            ("p_worker", "'bench:parts'"),
            ("p_lease_seconds", "600"),
            ("p_limit", "500"),
        ):
            part = part.replace(name, value)
        bound.append(part)
    assert len(bound) == 4, [b[:40] for b in bound]
    return bound


def parts(dsn: str, now: datetime, rounds: int) -> None:
    statements = claim_statements()
    ms: dict[tuple[str, str, str], list[float]] = {}
    scans: dict[str, str] = {}
    steps = 0
    with psycopg.connect(dsn) as conn:
        for n in range(2 * rounds + 2):
            mode = "off" if n % 2 else "on"
            conn.execute(f"set local enable_seqscan = {mode}")
            row = conn.execute(statements[0], {"now": now}).fetchone()
            args = {"now": now, "ids": row[0] if row else []}
            steps = len(args["ids"])
            for name, statement in zip(NAMES, statements, strict=True):
                plan = [
                    r[0]
                    for r in conn.execute(
                        "explain (analyze, timing off, summary on) " + statement, args
                    ).fetchall()
                ]
                if n < 2:  # the first turn of each: catalogs and buffers warmed
                    continue
                for line in plan:
                    for kind in ("Execution", "Planning"):
                        if line.startswith(f"{kind} Time:"):
                            ms.setdefault((name, mode, kind), []).append(float(line.split()[2]))
                if name == NAMES[0]:
                    scans[mode] = next(x.strip() for x in plan if " on enrollments" in x)
                    scans[mode] = re.sub(r"\s*\(cost.*", "", scans[mode])
            conn.rollback()
    print(f"{now.isoformat()}: {steps} steps due and claimable (up to 500)")
    for name in NAMES:
        cells = []
        for mode in ("on", "off"):
            run = statistics.median(ms[name, mode, "Execution"])
            plan = statistics.median(ms[name, mode, "Planning"])
            cells.append(f"seqscan {mode}: exec {run:6.3f} plan {plan:5.3f}")
        print(f"  {name:<26} " + "  |  ".join(cells))
    for mode in ("on", "off"):
        print(f"  due select's scan, seqscan {mode}: {scans[mode]}")


def attempts(dsn: str, now: datetime, ref: str, rounds: int) -> None:
    copies = {side: f"{ATTEMPTS}_{side}" for side in ("ref", "tree")}
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(ref_functions(ref, OUTBOX, {ATTEMPTS: copies["ref"]}))
        admin.execute(tree_functions(OUTBOX, {ATTEMPTS: copies["tree"]}))
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            leads = [
                r[0]
                for r in conn.execute(
                    "select distinct lead_id from messages where lead_id is not null"
                    " and claimed_at > %(now)s - interval '24 hours' and claimed_at <= %(now)s",
                    {"now": now},
                ).fetchall()
            ]
            rng = random.Random(7)
            timings: dict[tuple[int, str], list[float]] = {}
            answers: dict[tuple[int, str], Any] = {}
            sizes = [n for n in (2, 10, 30, 150, 500) if n <= len(leads)]
            for _ in range(rounds):
                for size in sizes:
                    ids = rng.sample(leads, size)
                    for side in rng.sample(list(copies), 2):
                        started = time.perf_counter()
                        rows = conn.execute(
                            f"select lead_id, attempts from {copies[side]}(%s, %s) order by 1",
                            (ids, now),
                        ).fetchall()
                        timings.setdefault((size, side), []).append(time.perf_counter() - started)
                        answers[size, side] = rows
        print(f"{now.isoformat()}: {len(leads)} leads with attempts in the 24 h before")
        for size in sizes:
            r, t = (1000 * statistics.median(timings[size, side]) for side in ("ref", "tree"))
            same = answers[size, "ref"] == answers[size, "tree"]
            print(f"  {size:4d} leads: ref {r:6.3f} ms  tree {t:6.3f} ms  tree/ref {t / r:.2f}"
                  f"  same rows (last turn): {same}")  # fmt: skip
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            for copy in copies.values():
                admin.execute(f"drop function if exists {copy}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=("parts", "attempts"))
    parser.add_argument("--dsn", required=True, help="a database kept by history_reads.py keep")
    parser.add_argument("--now", required=True, type=datetime.fromisoformat)
    parser.add_argument("--ref", default="HEAD")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if args.what == "parts":
        parts(args.dsn, args.now, args.rounds)
    else:
        attempts(args.dsn, args.now, args.ref, args.rounds * 8)
