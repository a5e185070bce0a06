"""growth's hourly reads and the retrain's new snapshot: a git ref's SQL against this tree's.

On a kept simulation database (bench/history_reads.py `keep`), in alternating rounds on one
connection, each side inside its own transaction, rolled back: the side installs its own
`variant_stats` and `scoring_features` (the ref's read with `git show`, the tree's from
supabase/schemas/06_scoring.sql) and has `messages_marketing_sent_idx` (03_outbox.sql) or
not, then times each read `--calls` times:

- status: `internal.status_aggregates` (status_refresh's body, the same function both sides);
- variants: `variant_stats(30, 14, now)` (growth's variants step);
- snapshot: `scoring_features` over every lead at risk at a new cutoff (the retrain's
  `scoring_snapshots_fill`); every lead: the same as of now (a full scoring pass);
  candidates: the 200 best-scored leads by id (campaign_manager's call queue).

Each read's answer must be the same on both sides (an md5 of its rows, printed).

    .venv/bin/python bench/growth_reads_ab.py --dsn "host=/tmp/hist/pg user=postgres \
        dbname=sim_..." [--now "2026-12-08 05:00+00"] [--ref HEAD] [--rounds 8]

Not a test: it prints measured figures (bench/RESULTS.md, "Simulator").
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
INDEX = "messages_marketing_sent_idx"
FEATURES = "select md5(string_agg(f::text, '|' order by f.lead_id, f.cutoff_at)) from "
READS = {
    "status": "select md5(internal.status_aggregates('America/New_York', %(now)s)::text)",
    "variants": "select md5(string_agg(v::text, '|' order by v.step_id, v.variant, v.channel)) "
    "from variant_stats(30, 14, %(now)s) v",
    "snapshot": FEATURES + "scoring_features(%(now)s, p_times => array[%(now)s::timestamptz"
    " - interval '5 hours'], p_at_risk => true) f",
    "every lead": FEATURES + "scoring_features(%(now)s) f",
    "candidates": FEATURES + "scoring_features(%(now)s, p_lead_ids => array(select id from leads"
    " order by score desc nulls last, id limit 200)) f",
}


def definitions(text: str, names: tuple[str, ...]) -> str:
    """The `create or replace function` statements of `names` in a schema file's text."""
    out = []
    for name in names:
        start = text.index(f"create or replace function {name}(")
        out.append(text[start : text.index("$$;", start) + 3])
    return "\n".join(out)


def index_statement(text: str) -> str:
    """The `create index` statement of INDEX in 03_outbox.sql's text."""
    start = text.index(f"create index {INDEX}")
    return text[start : text.index(";", start) + 1]


def schema(ref: str | None, name: str) -> str:
    if ref is None:
        return (ROOT / "supabase/schemas" / name).read_text()
    return subprocess.run(["git", "show", f"{ref}:supabase/schemas/{name}"], cwd=ROOT,
                          check=True, capture_output=True, text=True).stdout  # fmt: skip


def side_sql(ref: str | None) -> list[str]:
    """The statements that make a side: its functions, the index there or not."""
    functions = definitions(schema(ref, "06_scoring.sql"), ("variant_stats", "scoring_features"))
    outbox = schema(ref, "03_outbox.sql")
    index = index_statement(outbox) if f"create index {INDEX}" in outbox else None
    return [f"drop index if exists {INDEX}", *([index] if index else []), "analyze messages",
            functions]  # fmt: skip


def main(dsn: str, now: str, ref: str, rounds: int, calls: int) -> None:
    sides = {"ref": side_sql(ref), "tree": side_sql(None)}
    ms: dict[tuple[str, str], list[float]] = {(s, r): [] for s in sides for r in READS}
    answers: dict[str, set[str]] = {r: set() for r in READS}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for round_ in range(rounds):
            for side in ("ref", "tree") if round_ % 2 else ("tree", "ref"):
                with conn.transaction(force_rollback=True):
                    for statement in sides[side]:
                        conn.execute(statement)
                    for read, query in READS.items():
                        for _ in range(calls):
                            started = time.perf_counter()
                            row = conn.execute(query, {"now": now}).fetchone()
                            ms[side, read].append(1000 * (time.perf_counter() - started))
                            answers[read].add(str(row[0] if row else None))
    for read in READS:
        ref_ms, tree_ms = ms["ref", read], ms["tree", read]
        same = "identical" if len(answers[read]) == 1 else "DIFFER"
        print(f"{read:>10}: ref median {statistics.median(ref_ms):6.1f} min {min(ref_ms):6.1f}"
              f"  tree median {statistics.median(tree_ms):6.1f} min {min(tree_ms):6.1f} ms"
              f"  ({len(tree_ms)} calls a side; answers {same})")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--now", default="2026-12-08 05:00+00")
    parser.add_argument("--ref", default="HEAD")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--calls", type=int, default=3)
    args = parser.parse_args()
    main(args.dsn, args.now, args.ref, args.rounds, args.calls)
