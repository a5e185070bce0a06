"""Webhook ingest: requests/s and latency of the web app under load.

The app runs under uvicorn in its own process (a real embedded Postgres behind it); this
process is the load generator. It posts the shared Vapi fixtures — status updates and
end-of-call reports, each with a fresh call id so every one is stored and applied, not
deduplicated — plus assistant-requests, with bounded concurrency, and prints requests/s and
p50/p99 latency per message type. Targets: 800 req/s with p99 under 50 ms; assistant-request
p99 under 50 ms.

    .venv/bin/python bench/webhook_ingest.py [--requests 3000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from app.db.embedded import start_embedded
from app.db.migrate import migrate

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "vapi"
SECRET = "bench-vapi-secret"
KINDS = {
    "status-update": "04-status-update-ended.json",
    "end-of-call-report": "05-end-of-call-report-completed-booked.json",
    "assistant-request": "01-assistant-request.json",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(dsn: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "VAPI_WEBHOOK_SECRET": SECRET,
        "VAPI_ASSISTANT_ID": "asst-bench",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    code = (
        "import uvicorn; from app.webhooks import create_app; "
        f"uvicorn.run(create_app(), host='127.0.0.1', port={port}, log_level='warning')"
    )
    return subprocess.Popen([sys.executable, "-c", code], cwd=tempfile.gettempdir(), env=env)


def body(kind: str) -> bytes:
    """A fixture with a fresh call id (so nothing is deduplicated)."""
    data = json.loads((FIXTURES / KINDS[kind]).read_text())
    message = copy.deepcopy(data["message"])
    message["call"]["id"] = str(uuid.uuid4())
    return json.dumps({"message": message}).encode()


async def wait_ready(client: httpx.AsyncClient) -> None:
    for _ in range(300):  # bounded: about 60 s
        try:
            if (await client.get("/healthz")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("the server did not come up")


async def load(port: int, total: int, concurrency: int) -> tuple[float, dict[str, list[float]]]:
    kinds = list(KINDS)
    bodies = [(kinds[i % len(kinds)], body(kinds[i % len(kinds)])) for i in range(total)]
    latencies: dict[str, list[float]] = {kind: [] for kind in kinds}
    headers = {"content-type": "application/json", "x-vapi-secret": SECRET}
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30
    ) as client:
        await wait_ready(client)
        queue = iter(bodies)

        async def worker() -> None:
            for kind, payload in queue:
                started = time.perf_counter()
                response = await client.post("/webhooks/vapi", content=payload, headers=headers)
                latencies[kind].append(time.perf_counter() - started)
                if response.status_code >= 300:
                    raise RuntimeError(f"{kind}: {response.status_code} {response.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    server = start_embedded(tempfile.mkdtemp(prefix="nightshift-ingest-"))
    migrate(server.get_uri())
    port = free_port()
    app = start_server(server.get_uri(), port)
    try:
        elapsed, latencies = asyncio.run(load(port, args.requests, args.concurrency))
    finally:
        app.terminate()
        app.wait(timeout=30)
        server.cleanup()
    rate = args.requests / elapsed
    print(f"{args.requests} requests, concurrency {args.concurrency}: {rate:.0f} req/s")
    print(f"{'message type':<20} {'n':>6} {'p50 ms':>8} {'p99 ms':>8}")
    for kind, values in latencies.items():
        print(f"{kind:<20} {len(values):>6} {pct(values, 50):>8.1f} {pct(values, 99):>8.1f}")
    everything = [v for values in latencies.values() for v in values]
    print(
        f"{'all':<20} {len(everything):>6} {pct(everything, 50):>8.1f} {pct(everything, 99):>8.1f}"
    )


if __name__ == "__main__":
    main()
