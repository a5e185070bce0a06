"""A drip worker process killed with SIGKILL mid-batch (rows claimed, some messages accepted
by Twilio, nothing recorded), then a normal run: Twilio reconciliation finds what the dead
worker sent, nothing goes out twice, and every step is sent."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

import psycopg
import pytest
import respx

from app.campaigns import drip
from app.core.clock import ManualClock
from app.jobs.drip import drip_deps
from tests.campaigns.helpers import add_leads, load
from tests.chaos.helpers import (
    TWO_STEPS,
    Accepted,
    FakeProviders,
    assert_exactly_once,
    real_settings,
    rows,
    worker,
)
from tests.chaos.killed_worker import LEDGER

ROOT = Path(__file__).resolve().parents[2]
LEADS = 30
KILL_AFTER = 7  # messages accepted by the provider before the worker hangs
POLL_LIMIT_SECONDS = 60.0  # safety net only: the worker normally gets there in ~2 s
pytestmark = pytest.mark.timeout(180)  # safety net for the subprocess, never reached normally


def open_for_writing(path: Path) -> BinaryIO:
    return path.open("wb")


def output(path: Path) -> str:
    return path.read_text(errors="replace")[-4000:]


async def wait_for_sends(dsn: str, proc: asyncio.subprocess.Process, stderr: Path) -> None:
    """Bounded poll of the ledger until the worker has had KILL_AFTER messages accepted."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + POLL_LIMIT_SECONDS
    while loop.time() < deadline:
        if proc.returncode is not None:
            raise AssertionError(f"worker exited early ({proc.returncode}): {output(stderr)}")
        [row] = rows(dsn, "select count(*) n from chaos_ledger")
        if row["n"] >= KILL_AFTER:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"worker never reached {KILL_AFTER} sends: {output(stderr)}")


async def test_worker_killed_mid_batch_then_next_run_finishes_without_duplicates(
    database_dsn: str, clock: ManualClock, tmp_path: Path
) -> None:
    settings = real_settings(drip_batch_size=20)
    async with worker(settings, clock, database_dsn) as ctx:
        await load(ctx, TWO_STEPS)
        await add_leads(ctx, LEADS)
        await ctx.repos.campaigns.enroll(clock.now())
    with psycopg.connect(database_dsn, autocommit=True) as conn:
        conn.execute(LEDGER)

    stderr = tmp_path / "worker.stderr"
    with open_for_writing(stderr) as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.chaos.killed_worker", database_dsn, str(KILL_AFTER),
            clock.now().isoformat(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
    try:
        await wait_for_sends(database_dsn, proc, stderr)
    finally:
        if proc.returncode is None:
            os.kill(proc.pid, signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), timeout=30)
    assert proc.returncode == -signal.SIGKILL

    # The state the dead worker left: a whole batch claimed, KILL_AFTER texts out, none recorded.
    ledger = rows(database_dsn, "select item, twilio from chaos_ledger order by id")
    assert len(ledger) == KILL_AFTER
    states = rows(database_dsn, "select status, count(*) n from messages group by status")
    assert {r["status"]: r["n"] for r in states} == {"sending": 20}

    # The next run, once the claims are stale: Twilio remembers what it accepted.
    fake = FakeProviders(clock)
    fake.accepted = [Accepted(**r["item"]) for r in ledger]
    fake.twilio_messages = [r["twilio"] for r in ledger]
    clock.advance(timedelta(seconds=settings.drip_lease_seconds + 60))
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        fake.install(router)
        async with worker(settings, clock, database_dsn) as ctx:
            counts = await drip.run(drip_deps(ctx))
    assert counts == {"advance": 2 * LEADS}
    assert_exactly_once(database_dsn, fake.accepted, steps=2)
    reconciled = rows(database_dsn, "select count(*) n from messages where attempts = 2")
    assert reconciled[0]["n"] == 20  # the dead worker's batch: claimed twice, sent once
    assert len([r for r in fake.requests if r[0] == "sms"]) == LEADS - KILL_AFTER
