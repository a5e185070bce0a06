"""The lead features' read of each email's first open, --ref's (parsing status_history at
every read) against this tree's (messages.first_open_at, kept by a trigger), and the
trigger's cost on the writes of status_history.

On a kept database (bench/history_reads.py `keep`) with this tree's migration applied
(psql -1 -f supabase/migrations/20261210120000_first_open.sql), in one transaction on one
connection (rolled back), alternating rounds:

- `reads`: `scoring_features` as --ref had it (its `internal.scoring_feature_rows` and
  `scoring_features`, created in pg_temp) against this tree's, for each case: `fill` (a
  retrain's new snapshot: every lead at risk at the snapshot time after the newest stored
  one, at that time plus the horizon --horizon-days and 10 minutes), `hourly` (the hourly
  pass's list at --at: the marked leads and those younger than a day), `2000` (2,000 leads
  evenly spaced, at --at), `all` (every lead at --at), `calls:N` (the last N placed calls'
  (lead, placed_at) pairs). Printed: ms medians (min) of each side and whether the rows
  were identical (an md5 of them) in every round, and the server process's CPU ms a call
  (the mean of the rounds: /proc counts 10 ms ticks).
- `--fill`: the next retrain's `scoring_snapshots_fill` (the snapshot time after the newest
  stored one), `ref`: --ref's (its features, and the foreign key of the store's rows to
  leads added back `not valid`, checking the rows inserted as --ref's did); `fk`: this
  tree's with that foreign key added back; `tree`: this tree's (the leads locked in one
  statement, no foreign key). Printed: ms medians, the server CPU ms a call, and whether
  all stored the same snapshot (its row count and rendering's md5).
- `writes`: --writes email messages' status_history appended with a 'delivered' (no open:
  the trigger's condition only) and with an 'opened' (the trigger runs), the trigger
  enabled against disabled, each statement rolled back to a savepoint. Printed: µs a row.

    .venv/bin/python bench/first_open_ab.py --dsn "host=DIR user=postgres dbname=..." \
        [--at "2026-12-28 04:00+00"] [--cases fill,hourly,2000,all,calls:3000] \
        [--rounds 7] [--writes 500] [--fill] [--ref HEAD]

Not a test: it prints measured figures (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = "supabase/schemas/06_scoring.sql"
OPEN = """jsonb_build_object('status', '{}', 'at', now())"""


def ref_functions(ref: str) -> str:
    """--ref's feature rows, scoring_features and scoring_snapshots_fill, created as
    pg_temp.ref_rows / ref_sf / ref_fill (each calling the others' copies)."""
    text = subprocess.run(["git", "show", f"{ref}:{SCHEMA}"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout  # fmt: skip
    out = []
    for name, copy in (("internal.scoring_feature_rows", "pg_temp.ref_rows"),
                       ("scoring_features", "pg_temp.ref_sf"),
                       ("scoring_snapshots_fill", "pg_temp.ref_fill")):  # fmt: skip
        header = f"create or replace function {name}("
        start = text.index(header)
        body = text[start : text.index("\n$$;\n", start) + 5]
        body = body.replace(header, f"create function {copy}(", 1)
        body = body.replace("from scoring_features(", "from pg_temp.ref_sf(")
        out.append(body.replace("internal.scoring_feature_rows(", "pg_temp.ref_rows("))
    return "\n".join(out)


def server_cpu(cur: Any) -> float:
    """The connection's server process's CPU ms so far (user + system; /proc: the embedded
    server runs on this machine; 10 ms ticks, so summed over the rounds)."""
    stat = Path(f"/proc/{cur.connection.info.backend_pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return 1000 * (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(cur: Any, function: str, args: dict[str, Any]) -> tuple[float, float, str]:
    """(wall ms, server CPU ms, md5 of the rows) of one call of `function` with `args`."""
    named = ", ".join(f"{k} => %({k})s" for k in args)
    cpu, started = server_cpu(cur), time.perf_counter()
    cur.execute(
        f"select md5(coalesce(string_agg(f::text, '|'), '')) from {function}({named}) f", args
    )
    digest = str(cur.fetchone()[0])
    return (time.perf_counter() - started) * 1000, server_cpu(cur) - cpu, digest


def case_args(cur: Any, case: str, at: datetime, horizon: int) -> dict[str, Any]:
    if case == "fill":
        cur.execute("select max(cutoff_at) from scoring_snapshot_times")
        newest = cur.fetchone()[0]
        t = newest + timedelta(hours=6)
        now = t + timedelta(days=horizon, minutes=10)
        return {"p_now": now, "p_times": [t], "p_at_risk": True}
    if case == "hourly":
        cur.execute(
            "select array_agg(id order by id) from (select lead_id id from scoring_dirty union"
            " select id from leads where created_at > %s - interval '1 day') w",
            (at,),
        )
        return {"p_now": at, "p_lead_ids": list(cur.fetchone()[0] or [])}
    if case == "all":
        return {"p_now": at}
    if case.startswith("calls:"):
        cur.execute(
            "select array_agg(lead_id order by id), array_agg(placed_at order by id) from"
            " (select id, lead_id, placed_at from calls where lead_id is not null"
            "   and placed_at is not null order by id desc limit %s) k",
            (int(case.removeprefix("calls:")),),
        )
        ids, placed = cur.fetchone()
        return {"p_now": at, "p_lead_ids": list(ids), "p_cutoffs": list(placed)}
    cur.execute("select array_agg(id order by id) from leads")
    every: list[int] = cur.fetchone()[0]
    return {"p_now": at, "p_lead_ids": every[:: max(1, len(every) // int(case))][: int(case)]}


def reads(cur: Any, cases: list[str], at: datetime, horizon: int, rounds: int) -> None:
    for case in cases:
        args = case_args(cur, case, at, horizon)
        walls: dict[str, list[float]] = {"ref": [], "tree": []}
        cpus: dict[str, list[float]] = {"ref": [], "tree": []}
        digests: dict[str, set[str]] = {"ref": set(), "tree": set()}
        for r in range(rounds):
            sides = [("ref", "pg_temp.ref_sf"), ("tree", "scoring_features")]
            for side, fn in sides if r % 2 == 0 else sides[::-1]:
                ms, cpu, digest = timed(cur, fn, args)
                walls[side].append(ms)
                cpus[side].append(cpu)
                digests[side].add(digest)
        same = "identical" if digests["ref"] == digests["tree"] else "DIFFERENT"
        n = len(args.get("p_lead_ids") or []) or "-"
        print(
            f"{case:>11} ({n} ids): ref {statistics.median(walls['ref']):.1f}"
            f" ({min(walls['ref']):.1f}) ms, tree {statistics.median(walls['tree']):.1f}"
            f" ({min(walls['tree']):.1f}) ms; server CPU a call ref"
            f" {statistics.mean(cpus['ref']):.1f}, tree {statistics.mean(cpus['tree']):.1f} ms;"
            f" rows {same}"
        )


def fill(cur: Any, horizon: int, rounds: int) -> None:
    """The next retrain's scoring_snapshots_fill: --ref's, this tree's with the foreign key
    to leads, this tree's; each rolled back to a savepoint (see the module's docstring)."""
    cur.execute("select max(cutoff_at) from scoring_snapshot_times")
    t = cur.fetchone()[0] + timedelta(hours=6)
    now = t + timedelta(days=horizon, minutes=10)
    sides = ("ref", "fk", "tree")
    got: dict[str, list[float]] = {side: [] for side in sides}
    cpus: dict[str, list[float]] = {side: [] for side in sides}
    digests: dict[str, set[str]] = {side: set() for side in sides}
    for r in range(rounds):
        for side in sides if r % 2 == 0 else sides[::-1]:
            cur.execute("savepoint f")
            function = "pg_temp.ref_fill" if side == "ref" else "scoring_snapshots_fill"
            if side != "tree":
                cur.execute(
                    "alter table scoring_snapshots add constraint ref_lead_fkey foreign key"
                    " (lead_id) references leads (id) on delete cascade not valid"
                )
            cpu, started = server_cpu(cur), time.perf_counter()
            cur.execute(f"select * from {function}(%s, %s)", (now, [t]))
            got[side].append((time.perf_counter() - started) * 1000)
            cpus[side].append(server_cpu(cur) - cpu)
            cur.execute(
                "select n, md5(columns::text) from scoring_snapshot_times where cutoff_at = %s",
                (t,),
            )
            digests[side].add(str(cur.fetchone()))
            cur.execute("rollback to savepoint f")
    same = "identical" if len(set().union(*digests.values())) == 1 else "DIFFERENT"
    print(
        f"  fill of {t}: "
        + ", ".join(f"{k} {statistics.median(got[k]):.1f}" for k in sides)
        + " ms; server CPU a call "
        + ", ".join(f"{k} {statistics.mean(cpus[k]):.1f}" for k in sides)
        + f" ms; snapshot {same} ({next(iter(digests['tree']))})"
    )


def writes(cur: Any, n: int, rounds: int) -> None:
    cur.execute(
        "select array_agg(id) from (select id from messages where channel = 'email'"
        " and first_open_at is null order by id desc limit %s) m",
        (n,),
    )
    ids = cur.fetchone()[0]
    got: dict[tuple[str, str], list[float]] = {}
    for r in range(rounds):
        for enabled in ("enabled", "disabled") if r % 2 == 0 else ("disabled", "enabled"):
            for status in ("delivered", "opened"):
                cur.execute("savepoint w")
                if enabled == "disabled":
                    cur.execute("alter table messages disable trigger messages_first_open")
                started = time.perf_counter()
                cur.execute(
                    "update messages set status_history = status_history || "
                    + OPEN.format(status)
                    + " where id = any(%s)",
                    (ids,),
                )
                us = (time.perf_counter() - started) * 1e6 / len(ids)
                cur.execute("rollback to savepoint w")
                got.setdefault((enabled, status), []).append(us)
    for (enabled, status), v in sorted(got.items()):
        print(f"  write '{status}', trigger {enabled}: {statistics.median(v):.1f} µs a row")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--at", default=None)
    parser.add_argument("--cases", default="fill,hourly,2000,all,calls:3000")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--writes", type=int, default=500)
    parser.add_argument("--fill", action="store_true")
    parser.add_argument("--horizon-days", type=int, default=1)
    parser.add_argument("--ref", default="HEAD")
    args = parser.parse_args()
    with psycopg.connect(args.dsn) as conn, conn.cursor() as cur:
        if args.at:
            at = datetime.fromisoformat(args.at)
        else:
            cur.execute("select max(sent_at) from messages")
            at = cur.fetchone()[0] + timedelta(hours=1)
        cur.execute(ref_functions(args.ref))
        print(f"at {at}, {args.rounds} rounds, ref {args.ref}; ms medians (min)")
        reads(cur, [c for c in args.cases.split(",") if c], at, args.horizon_days, args.rounds)
        if args.fill:
            fill(cur, args.horizon_days, args.rounds)
        if args.writes:
            writes(cur, args.writes, args.rounds)
        conn.rollback()


if __name__ == "__main__":
    main()
