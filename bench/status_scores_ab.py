"""The status page's hourly refresh: lead scores kept as change rows, against a count over
every lead.

On a kept simulation database with this tree's migrations applied (the status_score_counts
rows and triggers), in its cache's time zone at `--now` (default: its last refresh + 1 hour,
as growth's next status step), alternating rounds on one connection, each call inside a
transaction rolled back (every round starts from the same state). The "before" side is a
copy made once per session in pg_temp (so its plans are cached as the real function's are,
not compiled again each round):

- head: the ref's `status_refresh` and `internal.status_rolled` (from `git show`: the scores
  counted over every lead);
- tree: this tree's `status_refresh` (the scores summed from status_score_counts).

Each side's answer (the cached value's md5) is printed: they must be the same. Runs
leave dead rows in leads (the rolled-back rescores): vacuum the copy before a run. Then what the
triggers add to scoring_apply's writes: 500 scored leads' scores moved by 0.5 (nullness
unchanged, so the WHEN clauses queue nothing), with the status_scores triggers disabled
(head) or not (tree).

    .venv/bin/python bench/status_scores_ab.py --dsn "host=DIR user=postgres dbname=..." \
        [--now "2026-12-28 05:10+00"] [--ref HEAD] [--rounds 10]

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
TRIGGERS = (
    "leads_status_scores_insert",
    "leads_status_scores_update",
    "leads_status_scores_delete",
)
RESCORE = (
    "update leads l set score = case when l.score >= 50 then l.score - 0.5 else l.score + 0.5"
    " end from (select id from leads where score is not null order by id limit 500) x"
    " where l.id = x.id"
)
REFRESH = "select status_refresh(%(tz)s, %(now)s)"
ANSWER = "select md5(value::text) from status_cache where tz = %(tz)s"


def ref_copies(ref: str) -> list[str]:
    """pg_temp copies of the ref's `internal.status_rolled` and `status_refresh`, the copy
    of `status_refresh` calling the copy of `internal.status_rolled`."""
    text = subprocess.run(["git", "show", f"{ref}:supabase/schemas/07_appointments.sql"],
                          cwd=ROOT, check=True, capture_output=True, text=True).stdout  # fmt: skip

    def statement(name: str) -> str:
        start = text.index(f"create or replace function {name}(")
        return text[start : text.index("\n$$;\n", start) + 4]

    rolled, refresh = statement("internal.status_rolled"), statement("status_refresh")
    return [
        rolled.replace("function internal.status_rolled(", "function pg_temp.head_rolled("),
        refresh.replace("function status_refresh(", "function pg_temp.head_refresh(").replace(
            "internal.status_rolled(", "pg_temp.head_rolled("
        ),
    ]


def timed(conn: psycopg.Connection, setup: list[str], call: str, args: dict[str, object],
          answer: str | None) -> tuple[float, str]:  # fmt: skip
    """Seconds of one call in its own transaction (rolled back) and its answer's md5."""
    for statement in setup:
        conn.execute(statement)
    started = time.perf_counter()
    conn.execute(call, args)
    took = time.perf_counter() - started
    row = conn.execute(answer, args).fetchone() if answer else ("-",)
    conn.rollback()
    assert row is not None
    return took, str(row[0])


def main(dsn: str, now: str | None, ref: str, rounds: int) -> None:
    off = [f"alter table leads disable trigger {t}" for t in TRIGGERS]
    pairs: dict[str, dict[str, tuple[list[str], str, str | None]]] = {
        "refresh": {
            "head": ([], "select pg_temp.head_refresh(%(tz)s, %(now)s)", ANSWER),
            "tree": ([], REFRESH, ANSWER),
        },
        "rescore x500": {"head": (off, RESCORE, None), "tree": ([], RESCORE, None)},
    }
    with psycopg.connect(dsn) as conn:
        for statement in ref_copies(ref):
            conn.execute(statement)
        conn.commit()
        row = conn.execute(
            "select tz, (computed_at + interval '1 hour')::text from status_cache"
            " order by computed_at desc limit 1"
        ).fetchone()
        assert row is not None, "no refresh cached: not a kept simulation database"
        args: dict[str, object] = {"tz": row[0], "now": now or row[1]}
        counts = conn.execute(
            "select (select count(*) from leads), (select count(score) from leads),"
            " (select sum(scored) from status_score_counts)"
        ).fetchone()
        conn.rollback()
        print(f"now {args['now']} ({args['tz']}): leads, scored, kept scored: {counts}")
        for name, pair in pairs.items():
            took: dict[str, list[float]] = {side: [] for side in pair}
            answers: dict[str, set[str]] = {side: set() for side in pair}
            for n in range(rounds):
                for side in list(pair) if n % 2 == 0 else list(reversed(pair)):
                    setup, call, answer = pair[side]
                    seconds, md5 = timed(conn, setup, call, args, answer)
                    took[side].append(seconds)
                    answers[side].add(md5)
            for side in pair:
                median, least = statistics.median(took[side]), min(took[side])
                print(f"{name:13s} {side:6s} median {1000 * median:7.2f} ms"
                      f"  min {1000 * least:7.2f}  answer {sorted(answers[side])}")  # fmt: skip
            every = set().union(*answers.values())
            print(f"{name}: same answer every side: {len(every) == 1}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--now", default=None)
    parser.add_argument("--ref", default="HEAD")
    parser.add_argument("--rounds", type=int, default=10)
    a = parser.parse_args()
    main(a.dsn, a.now, a.ref, a.rounds)
