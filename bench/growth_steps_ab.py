"""growth's variants, quality and training reads: a git ref's SQL against this tree's.

On a kept simulation database (bench/history_reads.py `keep`), at `--now` (default: its
last status refresh + 1 hour, so one more hour has closed, as at the next hourly run), in
alternating rounds on one connection, each call inside its own transaction, rolled back:
the side first installs its own `internal.variant_arms`, `quality_weekly`,
`quality_pending` and `training_calls` (the ref's with `git show`, the tree's from
supabase/schemas) and has `calls_talked_ended_idx` and `calls_ended_idx` (06_scoring.sql)
or not (untimed), then times one read:

- variants: `variant_stats(90, 1, now)` as growth's variants step calls it in a simulation
  (the hour that closed summed and kept, then the kept hours with the open hour and the
  window's first partial hour read from the rows: `internal.variant_arms`);
- quality week: `quality_weekly(60, now)` (growth's quality step, the digest, the page);
- training: `training_calls(now - 90 days, now, tz, 5000)` (growth's training step);
- quality pending: `quality_pending(500, now)` (growth's quality step: the calls to score).

Each read's answer must be the same on both sides (an md5 of its rows, printed).

    .venv/bin/python bench/growth_steps_ab.py --dsn "host=DIR user=postgres dbname=..." \
        [--now "2026-12-28 05:10+00"] [--ref HEAD] [--rounds 8]

Not a test: it prints measured figures (bench/RESULTS.md, "Simulator").
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import psycopg

sys.path[:0] = [str(Path(__file__).parent)]
from status_rollup_ab import print_sides  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
INDEXES = ("calls_talked_ended_idx", "calls_ended_idx")
FUNCTIONS = {
    "06_scoring.sql": ("internal.variant_arms", "quality_weekly", "quality_pending"),
    "12_agents.sql": ("training_calls",),
}
READS = {
    "variants": "select md5(string_agg(v::text, '|' order by v.step_id, v.variant, v.channel,"
    " v.campaign_id)) from variant_stats(90, 1, %(now)s) v",
    "quality week": "select md5(q::text) from quality_weekly(60, %(now)s) q",
    "training": "select md5(string_agg(t::text, '|')) from training_calls("
    "%(now)s::timestamptz - interval '90 days', %(now)s, %(tz)s, 5000) t",
    "quality pending": "select md5(string_agg(p::text, '|')) from quality_pending(500, %(now)s) p",
}


def schema(ref: str | None, name: str) -> str:
    if ref is None:
        return (ROOT / "supabase/schemas" / name).read_text()
    return subprocess.run(["git", "show", f"{ref}:supabase/schemas/{name}"], cwd=ROOT,
                          check=True, capture_output=True, text=True).stdout  # fmt: skip


def statement(text: str, header: str, end: str) -> str:
    start = text.index(header)
    return text[start : text.index(end, start) + len(end)]


def side_sql(ref: str | None) -> list[str]:
    """The statements that make a side: its functions, the index there or not."""
    out = [f"drop index if exists {index}" for index in INDEXES]
    for name, functions in FUNCTIONS.items():
        text = schema(ref, name)
        for index in INDEXES:
            if name == "06_scoring.sql" and f"create index {index} " in text:
                out.append(statement(text, f"create index {index} ", ";"))
        out += [statement(text, f"create or replace function {f}(", "$$;") for f in functions]
    return [*out, "analyze calls"]


def timed(conn: psycopg.Connection, setup: list[str], read: str, args: dict[str, object]
          ) -> tuple[float, str]:  # fmt: skip
    """Seconds of one read after its side's setup, in a transaction rolled back."""
    for sql in setup:
        conn.execute(sql)  # statements of the schema files
    started = time.perf_counter()
    row = conn.execute(read, args).fetchone()
    took = time.perf_counter() - started
    conn.rollback()
    assert row is not None
    return took, str(row[0])


def main(dsn: str, now: str | None, ref: str, rounds: int) -> None:
    sides = {"ref": side_sql(ref), "tree": side_sql(None)}
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "select tz, (computed_at + interval '1 hour')::text, (select count(*) from calls),"
            " (select count(*) from messages) from status_cache order by computed_at desc"
            " limit 1"
        ).fetchone()
        conn.rollback()
        assert row is not None, "no refresh cached: not a kept simulation database"
        args: dict[str, object] = {"tz": row[0], "now": now or row[1]}
        print(f"now {args['now']} ({args['tz']}): {row[2]} calls, {row[3]} messages")
        for name, read in READS.items():
            took: dict[str, list[float]] = {side: [] for side in sides}
            answers: dict[str, set[str]] = {side: set() for side in sides}
            for n in range(rounds):
                for side in list(sides) if n % 2 == 0 else list(reversed(sides)):
                    seconds, md5 = timed(conn, sides[side], read, args)
                    took[side].append(seconds)
                    answers[side].add(md5)
            print_sides(name, 15, took, answers)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--now")
    parser.add_argument("--ref", default="HEAD")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    main(args.dsn, args.now, args.ref, args.rounds)
