"""Webhook ingest: requests/s and latency of the web app under load.

The app runs under uvicorn in its own process (a real embedded Postgres behind it); this
process is the load generator. It posts the recorded Vapi fixtures (`tests/fixtures/vapi`) —
status updates and end-of-call reports, each with a fresh call id so every one is stored and
applied, not deduplicated — plus assistant-requests, with bounded concurrency, and prints
requests/s and p50/p99 latency per message type. Targets: 800 req/s with p99 under 50 ms;
assistant-request p99 under 50 ms.

The load generator is deliberately lean, like wrk: the server, this process and Postgres
share the machine's cores, so every cycle spent building requests here is taken from the
server. Each of `--concurrency` workers keeps one HTTP/1.1 keep-alive connection (raw
asyncio streams) and sends requests serialised up front; a request's latency runs from its
write to the last byte of its response (status line, headers, Content-Length body). The
first `--warmup` requests (fresh bodies too, not counted) let the server open its database
pool before the measured run.

The ceiling, in the same run: a bare ASGI app (reads the body, answers 200 `{}`) under the
same uvicorn, same worker count, same load generator and the same requests. It is measured
just before and just after the app (the host drifts), and the app's rate is printed as a
share of the two runs' mean: what the app costs beyond HTTP itself. Last, the database's own
rate of committed webhook-sized inserts, one per commit and grouped (bench/ingest_ceiling.py):
what any store path, group commit included, is bounded by on this machine. On Linux it also
prints the CPU each process spent per request during the app's measured run (the server, the
Postgres processes, this load generator): where a stored request's cost goes. `--provider
twilio` (status callbacks) or `resend` (delivery events) measures those instead of Vapi's mix,
from the recorded fixtures, each signed as its provider signs it.

    .venv/bin/python bench/webhook_ingest.py [--requests 3000] [--concurrency 16] [--provider vapi]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from ingest_ceiling import committed_rates

from app.db.embedded import start_embedded
from app.db.migrate import migrate
from app.webhooks.signatures import svix_signature, twilio_signature

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "vapi"
SECRET = "bench-vapi-secret"
KINDS = {
    "status-update": "04-status-update-ended.json",
    "end-of-call-report": "05-end-of-call-report-completed-booked.json",
    "assistant-request": "01-assistant-request.json",
}
# Verified, parsed and answered `{}` with no database call: the app's own cost (HTTP, the
# body limit, the Vapi credential, orjson, routing) without the store
NO_STORE = {"transcript": "10-transcript-final.json"}
# `--provider twilio|resend`: the other providers' most frequent webhooks instead of Vapi's,
# from the recorded fixtures, each with fresh ids and signed as the provider signs it
PROVIDERS = {
    "vapi": KINDS,
    "twilio": {"twilio-status": "twilio/status_delivered.json"},
    "resend": {"resend-delivered": "resend/email_delivered.json"},
}
PUBLIC_URL = "https://hooks.example.com"  # PUBLIC_BASE_URL: the address Twilio signs
TWILIO_TOKEN = "bench-twilio-auth-token"
RESEND_SECRET = "whsec_" + base64.b64encode(b"nightshift bench svix signing k").decode()
SERVER_ENV = {
    "VAPI_WEBHOOK_SECRET": SECRET, "VAPI_ASSISTANT_ID": "asst-bench", "LOG_LEVEL": "WARNING",
    "TWILIO_AUTH_TOKEN": TWILIO_TOKEN, "RESEND_WEBHOOK_SECRET": RESEND_SECRET,
    "PUBLIC_BASE_URL": PUBLIC_URL,
    # no provider credentials: sends (a rescue text after a report) are stored as dry runs;
    # the ingest path itself (verify, parse, store, apply) is production's
    "NIGHTSHIFT_DRY_RUN": "1",
}  # fmt: skip
Request = tuple[str, bytes]  # (message type, the whole HTTP request)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


BARE_APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:  # the body is read, as the app reads it
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"{}"})
"""


def start_bare(port: int) -> subprocess.Popen[bytes]:
    """The ceiling: a bare ASGI app under the same uvicorn settings as `start_server`."""
    code = (
        f"{BARE_APP}\nimport uvicorn; uvicorn.run(app, host='127.0.0.1', port={port}, "
        "log_level='warning', access_log=False)"
    )
    return subprocess.Popen([sys.executable, "-c", code], cwd=tempfile.gettempdir())


def start_server(dsn: str, port: int) -> subprocess.Popen[bytes]:
    """uvicorn serving the app in its own process (uvloop + httptools when installed)."""
    env = {**os.environ, **SERVER_ENV, "DATABASE_URL": dsn, "PYTHONPATH": str(ROOT)}
    code = (
        "import uvicorn; from app.webhooks import create_app; "
        f"uvicorn.run(create_app(), host='127.0.0.1', port={port}, log_level='warning', "
        "access_log=False)"
    )
    return subprocess.Popen([sys.executable, "-c", code], cwd=tempfile.gettempdir(), env=env)


