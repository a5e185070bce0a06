"""Webhook ingest, before against after in one run: a git ref's code against this tree.

`bench/webhook_ingest.py` compares the app with a bare endpoint; a change to the store path is
judged better by running the old and the new code side by side, because this machine's load
moves by a third within minutes. This script extracts `--ref` (`git archive`, nothing in the
repository changes) into a scratch directory, gives each side its own embedded Postgres
(migrated by that side's own migrations) and its own uvicorn server, warms both, then loads
them in alternating rounds (ABBA order) with the same generator and request mix as
webhook_ingest.py. Per round and as medians: req/s, p99, and the CPU per request of the
server and of Postgres (/proc, Linux); last, after/before per round.

    .venv/bin/python bench/ingest_ab.py [--ref HEAD] [--requests 3000] [--rounds 4] \
        [--provider vapi|twilio|resend]

The servers of both sides get this tree's SERVER_ENV (webhook_ingest.py), so an old ref is
signed and configured as this one is.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from webhook_ingest import (
    PROVIDERS,
    ROOT,
    SERVER_ENV,
    cpu_seconds,
    free_port,
    load,
    loop_factory,
    pct,
    postgres_pids,
    requests,
    wait_ready,
)

from app.db.embedded import start_embedded


@dataclass
class Side:
    label: str
    root: Path
    server: Any = None  # the pgserver handle
    app: subprocess.Popen[bytes] | None = None
    port: int = 0
    rounds: list[tuple[float, float, float, float]] = field(default_factory=list)


def extract(ref: str, into: Path) -> Path:
    """`ref`'s tree under `into` (git archive: the repository is only read)."""
    tar = subprocess.run(["git", "archive", ref], cwd=ROOT, check=True, capture_output=True)
    with tarfile.open(fileobj=io.BytesIO(tar.stdout)) as archive:
        archive.extractall(into, filter="data")
    return into


def start(side: Side, scratch: Path) -> None:
    """The side's own embedded Postgres, migrated by its own code, and its server."""
    side.server = server = start_embedded(scratch / f"pg-{side.label}")
    dsn = server.get_uri()
    env = {**os.environ, "PYTHONPATH": str(side.root)}
    migrate = f"from app.db.migrate import migrate; migrate({dsn!r})"
    subprocess.run([sys.executable, "-c", migrate], cwd=side.root, env=env, check=True)
    side.port = free_port()
    serve = (
        "import uvicorn; from app.webhooks import create_app; "
        f"uvicorn.run(create_app(), host='127.0.0.1', port={side.port}, log_level='warning', "
        "access_log=False)"
    )
    env |= {**SERVER_ENV, "DATABASE_URL": dsn}
    side.app = subprocess.Popen([sys.executable, "-c", serve], cwd=tempfile.gettempdir(), env=env)


def measure(
    runner: asyncio.Runner, side: Side, total: int, concurrency: int, chosen: dict[str, str]
) -> None:
    assert side.app is not None
    batch = requests(side.port, total, chosen)
    latencies: dict[str, list[float]] = {kind: [] for kind in chosen}
    pg = postgres_pids(side.server.get_pid())
    server0, pg0 = cpu_seconds([side.app.pid]), cpu_seconds(pg)
    elapsed = runner.run(load(side.port, batch, concurrency, latencies))
    server_ms = 1000 * (cpu_seconds([side.app.pid]) - server0) / total
    pg_ms = 1000 * (cpu_seconds(pg) - pg0) / total
    p99 = pct([v for values in latencies.values() for v in values], 99)
    side.rounds.append((total / elapsed, p99, server_ms, pg_ms))
    print(f"{side.label:6} {total / elapsed:6.0f} req/s  p99 {p99:6.1f} ms  CPU per request: "
          f"server {server_ms:.3f} ms, postgres {pg_ms:.3f} ms  "
          f"(load {os.getloadavg()[0]:.2f})", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ref", default="HEAD", help="the 'before' code (a git ref)")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--provider", choices=sorted(PROVIDERS), default="vapi",
                        help="whose webhooks are posted (bench/webhook_ingest.py)")  # fmt: skip
    args = parser.parse_args()
    chosen = PROVIDERS[args.provider]
    with tempfile.TemporaryDirectory(prefix="nightshift-ingest-ab-") as tmp:
        scratch = Path(tmp)
        before = Side("before", extract(args.ref, scratch / "before"))
        after = Side("after", ROOT)
        sides = (before, after)
        try:
            for side in sides:
                start(side, scratch)
            for side in sides:
                wait_ready(side.port)
            with asyncio.Runner(loop_factory=loop_factory()) as runner:
                for side in sides:  # warm both: pools open, plans cached
                    warm = requests(side.port, 300, chosen)
                    runner.run(load(side.port, warm, args.concurrency, None))
                for n in range(args.rounds):
                    for side in sides if n % 2 == 0 else sides[::-1]:
                        measure(runner, side, args.requests, args.concurrency, chosen)
        finally:
            for side in sides:
                if side.app is not None:
                    side.app.terminate()
                    side.app.wait(timeout=30)
                if side.server is not None:
                    side.server.cleanup()
    for side in sides:
        rate, p99, server_ms, pg_ms = (statistics.median(r[i] for r in side.rounds)
                                       for i in range(4))  # fmt: skip
        print(f"{side.label} ({args.ref if side is before else 'this tree'}), median of "
              f"{args.rounds}: {rate:.0f} req/s, p99 {p99:.1f} ms, CPU per request server "
              f"{server_ms:.3f} ms, postgres {pg_ms:.3f} ms")  # fmt: skip
    pairs = zip(after.rounds, before.rounds, strict=True)
    ratios = " ".join(f"{a[0] / b[0]:.2f}" for a, b in pairs)
    print(f"after/before req/s, round by round: {ratios}  ({time.strftime('%H:%M')} local)")


if __name__ == "__main__":
    main()
