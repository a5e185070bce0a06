"""Provider saturation: how close the send path gets to a provider's configured rate limit
when every provider call takes 150 ms.

N emails are written to the outbox and delivered by the same batch path the drip uses
(`OutboxDelivery.deliver_messages` in chunks of `claim_chunk`, what the limiter lets out in
2 s: one claim call per chunk, concurrent sends, one record call) through the real Resend
adapter and its rate limiter; the Resend API is simulated with respx answering
`200 {"id": ...}` after 150 ms (real time). Achieved rate = N / elapsed, beside the
configured limit. Target: at least 0.97 of the limit.

    .venv/bin/python bench/provider_saturation.py [--emails 300] [--rate 20] [--latency 0.15]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid

import httpx
import respx

from app.core import logs
from app.core.clock import SystemClock
from app.core.settings import Settings
from app.db.embedded import start_embedded
from app.db.migrate import migrate
from app.db.outbox import MessageIn
from app.db.transport import PostgresTransport
from app.jobs.bootstrap import Context, Overrides, bootstrap


async def run(emails: int, rate: float, latency: float, concurrency: int) -> float:
    """Seconds to deliver `emails` through a provider answering in `latency` seconds."""
    server = start_embedded(tempfile.mkdtemp(prefix="nightshift-sat-"))
    migrate(server.get_uri())
    settings = Settings(
        _env_file=None, log_level="WARNING", resend_rate_per_second=rate,
        resend_api_key="re_bench_0123456789", email_from="Bench <b@example.com>",
        resend_webhook_secret="whsec_YmVuY2g=",
    )  # fmt: skip
    transport = await PostgresTransport(server.get_uri(), max_size=4).open()
    try:
        async with bootstrap(settings, Overrides(clock=SystemClock(), transport=transport)) as ctx:
            ids = [await _enqueue(ctx, i) for i in range(emails)]

            async def answer(request: httpx.Request) -> httpx.Response:
                await asyncio.sleep(latency)
                return httpx.Response(200, json={"id": str(uuid.uuid4())})

            with respx.mock(assert_all_mocked=True) as router:
                router.post("https://api.resend.com/emails").mock(side_effect=answer)
                started = time.perf_counter()
                delivery = ctx.providers.delivery
                chunk = delivery.claim_chunk("email")  # as drip sizes it
                result = await delivery.deliver_messages(ids, concurrency=concurrency, chunk=chunk)
                elapsed = time.perf_counter() - started
            assert all(d.outcome == "sent" for d in result.values()), "a send failed"
            return elapsed
    finally:
        await transport.close()
        server.cleanup()


async def _enqueue(ctx: Context, i: int) -> int:
    message = MessageIn(
        idempotency_key=f"bench:{i}", channel="email", to_address=f"lead{i}@example.com",
        provider="resend", kind="transactional",
        payload={"subject": "Your visit", "html": "<p>See you soon.</p>"},
    )  # fmt: skip
    row = await ctx.repos.outbox.enqueue_message(message, ctx.clock.now())
    return int(row.id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--emails", type=int, default=300)
    parser.add_argument("--rate", type=float, default=20.0, help="RESEND_RATE_PER_SECOND")
    parser.add_argument("--latency", type=float, default=0.15)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    logs.configure("WARNING")
    elapsed = asyncio.run(run(args.emails, args.rate, args.latency, args.concurrency))
    achieved = args.emails / elapsed
    print("emails  limit/s  latency s  elapsed s  achieved/s  fraction")
    print(
        f"{args.emails:>6} {args.rate:>8.1f} {args.latency:>10.2f} {elapsed:>10.2f}"
        f" {achieved:>11.2f} {achieved / args.rate:>9.3f}"
    )


if __name__ == "__main__":
    main()