def http_request(
    port: int, payload: bytes, path: str = "/webhooks/vapi", headers: dict[str, str] | None = None
) -> bytes:
    given = headers or {"Content-Type": "application/json", "X-Vapi-Secret": SECRET}
    lines = "".join(f"{name}: {value}\r\n" for name, value in given.items())
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{lines}"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


def requests(port: int, total: int, chosen: dict[str, str] = KINDS) -> list[Request]:
    """`total` requests cycling through the `chosen` kinds, each with a fresh call, message
    or event id (nothing is deduplicated), signed and serialised before the clock starts."""
    fixtures = {k: json.loads(((FIXTURES.parent / f) if "/" in f else (FIXTURES / f)).read_text())
                for k, f in chosen.items()}  # fmt: skip
    kinds = list(chosen)
    out: list[Request] = []
    for i in range(total):
        kind = kinds[i % len(kinds)]
        if kind.startswith("twilio"):
            out.append((kind, twilio_request(port, fixtures[kind], i)))
        elif kind.startswith("resend"):
            out.append((kind, resend_request(port, fixtures[kind], i)))
        else:
            message = fixtures[kind]["message"]
            message = {**message, "call": {**message["call"], "id": str(uuid.uuid4())}}
            out.append((kind, http_request(port, json.dumps({"message": message}).encode())))
    return out


def twilio_request(port: int, fixture: dict[str, Any], n: int) -> bytes:
    """A status callback with a fresh MessageSid for outbox row `n` (none exists: the event
    is stored and applied to no row), signed over PUBLIC_URL as Twilio signs it."""
    params = {**fixture["params"], "MessageSid": f"SM{uuid.uuid4().hex}"}
    path = f"/webhooks/twilio/status?outbox={n + 1}"
    signature = twilio_signature(TWILIO_TOKEN, PUBLIC_URL + path, params.items())
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Twilio-Signature": signature}  # fmt: skip
    return http_request(port, urlencode(params).encode(), path, headers)


def resend_request(port: int, fixture: dict[str, Any], n: int) -> bytes:
    """The event with a fresh email id and Svix message id, signed at the real clock (the
    batch is built just before it is sent: well inside Svix's 5-minute tolerance)."""
    payload = fixture["payload"]
    data = {**payload["data"], "email_id": str(uuid.uuid4()), "tags": {"outbox_id": str(n + 1)}}
    body = json.dumps({**payload, "data": data}).encode()
    msg_id, stamp = f"msg_bench{uuid.uuid4().hex}", str(int(time.time()))
    headers = {"Content-Type": "application/json", "svix-id": msg_id, "svix-timestamp": stamp,
               "svix-signature": svix_signature(RESEND_SECRET, msg_id, stamp, body)}  # fmt: skip
    return http_request(port, body, "/webhooks/resend", headers)


def wait_ready(port: int, path: str = "/healthz") -> None:
    for _ in range(300):  # bounded: about 60 s
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                if r.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not come up")


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, keep-alive) of one HTTP/1.1 response with a Content-Length."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, keep_alive = 0, True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            keep_alive = False
        elif name == b"transfer-encoding":
            raise RuntimeError("chunked responses are not supported by this load generator")
    return status, await reader.readexactly(length), keep_alive


