"""The outbox's write path (mark_sending, claim_messages, record_messages_sent; and
enqueue_outbox in `days`): a git ref's text against this tree's, on a kept database; and
their server-side ms a call per virtual day of a simulation.

`ab`: the ref's functions (read with `git show`) and this tree's (from supabase/schemas/) are
installed beside each other as `<name>_ref` / `<name>_tree` and called in alternating
shuffled turns on one connection, each call in a savepoint rolled back: the newest sends at
`--now` put back to 'sending' (as the sender holds them between its claim and its send),
then per side the last-moment check (`mark_sending`) of one row and of `--batch` rows, the
claim (`claim_messages`) of one row, and the record of the provider's acceptance
(`record_messages_sent`) of one row and of the batch. Prints each side's median ms, tree/ref
and whether both sides returned the same rows. The copies are dropped at the end.

`days`: a simulation (this tree; `--without VERSION`: one migration left out, its before)
to the end of day `--stop`, its server run with track_functions = 'all': per virtual day,
the calls and server ms a call of each function (its self time: nested calls and triggers
excluded) from pg_stat_user_functions.

    .venv/bin/python bench/outbox_writes_ab.py ab --dsn "host=DIR user=postgres dbname=..." \
        --now "2026-12-28 05:00+00" [--ref HEAD] [--rounds 6] [--calls 10] [--batch 20]
    .venv/bin/python bench/outbox_writes_ab.py days --dir DIR [--stop 7] [--leads 10000] \
        [--days 30] [--without 20261210230000]

Not a test: it prints measured figures (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from app.core.clock import ManualClock
from app.db import migrate
from app.simulate.engine import START, SimConfig, simulate

sys.path[:0] = [str(Path(__file__).parent)]
import history_reads  # noqa: E402
from sql_ab import ref_functions, tree_functions  # noqa: E402

SCHEMA = "supabase/schemas/03_outbox.sql"
FUNCTIONS = ("mark_sending", "claim_messages", "record_messages_sent")
SIDES = ("ref", "tree")
WATCHED = ("enqueue_outbox", "mark_sending", "claim_messages", "record_messages_sent")


def calls(ids: list[int], now: str) -> dict[str, tuple[str, tuple[Any, ...]]]:
    """The timed calls (name -> query with `{side}`, arguments)."""
    one = ids[:1]
    sent = [{"id": i, "provider": "twilio", "provider_id": f"SMbench{i}"} for i in ids]
    return {
        "mark_sending 1": ("select * from mark_sending_{side}(%s, %s)", (one, now)),
        f"mark_sending {len(ids)}": ("select * from mark_sending_{side}(%s, %s)", (ids, now)),
        "claim_messages 1": ("select * from claim_messages_{side}(%s, 600, %s)", (one, now)),
        "record_messages_sent 1": (
            "select record_messages_sent_{side}(%s, %s)", (Jsonb(sent[:1]), now)
        ),
        f"record_messages_sent {len(ids)}": (
            "select record_messages_sent_{side}(%s, %s)", (Jsonb(sent), now)
        ),
    }  # fmt: skip


def ab(dsn: str, now: str, ref: str, rounds: int, per_turn: int, batch: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(ref_functions(ref, SCHEMA, {name: f"{name}_ref" for name in FUNCTIONS}))
        admin.execute(tree_functions(SCHEMA, {name: f"{name}_tree" for name in FUNCTIONS}))
    try:
        took: dict[tuple[str, str], list[float]] = {}
        last: dict[tuple[str, str], Any] = {}
        rng = random.Random(7)
        with psycopg.connect(dsn) as conn:
            ids = [r[0] for r in conn.execute(
                "select id from messages where sent_at is not null and sent_at <= %s"
                " order by sent_at desc, id desc limit %s", (now, batch)).fetchall()]  # fmt: skip
            # the sender's view: claimed, not yet sent (rolled back at the end)
            conn.execute(
                "update messages set status = 'sending', sent_at = null, provider_id = null"
                " where id = any (%s)",
                (ids,),
            )
            timed = calls(ids, now)
            for _ in range(rounds):
                for side in rng.sample(SIDES, len(SIDES)):
                    for name, (query, args) in timed.items():
                        for _ in range(per_turn):
                            conn.execute("savepoint turn")
                            started = time.perf_counter()
                            rows = conn.execute(query.format(side=side), args).fetchall()
                            took.setdefault((name, side), []).append(time.perf_counter() - started)
                            last[name, side] = sorted(map(str, rows))
                            conn.execute("rollback to savepoint turn")
            conn.rollback()
        for name in timed:
            ref_ms, tree_ms = (1000 * statistics.median(took[name, side]) for side in SIDES)
            print(f"{now} {name:24s} ref {ref_ms:6.3f} ms  tree {tree_ms:6.3f}  tree/ref "
                  f"{tree_ms / ref_ms:.2f}  same rows: {last[name, 'ref'] == last[name, 'tree']}",
                  flush=True)  # fmt: skip
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            for name in FUNCTIONS:
                for side in SIDES:
                    admin.execute(f"drop function if exists {name}_{side}")


def days(
    directory: str, leads: int, month: float, stop: float, seed: int, without: str | None
) -> None:
    """A `month`-day simulation stopped at the end of day `stop` (its leads those of the
    whole month) on its own server (track_functions = 'all')."""
    os.environ["PGOPTIONS"] = "-c track_functions=all"  # every connection the run makes
    import pgserver

    server = pgserver.get_server(directory, cleanup_mode="stop")  # type: ignore[attr-defined]
    admin_dsn = str(server.get_uri())
    seen: dict[str, tuple[int, float]] = {}
    advance, state = ManualClock.advance, {"day": 0}

    def totals() -> dict[str, tuple[int, float]]:
        out: dict[str, tuple[int, float]] = {}
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            names = [
                r[0]
                for r in admin.execute(
                    "select datname from pg_database where datname like 'sim_%'"
                ).fetchall()
            ]
        for name in names:
            with psycopg.connect(admin_dsn, dbname=name, autocommit=True) as conn:
                for func, n, self_ms in conn.execute(
                    "select funcname, calls, self_time from pg_stat_user_functions"
                    " where funcname = any (%s)", (list(WATCHED),)).fetchall():  # fmt: skip
                    count, total = out.get(func, (0, 0.0))
                    out[func] = count + n, total + self_ms
        return out

    def advanced(self: ManualClock, delta: timedelta) -> datetime:
        moved = advance(self, delta)
        day = int((self.now() - START).total_seconds() // 86400)
        if day != state["day"]:
            state["day"] = day
            now = totals()
            shown = []
            for func in WATCHED:
                n, ms = now.get(func, (0, 0.0))
                n0, ms0 = seen.get(func, (0, 0.0))
                shown.append(f"{func} {n - n0}x {(ms - ms0) / max(n - n0, 1):.3f}")
            seen.update(now)
            print(f"day {day}: " + ", ".join(shown) + " (server self ms a call)", flush=True)
        return moved

    discover = migrate.discover
    migrate.discover = lambda directory=migrate.MIGRATIONS_DIR: [
        m for m in discover(directory) if m.version != without
    ]
    ManualClock.advance = advanced  # type: ignore[method-assign]
    history_reads._stop_at(stop)
    asyncio.run(simulate(SimConfig(leads, month, seed, admin_dsn=admin_dsn)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=("ab", "days"))
    parser.add_argument("--dsn", help="ab: a database kept by history_reads.py keep")
    parser.add_argument("--now", default="2026-12-28 05:00+00", help="ab: a virtual instant")
    parser.add_argument("--ref", default="HEAD")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--calls", type=int, default=10, help="calls a side a turn")
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--dir", help="days: the embedded server's directory")
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--stop", type=float, default=7)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--without", help="days: a migration left out (its before)")
    args = parser.parse_args()
    if args.what == "ab":
        ab(args.dsn, args.now, args.ref, args.rounds, args.calls, args.batch)
    else:
        days(args.dir, args.leads, args.days, args.stop, args.seed, args.without)
