"""The drip's writes with the indexes before and after migration 20261208140000, one process.

The migration left two indexes out of the rows every drip step writes: enrollments' lead
index (the unique key now leads with the lead) and messages' (campaign_id, created_at). No
function changed, so the two sides are two databases on one server: this tree's schema, and
the same with the stop-24 indexes put back ("before"). Each is seeded as bench/dispatch.py
seeds (10,000 leads, 10,000 due) and runs the drip once (10,000 texts sent today). Then in
alternating rounds, each side, through the repositories production uses:

- claim + settle: every due step claimed and settled 500 at a time (the steps due again
  first), as bench/drip_sql_ab.py;
- write + record: 500 texts written already claimed (`enqueue_outbox` with its first
  chunk), then recorded sent (`record_messages_sent`), committed (messages grows as in a run).

Beside the seconds, the WAL each part wrote (the server's insert position before and after:
the sides take turns), which the host's load does not move: a row version or an index entry
less is WAL less.

Medians and the per-round ratio after/before are printed.

    .venv/bin/python bench/dispatch_index_ab.py [--rounds 6]

Not a test: it prints measured figures (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from typing import Any

import psycopg
from dispatch import CAMPAIGN, NOW, SEED, ShiftedClock, admin, deployment, twilio_stand_in
from drip_sql_ab import BATCH, DUE, claim_settle
from psycopg import conninfo, sql

from app.campaigns import drip
from app.campaigns.definition import load_campaign_yaml
from app.core import logs
from app.db.campaigns import CampaignRepository
from app.db.embedded import start_embedded
from app.db.migrate import migrate
from app.db.outbox import OutboxRepository
from app.db.transport import PostgresTransport
from app.jobs.bootstrap import Overrides, bootstrap
from app.jobs.drip import drip_deps

BEFORE = """
alter table enrollments add constraint enrollments_campaign_id_lead_id_key
  unique (campaign_id, lead_id);
alter table enrollments drop constraint enrollments_lead_id_campaign_id_key;
create index enrollments_lead_idx on enrollments (lead_id);
create index messages_campaign_day_idx on messages (campaign_id, created_at)
"""


class Side:
    """One database: its transport, repositories and the 500 leads the writes go to."""

    def __init__(self, dsn: str, transport: PostgresTransport, campaign: int) -> None:
        self.dsn, self.transport, self.campaign = dsn, transport, campaign
        self.campaigns = CampaignRepository(transport)
        self.outbox = OutboxRepository(transport)
        with psycopg.connect(dsn) as conn:
            self.leads = conn.execute(
                "select l.id, l.phone, e.id from leads l join enrollments e on e.lead_id = l.id"
                " order by l.id limit %s",
                (BATCH,),
            ).fetchall()


async def prepare(base: str, name: str, before: bool) -> Side:
    """A seeded database after one drip run; `before`: the stop-24 indexes put back."""
    admin(base, sql.SQL("create database {}").format(sql.Identifier(name)))
    dsn = conninfo.make_conninfo(base, dbname=name)
    migrate(dsn)
    if before:
        with psycopg.connect(dsn, autocommit=True) as conn:
            for statement in BEFORE.split(";"):
                conn.execute(statement.encode())
    transport = await PostgresTransport(dsn, max_size=2).open()
    overrides = Overrides(clock=ShiftedClock(NOW), transport=transport)
    async with bootstrap(deployment(100_000.0), overrides) as ctx:
        saved = await ctx.repos.campaigns.upsert(load_campaign_yaml(CAMPAIGN).to_row(), NOW)
        params = {"n": DUE, "due": DUE, "campaign": saved.campaign_id, "now": NOW}
        with psycopg.connect(dsn, autocommit=True) as conn:
            for statement in SEED.split(";"):
                if statement.strip():
                    conn.execute(statement.encode(), params)
        with twilio_stand_in():
            await drip.run(drip_deps(ctx))  # 10,000 texts sent today, as in a run
    return Side(dsn, transport, saved.campaign_id)


async def write_record(side: Side, tag: str) -> float:
    """Seconds to write 500 texts already claimed, then record them sent."""
    items: list[dict[str, Any]] = [
        {"idempotency_key": f"ab:{tag}:{lead}", "channel": "sms", "provider": "twilio",
         "to_address": phone, "lead_id": lead, "enrollment_id": enrollment,
         "campaign_id": side.campaign,
         "payload": {"body": "Hi Lead, Demo Heating & Air here. Reply STOP to opt out.",
                     "send_before": "2026-11-25T02:00:00+00:00"}}
        for lead, phone, enrollment in side.leads
    ]  # fmt: skip
    started = time.perf_counter()
    written = await side.campaigns.enqueue(items, NOW, {"sms": len(items)}, 600)
    sent = [{"id": w.id, "provider": "twilio", "provider_id": f"SM{tag}{w.id}", "request": None}
            for w in written.values()]  # fmt: skip
    assert await side.outbox.record_messages_sent(sent, NOW) == len(items)
    return time.perf_counter() - started


def wal_lsn(dsn: str, since: str | None = None, into: list[float] | None = None) -> str:
    """The server's WAL position now; with `since`, the bytes written since appended to
    `into` (the WAL is the server's: the two sides take turns, nothing else writes)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("select pg_current_wal_insert_lsn()::text").fetchone()
        assert row is not None
        if since is not None and into is not None:
            diff = conn.execute("select pg_wal_lsn_diff(%s::pg_lsn, %s::pg_lsn)", (row[0], since))
            into.append(float(diff.fetchone()[0]))  # type: ignore[index]
        return str(row[0])


async def main(rounds: int) -> None:
    logs.configure("WARNING")
    data_dir = tempfile.mkdtemp(prefix="nightshift-index-ab-")
    server = start_embedded(data_dir)
    base = server.get_uri()
    try:
        sides = {
            "before": await prepare(base, "ab_before", True),
            "after": await prepare(base, "ab_after", False),
        }
        figures: dict[str, dict[str, list[float]]] = {
            s: {"claim": [], "write": [], "claim_wal": [], "write_wal": []} for s in sides
        }
        for n in range(rounds):
            for name in ("before", "after") if n % 2 == 0 else ("after", "before"):
                side = sides[name]
                lsn = wal_lsn(side.dsn)
                figures[name]["claim"].append(await claim_settle(side.campaigns, side.dsn))
                lsn = wal_lsn(side.dsn, lsn, figures[name]["claim_wal"])
                figures[name]["write"].append(await write_record(side, str(n)))
                wal_lsn(side.dsn, lsn, figures[name]["write_wal"])
        for side in sides.values():
            await side.transport.close()
        parts = (("claim", f"claim + settle of {DUE:,} steps, s", 1),
                 ("claim_wal", f"claim + settle of {DUE:,} steps, WAL MB", 1e-6),
                 ("write", f"write + record of {BATCH} texts, ms", 1000),
                 ("write_wal", f"write + record of {BATCH} texts, WAL kB", 1e-3))  # fmt: skip
        for part, label, scale in parts:
            a, b = figures["before"][part], figures["after"][part]
            print(
                f"{label}: before median {statistics.median(a) * scale:.3f}, after"
                f" {statistics.median(b) * scale:.3f}; after/before per round"
                f" {' '.join(f'{y / x:.2f}' for x, y in zip(a, b, strict=True))}"
            )
    finally:
        server.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=6)
    asyncio.run(main(parser.parse_args().rounds))
