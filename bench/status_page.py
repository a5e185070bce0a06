"""`GET /status` latency with 100,000 leads (the issue's budget: under 300 ms).

Seeds a fresh database (embedded Postgres) with N leads (default 100,000) and a realistic
volume of activity over 30 days: 3 marketing messages per lead across 5 campaigns, 0.5 calls
per lead, 2,000 appointments, 40 firing alerts and a week of API probes; then requests the
page through the real app (token, snapshot function, HTML + SVG rendering) and prints the
latency (median, p95, max) of: the full request with the window aggregates cached (the
hourly growth job refreshes them); that refresh itself; and a snapshot
whose cache has expired (recomputed inside the request: the worst case).

    .venv/bin/python bench/status_page.py [--leads 100000] [--requests 30]

Not a test: it prints measured figures.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime

import httpx
import psycopg
from psycopg import conninfo, sql

from app.core import logs
from app.core.clock import ManualClock
from app.core.settings import Settings
from app.db.embedded import start_embedded
from app.db.migrate import migrate
from app.db.transport import PostgresTransport
from app.jobs.bootstrap import Overrides, bootstrap
from app.webhooks import create_app

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
TOKEN = "bench-token"

# Bench seeding only (the application never builds SQL): one statement per table.
SEED = """
insert into campaigns (slug, name) select 'c' || g, 'Campaign ' || g from generate_series(1, 5) g;
insert into leads (name, phone, state, timezone, status, created_at, last_contacted_at, score)
select 'Lead ' || g, '+1212' || lpad(g::text, 7, '0'), 'NY', 'America/New_York',
       (array['new','contacted','engaged','booked','lost'])[1 + g %% 5],
       %(now)s::timestamptz - make_interval(mins => g %% 43200),
       case when g %% 5 > 0 then %(now)s::timestamptz - make_interval(mins => g %% 20000) end,
       (g %% 100)::real
  from generate_series(1, %(n)s) g;
insert into messages (idempotency_key, lead_id, campaign_id, channel, provider, to_address,
                      status, error_code, created_at, sent_at)
select 'b' || g, 1 + g %% %(n)s, 1 + g %% 5, case when g %% 2 = 0 then 'sms' else 'email' end,
       'dryrun', 'x', (array['delivered','sent','bounced','complained','opened'])[1 + g %% 5],
       case when g %% 97 = 0 then '30007' end,
       %(now)s::timestamptz - make_interval(mins => g %% 43200),
       %(now)s::timestamptz - make_interval(mins => g %% 43200)
  from generate_series(1, %(n)s * 3) g;
insert into calls (idempotency_key, lead_id, to_number, status, outcome, created_at)
select 'c' || g, 1 + g %% %(n)s, '+12125550000', 'ended',
       (array['no_answer','answered','voicemail','booked'])[1 + g %% 4],
       %(now)s::timestamptz - make_interval(mins => g %% 43200)
  from generate_series(1, %(n)s / 2) g;
insert into appointments (lead_id, starts_at, ends_at, status, created_at)
select 1 + (g - 1) %% %(n)s, %(now)s::timestamptz + make_interval(hours => g %% 300),
       %(now)s::timestamptz + make_interval(hours => g %% 300 + 1), 'booked',
       %(now)s::timestamptz - make_interval(hours => g %% 300)
  from generate_series(1, 2000) g;
insert into alerts (key, severity, code, title)
select 'k' || g, 'warning', 'CODE' || g, 'alert ' || g from generate_series(1, 40) g;
insert into health_checks (target, ok, latency_ms, checked_at)
select (array['resend','twilio','vapi','database'])[1 + g %% 4], g %% 50 > 0, 50 + g %% 400,
       %(now)s::timestamptz - make_interval(mins => g * 5)
  from generate_series(1, 2016) g;
analyze
"""


def summary(label: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return (f"{label:<28} median {statistics.median(ordered):7.1f} ms   p95 {p95:7.1f} ms"
            f"   max {ordered[-1]:7.1f} ms")  # fmt: skip


async def measure(dsn: str, requests: int) -> None:
    settings = Settings(_env_file=None, status_token=TOKEN, log_level="WARNING")
    transport = await PostgresTransport(dsn, max_size=4).open()
    async with bootstrap(settings, Overrides(clock=ManualClock(NOW), transport=transport)) as ctx:
        app = create_app(ctx)
        auth = {"authorization": f"Bearer {TOKEN}"}
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="https://bench"
            ) as http,
        ):
            await http.get("/status", headers=auth)  # warm the pool and the caches
            page: list[float] = []
            refresh: list[float] = []
            cold: list[float] = []
            for _ in range(requests):
                started = time.perf_counter()
                response = await http.get("/status", headers=auth)
                page.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
                started = time.perf_counter()
                await ctx.repos.appointments.status_refresh("America/New_York", NOW)
                refresh.append((time.perf_counter() - started) * 1000)
            for _ in range(requests):  # cache older than its limit: recomputed in the request
                started = time.perf_counter()
                await ctx.repos.appointments.status_snapshot("America/New_York", NOW, 0)
                cold.append((time.perf_counter() - started) * 1000)
        print(summary("GET /status (full request)", page))
        print(summary("status_refresh() (growth)", refresh))
        print(summary("snapshot, cache expired", cold))
        print(f"page size {len(response.content):,} bytes")
    await transport.close()


async def main(leads: int, requests: int) -> None:
    logs.configure("WARNING")
    server = start_embedded(tempfile.mkdtemp(prefix="nightshift-bench-status-"))
    base = server.get_uri()
    try:
        name = "bench_status"
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        dsn = conninfo.make_conninfo(base, dbname=name)
        migrate(dsn)
        started = time.perf_counter()
        with psycopg.connect(dsn, autocommit=True) as conn:
            for statement in SEED.split(";"):
                if statement.strip():
                    conn.execute(statement.encode(), {"n": leads, "now": NOW})
        print(f"seeded {leads:,} leads, {leads * 3:,} messages, {leads // 2:,} calls "
              f"in {time.perf_counter() - started:.1f} s; {requests} requests")  # fmt: skip
        await measure(dsn, requests)
    finally:
        server.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(main(args.leads, args.requests))
