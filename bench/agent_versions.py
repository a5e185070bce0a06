"""What a call placement pays to choose an assistant version (docs/agents.md "Limit").

Seeds a fresh database (embedded Postgres) with one agent on trial (a current and a
candidate version) and N reported calls per version (a tenth answered, a hundredth booked,
half of the answered ones scored), then times the one read each placement makes,
`agent_live_versions` (through the app's transport), and the same read without a candidate.

    .venv/bin/python bench/agent_versions.py [--calls 1000,25000] [--reads 50]

Not a test: it prints measured figures.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime

import psycopg
from psycopg import conninfo, sql

from app.core import logs
from app.db.embedded import start_embedded
from app.db.migrate import migrate
from app.db.transport import PostgresTransport

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)

# Bench seeding only (the application never builds SQL).
VERSIONS = """
insert into agent_versions (agent, version, content_hash, vapi_assistant_id, definition,
                            pushed_at, role)
values ('sarah', 1, 'h1', 'asst-1', '{}', %(now)s, 'current'),
       ('sarah', 2, 'h2', 'asst-2', '{}', %(now)s, 'candidate')
"""
CALLS = """
insert into calls (idempotency_key, to_number, status, outcome, agent, agent_version,
                   report_received_at, created_at)
select 'k' || %(start)s + g, '+12125550000', 'ended',
       case when g %% 100 = 0 then 'booked' when g %% 10 = 0 then 'answered'
            else 'no_answer' end,
       'sarah', 1 + g %% 2, %(now)s, %(now)s
  from generate_series(1, %(n)s) g
"""
QUALITY = """
insert into call_quality (call_id, score, scored_at)
select id, 60, %(now)s from calls where outcome in ('answered', 'booked') and id %% 2 = 0
    on conflict do nothing
"""


async def timed_reads(dsn: str, reads: int) -> list[float]:
    transport = await PostgresTransport(dsn, max_size=2).open()
    try:
        args = {"p_agent": "sarah", "p_campaign": None}
        await transport.call("agent_live_versions", args)  # warm the plan and the cache
        out = []
        for _ in range(reads):
            started = time.perf_counter()
            await transport.call("agent_live_versions", args)
            out.append((time.perf_counter() - started) * 1000)
        return out
    finally:
        await transport.close()


def line(label: str, ms: list[float]) -> str:
    p95 = sorted(ms)[int(0.95 * (len(ms) - 1))]
    return f"{label:<44} median {statistics.median(ms):7.2f} ms  p95 {p95:7.2f} ms"


async def main(sizes: list[int], reads: int) -> None:
    logs.configure("WARNING")
    server = start_embedded(tempfile.mkdtemp(prefix="nightshift-bench-agents-"))
    base = server.get_uri()
    try:
        name = "bench_agents"
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        dsn = conninfo.make_conninfo(base, dbname=name)
        migrate(dsn)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(VERSIONS.encode(), {"now": NOW})
        seeded = 0
        for per_version in sorted(sizes):
            with psycopg.connect(dsn, autocommit=True) as conn:
                add = 2 * per_version - seeded
                conn.execute(CALLS.encode(), {"start": seeded, "n": add, "now": NOW})
                conn.execute(QUALITY.encode(), {"now": NOW})
                conn.execute("analyze calls; analyze call_quality")
            seeded += add
            label = f"trial, {per_version:,} reported calls per version"
            print(line(label, await timed_reads(dsn, reads)), flush=True)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("update agent_versions set role = 'retired' where version = 2")
        label = f"no candidate ({seeded:,} calls stored)"
        print(line(label, await timed_reads(dsn, reads)))
    finally:
        server.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", default="1000,25000", help="reported calls per version")
    parser.add_argument("--reads", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main([int(n) for n in args.calls.split(",")], args.reads))
