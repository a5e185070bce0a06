"""Drip dispatch throughput: steps sent per second end to end, and its baseline.

For each table size (10k, 100k, 1M leads) the SAME number of steps is due (default 10,000):
claim → gate → render → outbox rows → delivery claim → Twilio adapter → record → next step,
through the code production runs: the `drip` job's entry, the real Twilio adapter (its rate
limiter, retry policy and httpx client), its limit raised the way a deployment raises it
(TWILIO_RATE_PER_SECOND_PER_SENDER, `--rate`), which also sizes the delivery's claims. Only
the network is missing: a stand-in in place of httpx's transport (where respx patches, at a
third of its cost per request) answers each Twilio request in-process, at once, with the
201 body Twilio returns. The leads are seeded as `nightshift leads import` writes them (the
first name a greeting uses in attributes) with sms consent on record. Beside it, the
database's own ceiling: the same number of outbox rows written by one `INSERT ... SELECT`.
Prints one row per size.

    .venv/bin/python bench/dispatch.py [--sizes 10000,100000,1000000] [--due 10000]
                                       [--rate 100000] [--concurrency 500] [--peer]

--peer: then the same number of jobs consumed by nightshift's claim + settle and by pgqueuer's
dequeue + ack on the same database (bench/dispatch_peer.py).

Not a test: it prints measured figures (see bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import itertools
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

import httpx
import orjson
import psycopg
from dispatch_peer import measure_peer, report
from psycopg import conninfo, sql

from app.campaigns import drip
from app.campaigns.definition import load_campaign_yaml
from app.core import logs
from app.core.settings import Settings
from app.db.embedded import start_embedded
from app.db.migrate import migrate
from app.db.transport import PostgresTransport
from app.jobs.bootstrap import Context, Overrides, bootstrap
from app.jobs.drip import drip_deps

NOW = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)  # 15:00 in New York: inside every window
CAMPAIGN = """
slug: bench
name: Bench
window: {start: "08:00", end: "21:00"}
caps: {new_per_day: 0}
steps:
  - channel: sms
    body: "Hi {{ lead.first_name }}, {{ business.name }} here. Reply STOP to opt out."
  - channel: sms
    delay: 2d
    body: "Still there, {{ lead.first_name }}?"
"""

SEED = """
insert into leads (name, phone, email, state, timezone, source, attributes)
select 'Lead ' || g, '+1212' || lpad(g::text, 7, '0'), null, 'NY', 'America/New_York', 'bench',
       '{"first_name": "Lead"}'
  from generate_series(1, %(n)s) g;
insert into enrollments (campaign_id, lead_id, next_run_at, enrolled_at)
select %(campaign)s, l.id,
       case when l.id <= %(due)s then %(now)s::timestamptz
            else %(now)s::timestamptz + interval '30 days' end, %(now)s
  from leads l;
insert into consents (lead_id, channel, granted_at, source, consent_text)
select l.id, 'sms', %(now)s, 'web_form', 'Yes, text me about my quote.' from leads l;
analyze;
"""

BASELINE = """
insert into messages (idempotency_key, lead_id, enrollment_id, campaign_id, channel, provider,
                      to_address, payload)
select 'base:' || e.id, e.lead_id, e.id, e.campaign_id, 'sms', 'dryrun', l.phone,
       jsonb_build_object('body', 'Hi ' || l.name)
  from enrollments e join leads l on l.id = e.lead_id
 where e.status = 'active' and e.next_run_at <= %(now)s
