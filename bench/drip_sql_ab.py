"""The drip's claim and outbox write, a git ref's SQL against this tree's, in one process.

This machine's load moves by a third within minutes, so a change to the drip's statements is
judged by running the old and the new functions side by side on one database, in
alternating rounds. The ref's `claim_due_steps` and `enqueue_outbox` (read with `git show`,
nothing in the repository changes) are installed beside this tree's under other names
(`claim_due_steps_ref`, `enqueue_outbox_ref`), on bench/dispatch.py's seed (10,000 leads,
10,000 due, one drip run done first: 10,000 texts sent today). Per round, each side:

- claim + settle: every due step claimed and settled 500 at a time through the repository
  (as `dispatch.py --peer`), the steps due again before each side;
- write + claim: 500 texts written and claimed for sending through the repositories: the
  ref's write, then `claim_messages` (two calls), against this tree's write claiming them
  (`enqueue_outbox`'s `p_claim`, one call), committed (messages grows as in a run).

- the claim call alone: one `claim_due_steps` of 500 steps, SQL only (no parsing), rolled
  back, 5 calls a round, the steps due.

Medians and the per-round ratio tree/ref are printed.

--empty: instead, an empty claim (nothing due: the state after that drip run, every next step
two days away), `claim_due_steps` alone, ms a call (50 calls a round, one connection): most
drip runs of a day claim nothing, and every run ends on a claim that comes back short. With
--dsn and --now, on that database at that instant instead (a simulated database kept by
bench/history_reads.py keep; the ref's function installed for the rounds, then dropped).

    .venv/bin/python bench/drip_sql_ab.py [--ref HEAD] [--rounds 6] [--empty [--dsn DSN --now T]]

Not a test: it prints measured figures (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from dispatch import CAMPAIGN, NOW, SEED, ShiftedClock, deployment, twilio_stand_in

from app.campaigns import drip
from app.campaigns.definition import load_campaign_yaml
from app.core import logs
from app.db.campaigns import CampaignRepository, StepResult
from app.db.embedded import start_embedded
from app.db.migrate import migrate
from app.db.outbox import OutboxRepository
from app.db.transport import PostgresTransport, Row, Transport
from app.jobs.bootstrap import Overrides, bootstrap
from app.jobs.drip import drip_deps

DUE, BATCH = 10_000, 500
ROOT = Path(__file__).resolve().parents[1]


def ref_function(ref: str, schema: str, name: str) -> str:
    """`name`'s `create or replace` text in `ref`'s schema file, renamed `<name>_ref`."""
    text = subprocess.run(["git", "show", f"{ref}:supabase/schemas/{schema}"], cwd=ROOT,
                          check=True, capture_output=True, text=True).stdout  # fmt: skip
    start = text.index(f"create or replace function {name}(")
    body = text[start : text.index("$$;", start) + 3]
    return body.replace(f"function {name}(", f"function {name}_ref(", 1)


class Renamed:
    """A transport calling `<function>_ref` in place of the functions named."""

    def __init__(self, inner: Transport, names: set[str]) -> None:
        self.inner, self.names, self.name = inner, names, inner.name

    async def call(self, function: str, args: Mapping[str, Any] | None = None) -> list[Row]:
        return await self.inner.call(
            f"{function}_ref" if function in self.names else function, args
        )

    async def close(self) -> None:
        pass


async def claim_settle(repo: CampaignRepository, dsn: str) -> float:
    """Seconds to claim and settle every due step, BATCH at a time (the steps due first)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("update enrollments set status = 'active', current_step = 0,"
                     " next_run_at = %s where lead_id <= %s", (NOW, DUE))  # fmt: skip
    worker, done = f"ab:{uuid.uuid4().hex[:8]}", 0
    started = time.perf_counter()
    while done < DUE:
        steps = await repo.claim_due(worker, BATCH, 600, NOW)
        results = [StepResult(enrollment_id=s.enrollment_id, action="advance") for s in steps]
        await repo.complete(worker, results, NOW)
        done += len(steps)
    return time.perf_counter() - started


async def write_claim(
    repo: CampaignRepository, outbox: OutboxRepository, items: list[dict[str, Any]], ref: bool
) -> float:
    """Seconds to write and claim `items` (the ref: write, then claim_messages)."""
    started = time.perf_counter()
    if ref:
        written = await repo.enqueue(items, NOW)
        claims = await outbox.claim_messages([w.id for w in written.values()], NOW, 600)
        assert all(c.outcome == "claimed" for c in claims)
    else:
        written = await repo.enqueue(items, NOW, {"sms": len(items)}, 600)
        assert all(w.claim is not None and w.claim.outcome == "claimed" for w in written.values())
    return time.perf_counter() - started


def claim_call(dsn: str, function: str, calls: int = 5) -> float:
    """Median seconds of one `function` call claiming BATCH due steps (rolled back)."""
    spent = []
    with psycopg.connect(dsn) as conn:
        conn.execute("update enrollments set status = 'active', current_step = 0,"
                     " next_run_at = %s where lead_id <= %s", (NOW, DUE))  # fmt: skip
        conn.commit()
        for _ in range(calls):
            started = time.perf_counter()
            conn.execute(f"select * from {function}('ab', %s, 600, %s)", (BATCH, NOW)).fetchall()
            spent.append(time.perf_counter() - started)
            conn.rollback()
    return statistics.median(spent)


