"""The drip's own Python per step, by part, without the database's time in it.

One batch of `--batch` steps (default 500, DRIP_BATCH_SIZE's default) is due, seeded as
bench/dispatch.py seeds it (its campaign, leads, consents; its production-shaped deployment:
the real Twilio adapter, its rate limiter, retry policy and httpx client, the network
replaced at httpx's transport by dispatch's stand-in). The drip job's entry (`drip.run`)
runs once against the embedded Postgres, every database call recorded (name, arguments,
rows); then it runs `--reps` times more against those recorded answers (a replayed
transport: `mark_sending` answers `go` for the ids asked, everything else the recorded
rows, deep-copied), so what is timed is only this process's work: the same Python as
production (the rows' parsing, planning, rendering, the adapter, the bookkeeping), minus
the database's time and the wire (psycopg's own work, its jsonb decoding too, is in neither
side: bench/dispatch.py's "Python CPU" has it). Printed: µs of this process's CPU a step,
in all and by part, the stand-in's share (Twilio's side) and the replay's copies taken out.

    .venv/bin/python bench/drip_python.py [--batch 500] [--reps 20]
    .venv/bin/python bench/drip_python.py --ab DIR [--rounds 3]   # DIR: another tree's root
    .venv/bin/python bench/drip_python.py --no-gc   # the same with the cyclic GC off

--no-gc (a diagnostic, never production's setting): what the garbage collector's young and
full collections cost a step inside the run (`heap_frozen` leaves only the run's own objects
to them), as the difference from a run with it on.

--ab: interleaved rounds, each a child process of this script with PYTHONPATH=DIR (the
"before" tree, e.g. an export of HEAD) then one of this tree; prints each child's line.

Not a test: it prints measured figures (see bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import gc
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
from dispatch import CAMPAIGN, MESSAGES_URL, NOW, SEED, ShiftedClock, deployment, twilio_accepts

import app
from app.campaigns import drip
from app.campaigns.definition import load_campaign_yaml
from app.core import logs
from app.db.campaigns import CampaignRepository
from app.db.embedded import start_embedded
from app.db.migrate import migrate
from app.db.transport import PostgresTransport, Row
from app.jobs.bootstrap import Overrides, bootstrap
from app.jobs.drip import drip_deps
from app.providers.delivery import OutboxDelivery

PARTS = {  # part -> (owner, attribute): the callables timed, the same names in every tree
    "claim rows parsed": (CampaignRepository, "claim_due"),
    "planning (gate, render)": (drip, "plan_batch"),
    "outbox rows parsed": (CampaignRepository, "enqueue"),
    "delivery (adapter, checks, record)": (OutboxDelivery, "deliver_messages"),
    "settle (results dumped)": (CampaignRepository, "settle_last"),
}
SPENT: dict[str, float] = {}
COPYING = [0.0]  # the replay's deep copies: not the drip's work
TREE = Path(app.__file__).resolve().parent.parent  # the tree whose app/ this run imported
STAND_IN = [0.0]  # answering as Twilio: not the drip's work
CPU = time.process_time  # every figure is this process's CPU (the load moves wall times)


@contextmanager
def twilio_stand_in() -> Iterator[None]:
    """bench/dispatch.py's stand-in at httpx's transport, its CPU counted in STAND_IN."""
    original = httpx.AsyncHTTPTransport.handle_async_request

    async def handle(_self: Any, request: httpx.Request) -> httpx.Response:
        assert request.method == "POST" and str(request.url) == MESSAGES_URL, request
        started = CPU()
        try:
            return twilio_accepts(request)
        finally:
            STAND_IN[0] += CPU() - started

    httpx.AsyncHTTPTransport.handle_async_request = handle  # type: ignore[method-assign]
    try:
        yield
    finally:
        httpx.AsyncHTTPTransport.handle_async_request = original  # type: ignore[method-assign]


class Recording:
    """A transport that passes every call to `inner` and keeps its answer."""

    name = "recording"

    def __init__(self, inner: PostgresTransport) -> None:
        self.inner = inner
        self.calls: list[tuple[str, dict[str, Any], list[Row]]] = []

    async def call(self, function: str, args: Mapping[str, Any] | None = None) -> list[Row]:
        rows = await self.inner.call(function, args)
        self.calls.append((function, dict(args or {}), copy.deepcopy(rows)))
        return rows

    async def close(self) -> None:
        await self.inner.close()


class Replay:
    """A transport answering the recorded rows by function name, in the recorded order
    (`mark_sending`: `go` for each id asked)."""

    name = "replay"

    def __init__(self, calls: list[tuple[str, dict[str, Any], list[Row]]]) -> None:
        self.calls = calls
        self.queues: dict[str, list[list[Row]]] = {}

    def rewind(self) -> None:
        self.queues = {}
        for function, _, rows in self.calls:
            self.queues.setdefault(function, []).append(rows)

    async def call(self, function: str, args: Mapping[str, Any] | None = None) -> list[Row]:
        if function == "mark_sending":
            assert args is not None
            return [{"id": i, "verdict": "go"} for i in args["p_ids"]]
        started = CPU()
        rows = copy.deepcopy(self.queues[function].pop(0))
        COPYING[0] += CPU() - started
        return rows

    async def close(self) -> None:
        return None


def timed_parts() -> None:
    """Wrap each PARTS callable so its CPU adds up in SPENT (the parts do not nest; a part
    that awaits counts what runs meanwhile, so only the delivery awaits: its sends)."""
    for part, (owner, attribute) in PARTS.items():
        inner = getattr(owner, attribute)
        if asyncio.iscoroutinefunction(inner):

            async def timed(*args: Any, _inner: Any = inner, _part: str = part, **kw: Any) -> Any:
                started, copied, stood = CPU(), COPYING[0], STAND_IN[0]
                try:
                    return await _inner(*args, **kw)
                finally:
                    spent = CPU() - started
                    spent -= (COPYING[0] - copied) + (STAND_IN[0] - stood)
                    SPENT[_part] = SPENT.get(_part, 0.0) + spent

            setattr(owner, attribute, timed)
        else:

            def plain(*args: Any, _inner: Any = inner, _part: str = part, **kw: Any) -> Any:
                started = CPU()
                try:
                    return _inner(*args, **kw)
                finally:
                    SPENT[_part] = SPENT.get(_part, 0.0) + CPU() - started

            setattr(owner, attribute, plain)


async def measure(dsn: str, batch: int, reps: int) -> None:
    settings = deployment(100_000.0).model_copy(update={"drip_batch_size": batch + 1})
    transport = await PostgresTransport(dsn, max_size=4).open()
    recording = Recording(transport)
    async with bootstrap(settings, Overrides(clock=ShiftedClock(NOW), transport=recording)) as ctx:
        saved = await ctx.repos.campaigns.upsert(load_campaign_yaml(CAMPAIGN).to_row(), NOW)
        params = {"n": batch, "due": batch, "campaign": saved.campaign_id, "now": NOW}
        with psycopg.connect(dsn, autocommit=True) as conn:
            for statement in SEED.split(";"):
                if statement.strip():
                    conn.execute(statement.encode(), params)
        recording.calls.clear()
        with twilio_stand_in():
            counts = await drip.run(drip_deps(ctx))
        assert counts.get("advance") == batch, counts
    await transport.close()
    replay = Replay(recording.calls)
    timed_parts()
    async with bootstrap(settings, Overrides(clock=ShiftedClock(NOW), transport=replay)) as ctx:
        deps = drip_deps(ctx)
        with twilio_stand_in():
            replay.rewind()
            await drip.run(deps)  # warm: first-use caches (templates, URLs), as a process has
            SPENT.clear()
            COPYING[0] = STAND_IN[0] = 0.0
            each: list[float] = []  # each rep's own CPU a step (the load moves: the least)
            cpu = CPU()
            for _ in range(reps):
                replay.rewind()
                started, copied, stood = CPU(), COPYING[0], STAND_IN[0]
                counts = await drip.run(deps)
                own = CPU() - started - (COPYING[0] - copied) - (STAND_IN[0] - stood)
                each.append(own / batch * 1e6)
                assert counts.get("advance") == batch, counts
            cpu = CPU() - cpu
    steps = batch * reps
    whole = (cpu - COPYING[0] - STAND_IN[0]) / steps * 1e6
    each.sort()
    least = f"least rep {each[0]:.1f}, median rep {each[len(each) // 2]:.1f}"
    parts = ", ".join(f"{part} {sec / steps * 1e6:.1f}" for part, sec in SPENT.items())
    rest = whole - sum(SPENT.values()) / steps * 1e6
    tree = TREE
    print(f"{tree}: {whole:.1f} µs of CPU a step ({steps:,} steps; {least}): {parts}; the"
          f" rest (loop,"
          f" results, bookkeeping) {rest:.1f} [taken out: stand-in"
          f" {STAND_IN[0] / steps * 1e6:.1f}, replay copies"
          f" {COPYING[0] / steps * 1e6:.1f}]", flush=True)  # fmt: skip


def child(batch: int, reps: int, no_gc: bool = False) -> None:
    logs.configure("WARNING")
    if no_gc:
        gc.disable()
        print("(cyclic GC off) ", end="")
    data_dir = tempfile.mkdtemp(prefix="nightshift-bench-")
    server = start_embedded(data_dir)
    try:
        dsn = server.get_uri()
        migrate(dsn)
        asyncio.run(measure(dsn, batch, reps))
    finally:
        server.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)


def ab(before: str, rounds: int, batch: int, reps: int) -> None:
    here = Path(__file__).resolve().parent.parent
    for n in range(rounds):
        for tree in (before, str(here)):
            env = {**os.environ, "PYTHONPATH": tree}
            print(f"round {n}: ", end="", flush=True)
            subprocess.run(
                [sys.executable, __file__, "--batch", str(batch), "--reps", str(reps)],
                env=env, check=True,
            )  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--ab", help="another tree's root: interleaved rounds, it then this")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-gc", action="store_true", help="the cyclic GC off (diagnostic)")
    args = parser.parse_args()
    if args.ab:
        ab(args.ab, args.rounds, args.batch, args.reps)
    else:
        child(args.batch, args.reps, args.no_gc)
