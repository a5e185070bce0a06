"""growth's hourly status and variants reads: from kept closed hours against every row.

On a kept simulation database made with this tree (bench/history_reads.py `keep`): its
hourly growth runs kept the closed hours (status_hours ..., variant_hours ...), and the
writes since its last run are logged in status_stale and variant_stale, as in a deployment.
In the time zone of its cache, at `--now` (default: its last refresh + 1 hour, so one more
hour has closed), in alternating rounds on one connection, each call inside a transaction
rolled back (every round starts from the same state):

- status, ref: `internal.status_aggregates` (what `status_refresh` ran at the git ref
  `--ref`, unchanged here: every row of the 7/14/30-day windows); tree: `status_refresh`
  (the stale and newly closed hours summed and kept, then the kept hours summed with the
  open hour and the windows' first partial hours, and cached);
- variants: `variant_stats(90, HORIZON, now)` as growth's variants step calls it (the
  simulation's horizon), ref: the ref's definition installed in the transaction (from
  `git show`); tree: this tree's (the stale and newly closed hours, then the sums).

Each read's answers must be the same on both sides (an md5 of the rows, printed), and the
hours a refresh summed are printed. Then the triggers' cost on a webhook's write: 200 sent
A/B messages updated one by one (a DO block), an open (no count moves) and a bounce (both
rollups log the message's hours), with the rollup triggers disabled (ref) or not (tree).

    .venv/bin/python bench/status_rollup_ab.py --dsn "host=DIR user=postgres dbname=sim_..." \
        [--now "2026-12-05 05:00+00"] [--ref HEAD] [--rounds 8] [--calls 3]

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
HORIZON = 1  # the simulation's SCORING_HORIZON_DAYS (app.simulate.engine)
VARIANTS = (
    "select md5(string_agg(v::text, '|' order by v.step_id, v.variant, v.channel,"
    " v.campaign_id)) from variant_stats(90, %(horizon)s, %(now)s) v"
)
# side -> (statements run first, untimed; the timed call; the read of its answer or None)
Side = tuple[list[str], str, str | None]


def ref_variant_stats(ref: str) -> str:
    """The `create or replace function variant_stats(` statement at `ref`."""
    text = subprocess.run(["git", "show", f"{ref}:supabase/schemas/06_scoring.sql"], cwd=ROOT,
                          check=True, capture_output=True, text=True).stdout  # fmt: skip
    start = text.index("create or replace function variant_stats(")
    return text[start : text.index("$$;", start) + 3]


# A webhook's write on 200 sent A/B messages one by one (a DO block, like 200 callbacks): an
# open (no count moves: the triggers' conditions evaluated, nothing logged) or a bounce
# (both triggers log the message's hours). ref: the rollup triggers disabled.
WRITES = (
    "do $$ declare i bigint; begin for i in select id from messages where step_id is not null"
    " and sent_at is not null and kind = 'marketing' order by id desc limit 200 loop"
    " update messages set status = {status}, updated_at = updated_at where id = i;"
    " end loop; end $$"
)
OFF = ["alter table messages disable trigger messages_rollup_stale_update"]


def sides(ref: str) -> dict[str, dict[str, Side]]:
    opened = WRITES.format(status="'opened'")
    bounced = WRITES.format(status="case when status = 'bounced' then 'sent' else 'bounced' end")
    return {
        "open x200": {"ref": (OFF, opened, None), "tree": ([], opened, None)},
        "bounce x200": {"ref": (OFF, bounced, None), "tree": ([], bounced, None)},
        "status": {
            "ref": ([], "select md5(internal.status_aggregates(%(tz)s, %(now)s)::text)", None),
            "tree": ([], "select status_refresh(%(tz)s, %(now)s)",
                     "select md5(value::text) from status_cache where tz = %(tz)s"),
        },
        "variants": {
            "ref": ([ref_variant_stats(ref)], VARIANTS, None),
            "tree": ([], VARIANTS, None),
        },
    }  # fmt: skip


def timed(conn: psycopg.Connection, side: Side, args: dict[str, object]) -> tuple[float, str]:
    """Seconds of one call in its own transaction (rolled back) and the answer's md5."""
    setup, call, answer = side
    for statement in setup:
        conn.execute(statement)
    started = time.perf_counter()
    cursor = conn.execute(call, args if "%(" in call else None)
    row = cursor.fetchone() if cursor.description else ("-",)
    took = time.perf_counter() - started
    if answer is not None:
        row = conn.execute(answer, args).fetchone()
    conn.rollback()
    assert row is not None
    return took, str(row[0])


def print_sides(
    name: str, width: int, took: dict[str, list[float]], answers: dict[str, set[str]]
) -> None:
    """Each side's median and least seconds (as ms) and its answers' md5s, then whether
    both sides ("ref", "tree") gave one and the same answer."""
    for side in took:
        median, least = statistics.median(took[side]), min(took[side])
        print(f"{name:{width}s} {side:4s} median {1000 * median:7.2f} ms"
              f"  min {1000 * least:7.2f}  answer {sorted(answers[side])}")  # fmt: skip
    same = answers["ref"] == answers["tree"] and len(answers["ref"]) == 1
    print(f"{name}: same answer both sides: {same}")


def main(dsn: str, now: str | None, ref: str, rounds: int, calls: int) -> None:
    reads = sides(ref)
    with psycopg.connect(dsn) as conn:
        # the simulation's business time zone and its last refresh
        row = conn.execute(
            "select tz, (computed_at + interval '1 hour')::text from status_cache"
            " order by computed_at desc limit 1"
        ).fetchone()
        assert row is not None, "no refresh cached: not a kept simulation database"
        args: dict[str, object] = {"tz": row[0], "now": now or row[1], "horizon": HORIZON}
        counts = conn.execute(
            "select (select count(distinct hour) from status_stale),"
            " internal.status_rollup(%(now)s),"
            " (select count(distinct hour) from variant_stale)", args,
        ).fetchone()  # fmt: skip
        conn.rollback()
        assert counts is not None
        print(f"now {args['now']} ({args['tz']}): status: {counts[0]} hours logged stale,"
              f" a refresh sums {counts[1]}; variants: {counts[2]} hours logged stale")  # fmt: skip
        for read, pair in reads.items():
            took: dict[str, list[float]] = {side: [] for side in pair}
            answers: dict[str, set[str]] = {side: set() for side in pair}
            for n in range(rounds):
                for side in list(pair) if n % 2 == 0 else list(reversed(pair)):
                    for _ in range(calls):
                        seconds, md5 = timed(conn, pair[side], args)
                        took[side].append(seconds)
                        answers[side].add(md5)
            print_sides(read, 8, took, answers)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--now")
    parser.add_argument("--ref", default="HEAD")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--calls", type=int, default=3)
    args = parser.parse_args()
    main(args.dsn, args.now, args.ref, args.rounds, args.calls)