"""


def admin(dsn: str, statement: sql.Composed) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(statement)


PHASES = {  # the database calls of one drip tick, timed where they are made
    "claim": ("campaigns", "claim_due"),
    # since stop 24 the write also claims each channel's first chunk (the whole batch here):
    # "delivery claim" is then absent (no claim_messages call)
    "outbox write + first chunk's claim": ("campaigns", "enqueue"),
    "delivery claim": ("outbox", "claim_messages"),
    "last-moment check": ("outbox", "mark_sending"),
    "delivery record": ("outbox", "record_messages_sent"),
    "settle": ("campaigns", "complete"),
}
PHASE_SECONDS: dict[str, float] = {}
PHASE_CALLS: dict[str, int] = {}
CLAIM_WAITED: list[float] = []  # how long the loop waited for each claim's answer
STAND_IN_SECONDS = [0.0]  # spent answering as Twilio (parsing the form, building the 201)
NEXT_CLAIM: Any = getattr(drip, "NextClaim", None)  # None: older code, every claim awaited
BESIDE = contextvars.ContextVar("beside", default=False)  # inside a NextClaim's task


async def _waited_result(self: Any) -> list[Any]:
    """NextClaim.result, timed: the part of a claim that did NOT run beside the sends."""
    started = time.perf_counter()
    try:
        return await _next_claim_result(self)  # type: ignore[no-any-return]
    finally:
        CLAIM_WAITED.append(time.perf_counter() - started)


def _beside_init(self: Any, claim: Any) -> None:
    async def beside() -> Any:
        BESIDE.set(True)  # the task's own context: the loop's is untouched
        return await claim()

    _next_claim_init(self, beside)


if NEXT_CLAIM is not None:
    _next_claim_result, _next_claim_init = NEXT_CLAIM.result, NEXT_CLAIM.__init__
    NEXT_CLAIM.result, NEXT_CLAIM.__init__ = _waited_result, _beside_init

SETTLING: Any = getattr(drip, "Settling", None)  # None: older code, every settle awaited
SETTLE_WAITED: list[float] = []  # how long the loop waited for each settle's end


async def _waited_done(self: Any) -> Any:
    """Settling.done, timed: the part of a settle that did NOT run beside the planning."""
    started = time.perf_counter()
    try:
        return await _settling_done(self)
    finally:
        SETTLE_WAITED.append(time.perf_counter() - started)


if SETTLING is not None:
    _settling_done = SETTLING.done
    SETTLING.done = _waited_done


def time_phases(ctx: Context) -> None:
    """Wrap the repository calls of PHASES so their wall time adds up in PHASE_SECONDS."""
    PHASE_SECONDS.clear()
    PHASE_CALLS.clear()
    CLAIM_WAITED.clear()
    SETTLE_WAITED.clear()
    STAND_IN_SECONDS[0] = 0.0
    for phase, (repo_name, method) in PHASES.items():
        repo = getattr(ctx.repos, repo_name)
        inner = getattr(repo, method)

        async def timed(*args: Any, _inner: Any = inner, _phase: str = phase, **kw: Any) -> Any:
            started = time.perf_counter()
            try:
                return await _inner(*args, **kw)
            finally:
                spent = time.perf_counter() - started
                if _phase == "claim" and not BESIDE.get():
                    CLAIM_WAITED.append(spent)  # awaited by the loop itself
                PHASE_SECONDS[_phase] = PHASE_SECONDS.get(_phase, 0.0) + spent
                PHASE_CALLS[_phase] = PHASE_CALLS.get(_phase, 0) + 1

        setattr(repo, method, timed)


BATCH = Settings(_env_file=None).drip_batch_size


def deployment(rate: float, concurrency: int = 500) -> Settings:
    """A production-shaped deployment: real Twilio (placeholder-free, made-up credentials),
    its rate limit `rate`; email and calls off (the bench campaign only texts). Sends in
    flight: DRIP_CONCURRENCY at its ceiling (`--concurrency`, default 500), as a deployment
    sized for this rate sets it: each Twilio request takes ~0.2-0.5 s over the network, so
    2,000 texts/s need ~500 in flight (20, the default, carries ~50 texts/s)."""
    return Settings(
        _env_file=None, log_level="WARNING", drip_max_batches=10_000,
        drip_concurrency=concurrency,
        public_base_url="https://bench.example.com", twilio_account_sid=TWILIO_SID,
        twilio_auth_token="9f8e7d6c5b4a39281706f5e4d3c2b1a0", twilio_from_number="+15005550006",
        twilio_rate_per_second_per_sender=rate, email_enabled=False, calls_enabled=False,
    )  # fmt: skip


TWILIO_SID = "AC0123456789abcdef0123456789abcdef"
MESSAGES_URL = f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
SENT = itertools.count()
ENGINE_CPU = [0.0]  # this process's CPU seconds over the engine run (Postgres's not included)


class ShiftedClock:
    """The system clock moved to start at NOW: real time passes (the rate limiter measures
    it, as in production) and the run happens inside every campaign window."""

    def __init__(self, start: datetime) -> None:
        self.offset = start - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


def twilio_accepts(request: httpx.Request) -> httpx.Response:
    """Twilio's 201 for a created message (the fields its API returns), at once. The form is
    split by hand: it is Twilio's work, not ours, and httpx.QueryParams cost a tenth of a
    send."""
    form = {
        key.decode(): unquote_plus(value.decode())
        for key, _, value in (pair.partition(b"=") for pair in request.content.split(b"&"))
    }
    sid = f"SM{next(SENT):032x}"
    return httpx.Response(201, headers=JSON, content=orjson.dumps({
        "account_sid": TWILIO_SID, "api_version": "2010-04-01", "body": form["Body"],
        "date_created": "Tue, 24 Nov 2026 20:00:00 +0000", "date_sent": None,
        "date_updated": "Tue, 24 Nov 2026 20:00:00 +0000", "direction": "outbound-api",
        "error_code": None, "error_message": None, "from": form.get("From"),
        "messaging_service_sid": None, "num_media": "0", "num_segments": "1", "price": None,
        "price_unit": "USD", "sid": sid, "status": "queued", "to": form["To"],
        "uri": f"/2010-04-01/Accounts/{TWILIO_SID}/Messages/{sid}.json",
    }))  # fmt: skip


JSON = {"content-type": "application/json; charset=utf-8"}


@contextmanager
def twilio_stand_in() -> Iterator[list[int]]:
    """httpx's transport answers `POST Messages.json` with `twilio_accepts` (any other request
    fails the run, as respx's assert_all_mocked); yields [requests answered]."""
    answered = [0]
    original = httpx.AsyncHTTPTransport.handle_async_request

    async def handle(_self: Any, request: httpx.Request) -> httpx.Response:
        if request.method != "POST" or str(request.url) != MESSAGES_URL:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        answered[0] += 1
        started = time.perf_counter()
        try:
            return twilio_accepts(request)
        finally:  # Twilio's side of the exchange: in the engine time, not nightshift's work
            STAND_IN_SECONDS[0] += time.perf_counter() - started

    httpx.AsyncHTTPTransport.handle_async_request = handle  # type: ignore[method-assign]
    try:
        yield answered
    finally:
        httpx.AsyncHTTPTransport.handle_async_request = original  # type: ignore[method-assign]