def empty_claims(dsn: str, function: str, now: datetime, calls: int = 50) -> float:
    """Mean seconds of one `function` call with nothing due (it claims nothing; each call
    rolled back, so a kept database is left as it was)."""
    with psycopg.connect(dsn) as conn:
        started = time.perf_counter()
        for _ in range(calls):
            rows = conn.execute(f"select * from {function}('ab', %s, 600, %s)", (BATCH, now))
            assert rows.fetchall() == []
            conn.rollback()
        return (time.perf_counter() - started) / calls


def report_empty(ref: str, dsn: str, rounds: int, now: datetime = NOW) -> None:
    spent: dict[str, list[float]] = {"claim_due_steps_ref": [], "claim_due_steps": []}
    for n in range(rounds):
        for function in list(spent) if n % 2 == 0 else list(reversed(spent)):
            spent[function].append(empty_claims(dsn, function, now))
    ref_s, tree_s = spent["claim_due_steps_ref"], spent["claim_due_steps"]
    print(
        f"one empty claim_due_steps, ms: {ref} median {statistics.median(ref_s) * 1000:.3f},"
        f" this tree {statistics.median(tree_s) * 1000:.3f}; tree/ref per round"
        f" {' '.join(f'{b / a:.2f}' for a, b in zip(ref_s, tree_s, strict=True))}"
    )


def report_empty_kept(ref: str, dsn: str, rounds: int, now: datetime) -> None:
    """--empty on a kept database: the ref's claim installed for the rounds only."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(ref_function(ref, "02_campaigns.sql", "claim_due_steps").encode())
    try:
        report_empty(ref, dsn, rounds, now)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("drop function claim_due_steps_ref(text, integer, integer, timestamptz)")


async def main(ref: str, rounds: int, empty: bool = False) -> None:
    logs.configure("WARNING")
    data_dir = tempfile.mkdtemp(prefix="nightshift-drip-ab-")
    server = start_embedded(data_dir)
    dsn = server.get_uri()
    try:
        migrate(dsn)
        transport = await PostgresTransport(dsn, max_size=2).open()
        overrides = Overrides(clock=ShiftedClock(NOW), transport=transport)
        async with bootstrap(deployment(100_000.0), overrides) as ctx:
            saved = await ctx.repos.campaigns.upsert(load_campaign_yaml(CAMPAIGN).to_row(), NOW)
            params = {"n": DUE, "due": DUE, "campaign": saved.campaign_id, "now": NOW}
            with psycopg.connect(dsn, autocommit=True) as conn:
                for statement in SEED.split(";"):
                    if statement.strip():
                        conn.execute(statement.encode(), params)
                conn.execute(ref_function(ref, "02_campaigns.sql", "claim_due_steps").encode())
                conn.execute(ref_function(ref, "03_outbox.sql", "enqueue_outbox").encode())
            with twilio_stand_in():
                await drip.run(drip_deps(ctx))  # 10,000 texts sent today, as in a run
        if empty:
            await transport.close()
            report_empty(ref, dsn, rounds)
            return
        with psycopg.connect(dsn) as conn:
            leads = conn.execute(
                "select l.id, l.phone, e.id from leads l join enrollments e on e.lead_id = l.id"
                " order by l.id limit %s",
                (BATCH,),
            ).fetchall()
        sides = {
            "ref": CampaignRepository(Renamed(transport, {"claim_due_steps", "enqueue_outbox"})),
            "tree": CampaignRepository(transport),
        }
        outbox = OutboxRepository(transport)
        figures: dict[str, dict[str, list[float]]] = {
            s: {"claim": [], "write": [], "call": []} for s in sides
        }
        for n in range(rounds):
            for side in ("ref", "tree") if n % 2 == 0 else ("tree", "ref"):
                repo = sides[side]
                function = "claim_due_steps_ref" if side == "ref" else "claim_due_steps"
                figures[side]["call"].append(claim_call(dsn, function))
                figures[side]["claim"].append(await claim_settle(repo, dsn))
                items = [{"idempotency_key": f"ab:{n}:{side}:{lead}", "channel": "sms",
                          "provider": "twilio", "to_address": phone, "lead_id": lead,
                          "enrollment_id": enrollment, "campaign_id": saved.campaign_id,
                          "payload": {"body": "Hi Lead, Demo Heating & Air here. Reply STOP to"
                                      " opt out.", "send_before": "2026-11-25T02:00:00+00:00"}}
                         for lead, phone, enrollment in leads]  # fmt: skip
                figures[side]["write"].append(await write_claim(repo, outbox, items, side == "ref"))
        await transport.close()
        for part, label in (("call", f"one claim_due_steps of {BATCH} steps, ms"),
                            ("claim", f"claim + settle of {DUE:,} steps, s"),
                            ("write", f"write + claim of {BATCH} texts, ms")):  # fmt: skip
            scale = 1 if part == "claim" else 1000
            ref_s, tree_s = figures["ref"][part], figures["tree"][part]
            print(
                f"{label}: {ref} median {statistics.median(ref_s) * scale:.3f}, this tree"
                f" {statistics.median(tree_s) * scale:.3f}; tree/ref per round"
                f" {' '.join(f'{b / a:.2f}' for a, b in zip(ref_s, tree_s, strict=True))}"
            )
    finally:
        server.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ref", default="HEAD")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--empty", action="store_true", help="an empty claim, ms a call")
    parser.add_argument("--dsn", help="--empty on this (kept) database")
    parser.add_argument("--now", help="--empty --dsn: the instant of the claims")
    args = parser.parse_args()
    if args.empty and args.dsn:
        logs.configure("WARNING")
        report_empty_kept(args.ref, args.dsn, args.rounds, datetime.fromisoformat(args.now))
    else:
        asyncio.run(main(args.ref, args.rounds, args.empty))
