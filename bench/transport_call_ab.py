"""What PostgresTransport.call adds to a round trip: the tree's call against the call it
replaced (copied below as the "before"), in interleaved rounds on one scratch database.

    .venv/bin/python bench/transport_call_ab.py --calls 2000 --rounds 6

Each side has its own pool on the same embedded server (one connection used at a time, as
the simulator's jobs do). Cases: a void function (`[{fn: None}]`), a one-row and a 50-row
table function, and `mixed` (the three in turn, as a pooled connection serves different
functions one after another; the same function in a row lets psycopg keep the cursor's
transformer, which the one-function cases flatter). Prints the median
wall and this process's CPU per call of each side, and the month's saving at the one-row
and the mixed CPU difference over `--month-calls` calls (194,836 in stop 26's 30-day
profile, `bench/sim_profile.py --leads 10000 --days 30 --seed 7`).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from app.db.embedded import start_embedded
from app.db.errors import DatabaseUnavailable, translate
from app.db.transport import PostgresTransport, Row, _adapt, _configure, _message, call_text

FUNCTIONS = """
create function bench_void(p_lead uuid, p_note text, p_at timestamptz, p_meta jsonb)
returns void language sql as $$ select $$;
create function bench_one(p_lead uuid, p_note text, p_at timestamptz, p_meta jsonb)
returns table(id uuid, note text, at timestamptz, n bigint, ok boolean, meta jsonb)
language sql as $$ select p_lead, p_note, p_at, 7::bigint, true, p_meta $$;
create function bench_fifty(p_lead uuid, p_note text, p_at timestamptz, p_meta jsonb)
returns table(id uuid, note text, at timestamptz, n bigint, ok boolean, meta jsonb)
language sql as $$
  select p_lead, p_note || g, p_at + g * interval '1 minute', g::bigint, g % 2 = 0, p_meta
  from generate_series(1, 50) g
$$;
"""
CASES = {
    "void": ["bench_void"],
    "one-row": ["bench_one"],
    "50-row": ["bench_fifty"],
    "mixed": ["bench_void", "bench_one", "bench_fifty"],
}
Call = Callable[[str, Mapping[str, Any]], Awaitable[list[Row]]]


class BeforeCall:
    """PostgresTransport.call as it was at c5d503a: `pool.connection()`, a new cursor with
    `dict_row` per call, `cursor.description` checked."""

    def __init__(self, dsn: str) -> None:
        self._pool = AsyncConnectionPool(
            dsn,
            min_size=1,
            max_size=10,
            open=False,
            timeout=30.0,
            kwargs={"autocommit": True, "prepare_threshold": None, "connect_timeout": 2},
            configure=_configure,
        )

    async def call(self, function: str, args: Mapping[str, Any] | None = None) -> list[Row]:
        args = dict(args or {})
        query = call_text(function, tuple(args))
        params = {k: _adapt(v) for k, v in args.items()}
        try:
            async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(query, params)
                return list(await cur.fetchall()) if cur.description else []
        except psycopg.OperationalError as exc:
            if exc.sqlstate is None:
                raise DatabaseUnavailable(_message(exc), function=function) from exc
            raise translate(exc.sqlstate, _message(exc), function) from exc
        except psycopg.Error as exc:
            raise translate(exc.sqlstate, _message(exc), function) from exc
        except Exception as exc:
            if exc.__class__.__module__.startswith("psycopg_pool"):
                raise DatabaseUnavailable(str(exc), function=function) from exc
            raise


def arguments() -> dict[str, Any]:
    return {
        "p_lead": uuid.UUID("5f0c6a52-6c1e-4f57-9a57-1b8f1d0c2a11"),
        "p_note": "Reply STOP to opt out",
        "p_at": "2026-12-07T05:00:00+00:00",
        "p_meta": {"channel": "sms", "step": 3, "tags": ["drip", "day-2"]},
    }


async def timed(call: Call, functions: list[str], calls: int) -> tuple[float, float]:
    """(wall us, CPU us) per call over `calls` calls cycling through `functions`."""
    args = arguments()
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(calls):
        await call(functions[i % len(functions)], args)
    n = calls
    return (time.perf_counter() - wall) / n * 1e6, (time.process_time() - cpu) / n * 1e6


async def run(dsn: str, calls: int, rounds: int, month_calls: int) -> None:
    before = BeforeCall(dsn)
    await before._pool.open(wait=True)
    after = await PostgresTransport(dsn).open()
    sides: dict[str, Call] = {"before": before.call, "after": after.call}
    args = arguments()
    for function in CASES["mixed"]:  # the same rows either way
        assert await before.call(function, args) == await after.call(function, args), function
    for call in sides.values():  # warm both pools and caches
        await timed(call, CASES["mixed"], 300)
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for r in range(rounds):
        for case, functions in CASES.items():
            order = ["before", "after"] if r % 2 == 0 else ["after", "before"]
            for side in order:
                results.setdefault((case, side), []).append(
                    await timed(sides[side], functions, calls)
                )
    await before._pool.close()
    await after.close()
    print(f"{calls} calls x {rounds} rounds a side and case; medians per call (us)")
    print(f"{'case':8s} {'before wall':>11s} {'after wall':>10s} {'before CPU':>10s} "
          f"{'after CPU':>9s} {'CPU saved':>9s} {'after/before CPU':>16s}")  # fmt: skip
    saved: dict[str, float] = {}
    for case in CASES:
        bw, bc = (statistics.median(x[i] for x in results[case, "before"]) for i in (0, 1))
        aw, ac = (statistics.median(x[i] for x in results[case, "after"]) for i in (0, 1))
        saved[case] = bc - ac
        print(f"{case:8s} {bw:11.1f} {aw:10.1f} {bc:10.1f} {ac:9.1f} {bc - ac:9.1f} "
              f"{ac / bc:16.2f}")  # fmt: skip
    for case in ("one-row", "mixed"):
        print(f"month: {month_calls} calls x {saved[case]:.1f} us ({case}) = "
              f"{month_calls * saved[case] / 1e6:.1f} s of CPU")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--month-calls", type=int, default=194_836)
    options = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="transport_ab"))
    server = start_embedded(scratch / "pg")
    try:
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            conn.execute(FUNCTIONS)
        asyncio.run(run(server.get_uri(), options.calls, options.rounds, options.month_calls))
    finally:
        server.cleanup()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