async def measure(
    dsn: str, size: int, due: int, rate: float, concurrency: int = 500
) -> tuple[float, float, int, int]:
    """(engine seconds, baseline seconds, steps sent, SMS claim chunk) for one table size;
    afterwards the same `due` steps are due again (for `--peer`)."""
    settings = deployment(rate, concurrency)
    clock = ShiftedClock(NOW)
    transport = await PostgresTransport(dsn, max_size=4).open()
    async with bootstrap(settings, Overrides(clock=clock, transport=transport)) as ctx:
        saved = await ctx.repos.campaigns.upsert(load_campaign_yaml(CAMPAIGN).to_row(), NOW)
        params = {"n": size, "due": due, "campaign": saved.campaign_id, "now": NOW}
        with psycopg.connect(dsn, autocommit=True) as conn:
            for statement in SEED.split(";"):
                if statement.strip():
                    conn.execute(statement.encode(), params)
        time_phases(ctx)
        chunk = ctx.providers.delivery.claim_chunk("sms")
        # only httpx's transport (connection pool, network) is replaced
        with twilio_stand_in() as answered:
            started, cpu = time.perf_counter(), time.process_time()
            counts = await drip.run(drip_deps(ctx))
            engine = time.perf_counter() - started
            ENGINE_CPU[0] = time.process_time() - cpu
        assert answered[0] == counts.get("advance", 0), (answered, counts)
    await transport.close()
    with psycopg.connect(dsn, autocommit=True) as conn:
        # the same rows the engine sent, due again (lead ids 1..due were the due ones)
        conn.execute("update enrollments set next_run_at = %s where lead_id <= %s", (NOW, due))
        started = time.perf_counter()
        conn.execute(BASELINE.encode(), {"now": NOW}).close()
        baseline = time.perf_counter() - started
    return engine, baseline, counts.get("advance", 0), chunk


