"""Body limit: a 300 MB chunked upload to every route, against the real server.

The app runs under uvicorn in its own process (a real embedded Postgres behind it), as in
bench/webhook_ingest.py. For each route this process streams a chunked body of `--mb` MB
(64 kB chunks, no Content-Length) on a raw socket and prints the status the server answered
(0: the connection was reset, the server having closed it with the upload unread, before
the 413 could be read),
how long the answer took from the first byte sent, and how much was sent before the server
stopped reading; then `--parallel` such uploads to every route at once. The server's peak
resident memory (VmHWM, /proc) is printed before and after: the growth is what a hostile
upload costs.

    .venv/bin/python bench/body_limit.py [--mb 300] [--parallel 4]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
import time
from pathlib import Path

from webhook_ingest import free_port, start_server, wait_ready

from app.db.embedded import start_embedded
from app.db.migrate import migrate

ROUTES = ["/webhooks/vapi", "/webhooks/twilio/sms", "/webhooks/twilio/status",
          "/webhooks/resend", "/webhooks/booking", "/status/login"]  # fmt: skip
CHUNK = 64 * 1024


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


async def upload(port: int, path: str, total: int) -> tuple[int, float, int]:
    """(status, seconds to the answer, bytes sent) of one endless chunked upload."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n").encode()  # fmt: skip
    frame = b"%x\r\n" % CHUNK + b"x" * CHUNK + b"\r\n"
    sent = 0
    started = time.perf_counter()

    async def send() -> None:
        nonlocal sent
        writer.write(head)
        while sent < total:
            writer.write(frame)
            await writer.drain()
            sent += CHUNK

    sender = asyncio.create_task(send())
    try:
        line = await reader.readline()
    except ConnectionError:  # the server closed with our bytes unread: TCP may reset first
        line = b""
    elapsed = time.perf_counter() - started
    sender.cancel()
    with contextlib.suppress(asyncio.CancelledError, ConnectionError):
        await sender
    writer.close()
    status = int(line.split()[1]) if line else 0  # 0: reset before the 413 was read
    return status, elapsed, sent


async def run(port: int, pid: int, total: int, parallel: int) -> None:
    print(f"server peak RSS before: {peak_rss_mb(pid):.1f} MB")
    for path in ROUTES:
        status, seconds, sent = await upload(port, path, total)
        print(f"{path:26s} {status}  answered in {seconds * 1000:7.1f} ms  "
              f"after {sent / 2**20:6.2f} MB of {total / 2**20:.0f} MB sent")  # fmt: skip
    print(f"server peak RSS after one upload per route: {peak_rss_mb(pid):.1f} MB")
    jobs = [upload(port, path, total) for path in ROUTES for _ in range(parallel)]
    started = time.perf_counter()
    results = await asyncio.gather(*jobs)
    print(f"{len(jobs)} uploads at once ({parallel} per route): statuses "
          f"{sorted({r[0] for r in results})}, slowest answer "
          f"{max(r[1] for r in results) * 1000:.1f} ms, all done in "
          f"{(time.perf_counter() - started) * 1000:.1f} ms")  # fmt: skip
    print(f"server peak RSS after: {peak_rss_mb(pid):.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=300)
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args()
    os.environ["NIGHTSHIFT_DRY_RUN"] = "1"  # a database but no provider credentials: on purpose
    server = start_embedded(tempfile.mkdtemp(prefix="nightshift-bodylimit-"))
    migrate(server.get_uri())
    port = free_port()
    process = start_server(server.get_uri(), port)
    try:
        wait_ready(port)
        asyncio.run(run(port, process.pid, args.mb * 2**20, args.parallel))
    finally:
        process.terminate()
        process.wait(timeout=30)
        server.cleanup()


if __name__ == "__main__":
    main()
