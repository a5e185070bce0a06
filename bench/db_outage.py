"""Database outage: how fast the web app answers with Postgres stopped, and how soon after
Postgres is back the events it spooled are applied — against the real server.

The app runs under uvicorn in its own process (bench/webhook_ingest.py's `start_server`) over
an embedded Postgres. This script stops that Postgres (`pg_ctl stop -m fast`), posts a signed
Twilio STOP and a Vapi end-of-call report over HTTP and times each answer, starts Postgres
again (the web server is never restarted), and times how long until the lead is opted out
and the report is stored (the web app's own drain, every SPOOL_DRAIN_INTERVAL_SECONDS).

    .venv/bin/python bench/db_outage.py [--interval 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pgserver  # type: ignore[import-untyped]
import psycopg
from webhook_ingest import ROOT, SECRET, free_port, start_server, wait_ready

from app.db.embedded import start_embedded
from app.db.migrate import migrate
from app.webhooks.signatures import twilio_signature

TOKEN = "f0e1d2c3b4a5968778695a4b3c2d1e0f"
PUBLIC = "https://hooks.example.com"
USER = "+14155550199"
STATUS_TOKEN = "s" * 40


def _pg_ctl(server: object, *args: str) -> None:
    """pg_ctl on the embedded server's data, as the user pgserver runs Postgres as."""
    pgserver.pg_ctl(list(args), pgdata=server.pgdata,  # type: ignore[attr-defined]
                    user=server.system_user)  # type: ignore[attr-defined]  # fmt: skip


async def main(interval: float) -> None:
    work = Path(tempfile.mkdtemp(prefix="nightshift-outage-"))
    server = start_embedded(work / "pg")
    dsn = server.get_uri()
    migrate(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("insert into leads (phone, name) values (%s, 'Ana')", (USER,))
    port = free_port()
    os.environ.update({"NIGHTSHIFT_DRY_RUN": "1", "TWILIO_AUTH_TOKEN": TOKEN,
                       "STATUS_TOKEN": STATUS_TOKEN, "PUBLIC_BASE_URL": PUBLIC,
                       "SPOOL_DIR": str(work / "spool"),
                       "SPOOL_DRAIN_INTERVAL_SECONDS": str(interval)})  # fmt: skip
    web = start_server(dsn, port)
    try:
        wait_ready(port)
        _pg_ctl(server, "-w", "stop", "-m", "fast")
        stopped = time.perf_counter()
        params = {"MessageSid": "SMbench1", "From": USER, "To": "+14155550123", "Body": "STOP"}
        signature = twilio_signature(TOKEN, PUBLIC + "/webhooks/twilio/sms", params.items())
        report = (ROOT / "tests/fixtures/vapi/07-end-of-call-report-voicemail.json").read_bytes()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            for name, path, body, headers in (
                ("twilio STOP", "/webhooks/twilio/sms", urlencode(params).encode(),
                 {"Content-Type": "application/x-www-form-urlencoded",
                  "X-Twilio-Signature": signature}),
                ("vapi end-of-call-report", "/webhooks/vapi", report,
                 {"Content-Type": "application/json", "X-Vapi-Secret": SECRET}),
                ("GET /healthz", "/healthz", b"", {}),
                ("GET /status", "/status", b"", {"Authorization": f"Bearer {STATUS_TOKEN}"}),
            ):  # fmt: skip
                started = time.perf_counter()
                if body:
                    answer = await http.post(path, content=body, headers=headers)
                else:
                    answer = await http.get(path, headers=headers)
                took = time.perf_counter() - started
                print(f"{name:<26} {answer.status_code}  {took:6.2f} s  (Postgres stopped)")
        spooled = len(list((work / "spool" / "pending").glob("*.json")))
        print(f"spooled: {spooled}")
        server.ensure_postgres_running()
        back = time.perf_counter()
        print(f"Postgres down for {back - stopped:.1f} s, started again")
        while True:
            with psycopg.connect(dsn, autocommit=True) as conn:
                lead = conn.execute("select sms_opted_out_at from leads").fetchone()
                events = conn.execute("select count(*) from webhook_events").fetchone()
            if lead and lead[0] is not None and events and events[0] == 2:
                break
            if time.perf_counter() - back > 300:
                raise SystemExit("not applied within 5 minutes")
            await asyncio.sleep(0.5)
        print(f"opted out and report stored {time.perf_counter() - back:.1f} s after Postgres "
              f"was back (drain interval {interval:g} s); events lost: 0")  # fmt: skip
    finally:
        web.terminate()
        web.wait()
        server.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=30.0)
    asyncio.run(main(parser.parse_args().interval))
