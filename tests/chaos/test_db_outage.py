"""The database stops while webhooks arrive (issue 15 item 1): verified events are spooled and
acknowledged fast, and applied through the live routes once the database is back.

The fault is real: the app's pool reaches the test Postgres through a TCP proxy that is cut
(every connection dropped, new ones refused) and restored on the same address, while the
web app keeps running — the server is not restarted. Answer times are measured and printed
(`-s`), never asserted (docs/chaos.md has the figures).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from app.core.clock import ManualClock
from app.core.settings import Settings
from app.db.transport import PostgresTransport
from app.jobs.bootstrap import Context, Overrides, bootstrap
from app.jobs.runner import RunOutcome, run_job
from app.jobs.spool import drain_spool
from app.providers.spool import DirectorySpool
from app.webhooks import ingest
from tests.chaos.pg_proxy import PgProxy
from tests.conftest import make_settings
from tests.webhooks.helpers import (
    PUBLIC,
    TWILIO_TOKEN,
    VAPI_SECRET,
    Db,
    client,
    post_vapi,
    seed_campaign,
    seed_lead,
    signed_twilio,
    vapi_message,
)

USER = "+14155550199"
EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


@pytest.fixture
def settings() -> Settings:
    return make_settings(
        nightshift_env="development",
        public_base_url=PUBLIC,
        twilio_auth_token=TWILIO_TOKEN,
        vapi_webhook_secret=VAPI_SECRET,
        vapi_assistant_id="asst-default",
        business_timezone="America/Chicago",
    )


@pytest.fixture
def db(database_dsn: str) -> Db:
    return Db(database_dsn)


@pytest.fixture
async def proxy(database_dsn: str) -> AsyncIterator[PgProxy]:
    cut = await PgProxy(database_dsn).start()
    yield cut
    await cut.close()


@pytest.fixture
async def outage_ctx(
    settings: Settings, clock: ManualClock, proxy: PgProxy, tmp_path: Path
) -> AsyncIterator[Context]:
    """The web app's graph as production builds it (2 s pool wait, 2 s connect timeout), its
    database behind the proxy, the spool a local directory, its jobs able to drain."""
    pg = await PostgresTransport(
        proxy.dsn, max_size=4, acquire_timeout=2.0, connect_timeout=2
    ).open()
    spool = DirectorySpool(tmp_path / "spool")
    overrides = Overrides(clock=clock, transport=pg, spool=spool, ingest=ingest)
    async with bootstrap(settings, overrides) as graph:
        yield graph
    await pg.close()


async def test_stop_and_call_report_during_an_outage_are_applied_once_it_ends(
    outage_ctx: Context, proxy: PgProxy, db: Db, clock: ManualClock
) -> None:
    ctx = outage_ctx
    lead_id = await seed_lead(ctx, db, phone=USER, name="Ana")
    await seed_campaign(ctx)
    stop = signed_twilio(
        "/webhooks/twilio/sms",
        {"MessageSid": "SMoutage1", "From": USER, "To": "+14155550123", "Body": "STOP"},
    )
    report = vapi_message("07-end-of-call-report-voicemail.json")
    call_id = report["message"]["call"]["id"]

    await proxy.down()
    async with client(ctx) as http:
        started = time.perf_counter()
        answer = await http.post(stop[0], content=stop[1], headers=stop[2])
        stop_seconds = time.perf_counter() - started
        started = time.perf_counter()
        reported = await post_vapi(http, report)
        report_seconds = time.perf_counter() - started
        forged = await http.post(stop[0], content=stop[1].replace(b"STOP", b"HI"), headers=stop[2])
    print(
        f"\nanswer times with the database down: STOP {stop_seconds:.2f} s, "
        f"end-of-call report {report_seconds:.2f} s"
    )

    assert answer.status_code == 200 and answer.text == EMPTY  # Twilio is answered
    assert reported.status_code == 200 and reported.json() == {}
    assert forged.status_code == 403  # never spooled: not verified
    assert ctx.spool is not None
    assert (await ctx.spool.stats()).pending == 2
    # a drain while the database is still down keeps everything, in order
    assert await drain_spool(ctx) == {"spool_waiting": 2}
    assert [r.path for r in await ctx.spool.pending(10)] == [
        "/webhooks/twilio/sms",
        "/webhooks/vapi",
    ]

    await proxy.up()  # Postgres is back; the app was never restarted
    clock.advance(timedelta(minutes=2))
    outcome = await _first_run_after(ctx, "drip")
    assert outcome.counts.get("spool_applied") == 2, outcome
    lead = db.one("select sms_opted_out_at, status from leads where id = %s", (lead_id,))
    assert lead["sms_opted_out_at"] is not None  # the STOP, applied by the drain
    assert db.one("select channel, address, reason from suppressions") == {
        "channel": "sms",
        "address": USER,
        "reason": "stop",
    }
    assert db.one("select status, stopped_reason from enrollments") == {
        "status": "stopped",
        "stopped_reason": "opt_out",
    }
    keys = {r["dedupe_key"] for r in db.rows("select dedupe_key from webhook_events")}
    assert keys == {"twilio:SMoutage1", f"vapi:{call_id}:end-of-call-report"}
    call = db.one("select outcome from calls where vapi_call_id = %s", (call_id,))
    assert call["outcome"] == "voicemail"  # the report, applied after the drain
    assert (await ctx.spool.stats()).pending == 0 and not await ctx.spool.aside()

    # Twilio's own retry of the STOP and a second drain change nothing
    async with client(ctx) as http:
        again = await http.post(stop[0], content=stop[1], headers=stop[2])
    assert again.status_code == 200
    assert await drain_spool(ctx) == {}
    assert db.count("webhook_events") == 2 and db.count("suppressions") == 1


async def _first_run_after(ctx: Context, job: str) -> RunOutcome:
    """The first run of `job` once the pool has reconnected (its lease needs the database;
    the pool reconnects in the background with a backoff). A bounded poll: a safety net."""
    deadline = time.perf_counter() + 60
    while True:
        try:
            return await run_job(ctx, job)
        except Exception:
            if time.perf_counter() > deadline:
                raise
            await asyncio.sleep(0.5)