async def worker(
    port: int, queue: Iterator[Request], latencies: dict[str, list[float]] | None
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for kind, request in queue:
            started = time.perf_counter()
            writer.write(request)
            status, body, keep_alive = await read_response(reader)
            elapsed = time.perf_counter() - started
            if status >= 300:
                raise RuntimeError(f"{kind}: {status} {body[:200]!r}")
            if latencies is not None:
                latencies[kind].append(elapsed)
            if not keep_alive:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    finally:
        writer.close()


async def load(
    port: int, batch: list[Request], concurrency: int, latencies: dict[str, list[float]] | None
) -> float:
    queue = iter(batch)  # shared: each worker takes the next request when it is free
    started = time.perf_counter()
    await asyncio.gather(*(worker(port, queue, latencies) for _ in range(concurrency)))
    return time.perf_counter() - started


Measured = tuple[float, dict[str, list[float]]]  # (elapsed s, latencies by message type)


def run(
    runner: asyncio.Runner,
    port: int,
    total: int,
    concurrency: int,
    warmup: int,
    chosen: dict[str, str] = KINDS,
    cpu: dict[str, float] | None = None,
    pids: Callable[[], dict[str, list[int]]] | None = None,
) -> Measured:
    """One measured load after the warm-up; with `pids` (process ids by role), the CPU
    seconds each role used during the measured load are added into `cpu`."""
    measured, warm = requests(port, total, chosen), requests(port, warmup, chosen)
    latencies: dict[str, list[float]] = {kind: [] for kind in chosen}
    runner.run(load(port, warm, concurrency, None))
    roles = pids() if pids is not None else {}
    start = {role: cpu_seconds(ids) for role, ids in roles.items()}
    start["load generator"] = time.process_time()
    elapsed = runner.run(load(port, measured, concurrency, latencies))
    if cpu is not None:
        for role, ids in roles.items():
            cpu[role] = cpu_seconds(ids) - start[role]
        cpu["load generator"] = time.process_time() - start["load generator"]
    return elapsed, latencies


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of `pids` so far (Linux /proc; 0 for a process gone)."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def postgres_pids(postmaster: int) -> list[int]:
    """The postmaster and its children (the app's pooled backends, the WAL writer, ...)."""
    try:
        children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
    except OSError:
        return [postmaster]
    return [postmaster, *map(int, children)]


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (uvicorn[standard] brings it): fewer cycles per request here."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=300, help="requests sent first, not counted")
    parser.add_argument("--provider", choices=sorted(PROVIDERS), default="vapi",
                        help="whose webhooks the app's measured run posts")  # fmt: skip
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix="nightshift-ingest-")
    server = start_embedded(data_dir)
    migrate(server.get_uri())
    port, bare_port = free_port(), free_port()
    app, bare = start_server(server.get_uri(), port), start_bare(bare_port)
    shape = (args.requests, args.concurrency, args.warmup)
    cpu: dict[str, float] = {}  # CPU seconds of the app's measured run, by process

    def roles() -> dict[str, list[int]]:
        return {"server": [app.pid], "postgres": postgres_pids(server.get_pid())}

    try:
        wait_ready(port)
        wait_ready(bare_port, "/")
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            before = run(runner, bare_port, *shape)
            chosen = PROVIDERS[args.provider]
            elapsed, latencies = run(runner, port, *shape, chosen, cpu=cpu, pids=roles)
            no_store = run(runner, port, *shape, NO_STORE)
            after = run(runner, bare_port, *shape)
            body = (FIXTURES / KINDS["status-update"]).read_text()
            ceiling = runner.run(
                committed_rates(server.get_uri(), body, args.requests, args.concurrency)
            )
    finally:
        for process in (app, bare):
            process.terminate()
            process.wait(timeout=30)
        server.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)  # the scratch database: ~40-80 MB a run
    report(args.requests, args.concurrency, elapsed, latencies, before, after, no_store)
    if sys.platform.startswith("linux"):
        split = ", ".join(f"{role} {1000 * s / args.requests:.2f}" for role, s in cpu.items())
        print(f"CPU per request of the app's measured run (ms): {split}")
    bare_rate = statistics.fmean([args.requests / before[0], args.requests / after[0]])
    print(
        f"the database alone (bench/ingest_ceiling.py), {args.requests} webhook-sized rows: "
        f"{ceiling[0]:.0f}/s one row per commit over {args.concurrency} connections "
        f"({ceiling[0] / bare_rate:.2f} of bare), {ceiling[1]:.0f}/s {args.concurrency} rows "
        f"per commit ({ceiling[1] / bare_rate:.2f} of bare)"
    )


def report(
    total: int,
    concurrency: int,
    elapsed: float,
    latencies: dict[str, list[float]],
    before: Measured,
    after: Measured,
    no_store: Measured,
) -> None:
    rate = total / elapsed
    bare_rates = [total / before[0], total / after[0]]
    bare_rate = statistics.fmean(bare_rates)
    print(f"{total} requests, concurrency {concurrency}: {rate:.0f} req/s")
    print(
        f"bare ASGI endpoint, same server and load: {bare_rates[0]:.0f} req/s before, "
        f"{bare_rates[1]:.0f} after (p99 {all_p99(before):.1f} / {all_p99(after):.1f} ms); "
        f"the app at {rate / bare_rate:.2f} of it"
    )
    print(
        f"the app on Vapi transcripts (verified, parsed, no database call): "
        f"{total / no_store[0]:.0f} req/s ({total / no_store[0] / bare_rate:.2f} of bare), "
        f"p99 {all_p99(no_store):.1f} ms"
    )
    busy = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"(load average after the run: {busy}; the machine's other work shares the cores)")
    print(f"{'message type':<20} {'n':>6} {'p50 ms':>8} {'p99 ms':>8}")
    for kind, values in latencies.items():
        print(f"{kind:<20} {len(values):>6} {pct(values, 50):>8.1f} {pct(values, 99):>8.1f}")
    everything = [v for values in latencies.values() for v in values]
    print(
        f"{'all':<20} {len(everything):>6} {pct(everything, 50):>8.1f} {pct(everything, 99):>8.1f}"
    )


def all_p99(measured: Measured) -> float:
    return pct([v for values in measured[1].values() for v in values], 99)


if __name__ == "__main__":
    main()
