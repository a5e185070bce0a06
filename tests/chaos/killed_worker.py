"""A drip worker meant to be killed: `python -m tests.chaos.killed_worker DSN N START`.

It runs one drip tick on the database DSN with the clock stopped at START (ISO), against a
respx-mocked Twilio/Resend that writes every message it accepts to the `chaos_ledger` table
(the provider's side of the truth, visible to the test) and blocks forever once N messages
were accepted — the test then kills it with SIGKILL, mid-batch: rows claimed, some sent,
nothing recorded.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import asdict
from datetime import datetime

import httpx
import psycopg
import respx

from app.campaigns import drip
from app.core.clock import ManualClock
from app.jobs.drip import drip_deps
from tests.chaos.helpers import Accepted, FakeProviders, real_settings, worker

LEDGER = """
create table if not exists chaos_ledger (
  id bigint generated always as identity primary key,
  item jsonb not null,
  twilio jsonb
)
"""


def main(dsn: str, limit: int, start: str) -> None:
    clock = ManualClock(datetime.fromisoformat(start))
    fake = FakeProviders(clock)
    ledger = psycopg.connect(dsn, autocommit=True)

    def record(item: Accepted) -> None:
        twilio = fake.twilio_messages[-1] if item.channel == "sms" else None
        ledger.execute(
            "insert into chaos_ledger (item, twilio) values (%s, %s)",
            (json.dumps(asdict(item)), json.dumps(twilio) if twilio else None),
        )

    def block(key: str, form: object) -> httpx.Response | None:
        if len(fake.accepted) >= limit:
            time.sleep(120)  # "hangs" until SIGKILL; bounded so a stray process ends anyway
            return httpx.Response(503)
        return None

    fake.after_accept = record
    fake.twilio_hook = block
    fake.resend_hook = lambda key, body: block(key, body)

    async def run() -> None:
        settings = real_settings(drip_batch_size=20)
        with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
            fake.install(router)
            async with worker(settings, clock, dsn) as ctx:
                await drip.run(drip_deps(ctx))

    asyncio.run(run())
    sys.exit(3)  # reaching here means the kill never came


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