async def main(
    sizes: list[int], due: int, rate: float, peer: bool = False, concurrency: int = 500
) -> None:
    logs.configure("WARNING")
    data_dir = tempfile.mkdtemp(prefix="nightshift-bench-")
    server = start_embedded(data_dir)
    base = server.get_uri()
    print(
        f"drip dispatch, {due:,} steps due, batch {BATCH}, Twilio adapter limited to {rate:,.0f}/s"
        f" (TWILIO_RATE_PER_SECOND_PER_SENDER), {concurrency} in flight (DRIP_CONCURRENCY),"
        " each request answered at once"
    )
    columns = ("leads", 10), ("sent", 7), ("engine s", 9), ("steps/s", 9), ("baseline s", 11)
    print(" ".join(f"{name:>{width}}" for name, width in columns), f"{'rows/s':>9} {'ratio':>6}")
    try:
        for size in sizes:
            name = f"bench_{size}"
            admin(base, sql.SQL("drop database if exists {}").format(sql.Identifier(name)))
            admin(base, sql.SQL("create database {}").format(sql.Identifier(name)))
            dsn = conninfo.make_conninfo(base, dbname=name)
            migrate(dsn)
            engine, baseline, sent, chunk = await measure(dsn, size, due, rate, concurrency)
            print(
                f"{size:>10,} {sent:>7,} {engine:>9.2f} {sent / engine:>9,.0f} {baseline:>11.3f}"
                f" {due / baseline:>9,.0f} {engine / baseline:>6.1f}"
            )
            phases = dict(PHASE_SECONDS)
            # the next batch's claim runs beside this batch's sends, and (since the seventh
            # session) a batch's settle beside the next batch's planning: only their waits
            # are serial
            waited = sum(CLAIM_WAITED)
            settle = sum(SETTLE_WAITED) if SETTLING is not None else phases.get("settle", 0.0)
            beside = ("claim", "settle")
            serial = sum(sec for name, sec in phases.items() if name not in beside)
            rest = engine - serial - waited - settle  # planning (gate + render), sends, overhead
            shares = [f"{name} {sec:.2f}" for name, sec in phases.items()]
            print(f"{'':>10} database s: {', '.join(shares)} (claim waited for {waited:.2f},"
                  f" settle for {settle:.2f}, the rest beside); the rest (Python) {rest:.2f},"
                  f" of which the stand-in answering as Twilio {STAND_IN_SECONDS[0]:.2f};"
                  f" Python CPU {ENGINE_CPU[0]:.2f} s"
                  f" ({ENGINE_CPU[0] / max(sent, 1) * 1e6:,.0f} µs a step)")  # fmt: skip
            calls = -(-BATCH // chunk)
            print(f"{'':>10} claim chunk {chunk:,} texts: {calls} claim call(s) per {BATCH} steps")
            checks = PHASE_CALLS.get("last-moment check", 0)
            print(f"{'':>10} last-moment checks: {checks:,} round trip(s) for {sent:,} sends")
            if peer:
                print(report(await measure_peer(dsn, due, BATCH, NOW), BATCH))
    finally:
        server.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)  # ~400 MB of data per run otherwise


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=100_000.0,
                        help="TWILIO_RATE_PER_SECOND_PER_SENDER (default 100000)")  # fmt: skip
    parser.add_argument("--concurrency", type=int, default=500,
                        help="DRIP_CONCURRENCY: sends in flight (default 500)")  # fmt: skip
    parser.add_argument("--peer", action="store_true",
                        help="claim + settle beside pgqueuer's dequeue + ack")  # fmt: skip
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    asyncio.run(main(sizes, args.due, args.rate, args.peer, args.concurrency))
