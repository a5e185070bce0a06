"""The status page in a real headless Chromium (Debian's `chromium` package): a screenshot
and the rendered DOM, served by uvicorn on 127.0.0.1 (the browser loads nothing else).

Skipped when no chromium binary is installed: `apt-get install -y chromium`.
NIGHTSHIFT_UPDATE_SCREENSHOT=1 also copies the screenshot to docs/status.png.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from app.jobs.runner import run_job
from app.webhooks import create_app
from tests.appointments.helpers import book, execute
from tests.status.conftest import TOKEN
from tests.status.seed import seed

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary found (install: apt-get install -y chromium)"
)


def with_bearer(app: Any) -> Any:
    """The browser cannot send a header from the command line: this test-only wrapper adds
    the Bearer token to every request, as a monitor or a reverse proxy would."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = [*scope["headers"], (b"authorization", f"Bearer {TOKEN}".encode())]
            scope = {**scope, "headers": headers}
        await app(scope, receive, send)

    return wrapped


@pytest.fixture
async def served(ctx: Context) -> AsyncIterator[str]:
    """The app on an already-listening 127.0.0.1 socket: connections wait in its backlog
    until uvicorn accepts them, so no readiness polling is needed."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    config = uvicorn.Config(with_bearer(create_app(ctx)), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/status"
    server.should_exit = True
    await task
    sock.close()


async def chromium(tmp: Path, *args: str) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--hide-scrollbars", f"--user-data-dir={tmp / 'profile'}", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out


async def test_status_page_in_headless_chromium(
    ctx: Context, clock: ManualClock, database_dsn: str, served: str, tmp_path: Path
) -> None:
    seed(database_dsn, clock.now() - timedelta(hours=20))
    await book(ctx, datetime(2026, 11, 28, 15, 0, tzinfo=UTC), phone="+13125550190",
               email="visit@example.com", timezone="America/Chicago")  # fmt: skip
    for day in range(1, 12):  # a fortnight of calls for the chart
        for n in range(day % 4 + 1):
            outcome = ("no_answer", "answered", "voicemail", "booked")[(day + n) % 4]
            execute(database_dsn, "insert into calls (idempotency_key, to_number, status,"
                    " outcome, created_at) values (%s, '+13125550191', 'ended', %s, %s)",
                    (f"hist-{day}-{n}", outcome, clock.now() - timedelta(days=day)))  # fmt: skip
    for n, score in enumerate([82, 76, 88, 71, 79, 64, 58, 73, 69, 35, 61]):  # call quality
        at = clock.now() - timedelta(days=1 + n)  # the last 7 days against the 7 before
        execute(database_dsn, "with c as (insert into calls (idempotency_key, to_number,"
                " status, outcome, created_at, ended_at, connected_at) values (%s,"
                " '+13125550192', 'ended', 'answered', %s, %s, %s) returning id) insert into"
                " call_quality (call_id, score, scored_at) select id, %s, %s from c",
                (f"quality-{n}", at, at, at, score, at))  # fmt: skip
    assert (await run_job(ctx, "appointments")).status == "succeeded"
    shot = tmp_path / "status.png"
    await chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,1900", served)
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    dom = (await chromium(tmp_path, "--dump-dom", served)).decode()
    for key in ("jobs", "alerts", "funnel", "calls", "deliverability", "health", "model",
                "appointments", "quality"):  # fmt: skip
        assert f'<section id="{key}">' in dom
    assert dom.count("<svg") == 4 and 'class="bar"' in dom  # 3 funnels, the calls chart
    assert 'id="verdict" data-level="red"' in dom
    assert "A1B2" in dom and "Brightside Dental" in dom
    assert "(up 17)" in dom  # this week's call quality against the week before
    if os.environ.get("NIGHTSHIFT_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, ROOT / "docs" / "status.png")
