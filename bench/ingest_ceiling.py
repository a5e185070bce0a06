"""`bench/webhook_ingest.py`: the database's own rate of committed webhook-sized writes.

What a group commit could reach, in the same run as the app: `concurrency` connections each
insert one row (the status-update fixture's body as jsonb, a unique key, as webhook_events
stores it) and commit, one request's write at a time; then the same rows written
`concurrency` per statement and commit (the shape of a shared transaction for the requests
in flight). A scratch table on the bench database, dropped afterwards: no trigger, no
function, no index but the key's, so both are upper bounds for the app's store path.
"""

from __future__ import annotations

import asyncio
import time

import psycopg

TABLE = "bench_ingest_ceiling"


async def committed_rates(
    dsn: str, payload: str, rows: int, concurrency: int
) -> tuple[float, float]:
    """(rows/s one row per commit over `concurrency` connections, rows/s `concurrency` rows
    per commit over one connection); `payload`: a webhook body (JSON text)."""
    connect = psycopg.AsyncConnection.connect
    conns = [await connect(dsn, autocommit=True) for _ in range(concurrency)]
    try:
        await conns[0].execute(
            f"create table {TABLE} (id bigserial primary key, k text unique, payload jsonb)"
        )
        keys = iter(range(rows))

        async def one_per_commit(conn: psycopg.AsyncConnection[object]) -> None:
            for n in keys:
                await conn.execute(
                    f"insert into {TABLE} (k, payload) values (%s, %s::jsonb)", (f"a{n}", payload)
                )

        started = time.perf_counter()
        await asyncio.gather(*(one_per_commit(c) for c in conns))
        single = rows / (time.perf_counter() - started)
        started = time.perf_counter()
        for first in range(0, rows, concurrency):
            group = [f"b{n}" for n in range(first, min(rows, first + concurrency))]
            await conns[0].execute(
                f"insert into {TABLE} (k, payload) select k, %s::jsonb from unnest(%s::text[]) k",
                (payload, group),
            )
        grouped = rows / (time.perf_counter() - started)
        await conns[0].execute(f"drop table {TABLE}")
        return single, grouped
    finally:
        for conn in conns:
            await conn.close()
