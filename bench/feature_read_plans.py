"""The scoring pass's feature read (`scoring_features` of a lead list): planning against
execution, and the whole call, --ref's function against this tree's.

On a kept database (bench/history_reads.py `keep`) at `--at` (default: an hour after its
last message), for each size of lead list (evenly spaced lead ids), in one transaction on
one connection (rolled back):

- `plan`: EXPLAIN (ANALYZE, SUMMARY) of the feature statement as the function runs it:
  --ref's body with its parameters planned for the values (force_custom_plan, as --ref's
  function did), and this tree's `internal.scoring_feature_rows` by list, both as the
  generic plan (planned once per connection) and as a custom plan. Printed: planning and
  execution ms (medians of --rounds).
  A size `hourly` reads the hourly pass's list (marked leads, leads younger than a day);
  `calls:N` reads the last N placed calls' (lead, placed_at) pairs instead (the
  per-call rows).
- `call`: the whole `scoring_features(at, ids)` call, --ref's (created as pg_temp's) against
  this tree's, alternating rounds; the rows of both must be identical (an md5 of them).

    .venv/bin/python bench/feature_read_plans.py --dsn "host=DIR user=postgres dbname=keep_..." \
        [--at "2026-12-28 05:10+00"] [--sizes 1,20,300,hourly,2000,10000,calls:3000] [--rounds 5] \
        [--ref HEAD]

The kept database needs this tree's functions (`nightshift db migrate` on it, or psql -f the
migration). Not a test: it prints measured figures (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ["p_now", "p_lead_ids", "p_cutoffs", "p_times", "p_at_risk", "p_horizon_days"]
TYPES = ["timestamptz", "bigint[]", "timestamptz[]", "timestamptz[]", "boolean", "integer"]
TREE = (
    "select * from internal.scoring_feature_rows($1, true, $2, $3, null, $5, $6)"
    " where $4::timestamptz[] is null"
)


def ref_function(ref: str) -> str:
    """--ref's `scoring_features` as it was (git show), its text only."""
    text = subprocess.run(
        ["git", "show", f"{ref}:supabase/schemas/06_scoring.sql"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    start = text.index("create or replace function scoring_features(")
    end = text.index("\n$$;", start) + len("\n$$;")
    return text[start:end]


def ref_statement(function: str) -> str:
    """The body's one statement with the parameters as $1..$6 (to prepare and explain)."""
    body = function[function.index("return query") + len("return query") :]
    body = body[: body.rindex(";\nend")]
    for i, name in enumerate(PARAMS, 1):
        body = re.sub(rf"\b{name}\b", f"${i}", body)
    return body


def explain(cur: Any, name: str, args: tuple[Any, ...], mode: str) -> tuple[float, float]:
    """(planning ms, execution ms) of the prepared statement `name` under plan_cache_mode."""
    cur.execute(f"set local plan_cache_mode = {mode}")
    holes = ", ".join(f"%s::{t}" for t in TYPES)
    cur.execute(f"explain (analyze, summary, format json) execute {name}({holes})", args)
    plan = cur.fetchone()[0][0]
    return float(plan["Planning Time"]), float(plan["Execution Time"])


def call(
    cur: Any, function: str, at: datetime, ids: list[int], cutoffs: list[datetime] | None
) -> tuple[float, str]:
    """(wall ms, md5 of the rows) of one `function(at, ids, cutoffs)` call."""
    started = time.perf_counter()
    cur.execute(
        f"select md5(coalesce(string_agg(f::text, '|'), ''))"
        f" from {function}(%s, %s, %s::timestamptz[]) f",
        (at, ids, cutoffs),
    )
    digest = str(cur.fetchone()[0])
    return (time.perf_counter() - started) * 1000, digest


def calls(cur: Any, n: int) -> tuple[list[int], list[datetime]]:
    """The last `n` placed calls' (lead, placed_at) pairs: the per-call rows' read."""
    cur.execute(
        "select array_agg(lead_id order by id), array_agg(placed_at order by id) from"
        " (select id, lead_id, placed_at from calls where lead_id is not null"
        "   and placed_at is not null order by id desc limit %s) k",
        (n,),
    )
    ids, placed = cur.fetchone()
    return list(ids), list(placed)


def hourly(cur: Any, at: datetime) -> list[int]:
    """The hourly pass's list at `at`: the marked leads and those younger than a day (the
    sim's horizon)."""
    cur.execute(
        "select array_agg(id order by id) from (select lead_id id from scoring_dirty union"
        " select id from leads where created_at > %s - interval '1 day') w",
        (at,),
    )
    return list(cur.fetchone()[0] or [])


def sample(cur: Any, n: int) -> list[int]:
    """`n` lead ids evenly spaced over every lead (ascending)."""
    cur.execute("select array_agg(id order by id) from leads")
    every: list[int] = cur.fetchone()[0]
    step = max(1, len(every) // n)
    return every[::step][:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--at", default=None)
    parser.add_argument("--sizes", default="1,20,300,hourly,2000,10000,calls:3000")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ref", default="HEAD")
    args = parser.parse_args()
    function = ref_function(args.ref)
    # client-side binding: EXPLAIN EXECUTE takes its arguments as literals
    with psycopg.connect(args.dsn) as conn, psycopg.ClientCursor(conn) as cur:
        if args.at:
            at = datetime.fromisoformat(args.at)
        else:
            cur.execute("select max(sent_at) from messages")
            at = cur.fetchone()[0] + timedelta(hours=1)
        cur.execute("set local random_page_cost = 1.1")
        cur.execute(function.replace("function scoring_features(", "function pg_temp.ref_sf(", 1))
        types = ", ".join(TYPES)
        cur.execute(f"prepare ref_q({types}) as {ref_statement(function)}")
        cur.execute(f"prepare tree_q({types}) as {TREE}")
        print(f"at {at}, {args.rounds} rounds, ref {args.ref}; ms medians (min)")
        for size in args.sizes.split(","):
            # "calls:N": the last N placed calls' pairs; N: N leads at `at`
            if size == "hourly":
                ids, cutoffs = hourly(cur, at), None
            elif size.startswith("calls:"):
                ids, cutoffs = calls(cur, int(size.removeprefix("calls:")))
            else:
                ids, cutoffs = sample(cur, int(size)), None
            qargs = (at, ids, cutoffs, None, False, None)
            got: dict[str, list[tuple[float, float]]] = {"ref": [], "generic": [], "custom": []}
            walls: dict[str, list[float]] = {"ref": [], "tree": []}
            digests: dict[str, set[str]] = {"ref": set(), "tree": set()}
            for _ in range(args.rounds):
                got["ref"].append(explain(cur, "ref_q", qargs, "force_custom_plan"))
                got["generic"].append(explain(cur, "tree_q", qargs, "force_generic_plan"))
                got["custom"].append(explain(cur, "tree_q", qargs, "force_custom_plan"))
                cur.execute("reset plan_cache_mode")
                for side, fn in (("ref", "pg_temp.ref_sf"), ("tree", "scoring_features")):
                    ms, digest = call(cur, fn, at, ids, cutoffs)
                    walls[side].append(ms)
                    digests[side].add(digest)
            same = "identical" if digests["ref"] == digests["tree"] else "DIFFERENT"
            parts = [
                f"{k} plan {statistics.median(p for p, _ in v):.1f}"
                f" exec {statistics.median(e for _, e in v):.1f}"
                for k, v in got.items()
            ]
            what = f"{len(ids):>6} {'calls' if cutoffs else 'leads'}"
            print(f"{what}: " + "; ".join(parts))
            print(
                f"{'':>14}call ref {statistics.median(walls['ref']):.1f}"
                f" ({min(walls['ref']):.1f}), tree {statistics.median(walls['tree']):.1f}"
                f" ({min(walls['tree']):.1f}); rows {same}"
            )
        conn.rollback()


if __name__ == "__main__":
    main()
