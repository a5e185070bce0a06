"""CPU per text through the Twilio adapter, in isolation: `TwilioSmsSender.send` as drip calls
it (limiter, last-moment check, retry policy, httpx client), each request answered at once by
the same stand-in as bench/dispatch.py at httpx's transport (`AsyncHTTPTransport`, where the
network would start). No database: the check is a coroutine that says go.

    .venv/bin/python bench/dispatch.py ... is the whole pipeline; this is the send alone:
    .venv/bin/python bench/twilio_send.py [--sends 10000] [--rounds 5] [--concurrency 500]

Prints, per round, process CPU µs per send (`time.process_time`), of which the stand-in's own
(Twilio's side: parsing the form, building the 201). Best round = the least disturbed by other
processes on the machine.

Not a test: it prints measured figures (see bench/RESULTS.md, drip section).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from pydantic import SecretStr

sys.path[:0] = [str(Path(__file__).parent)]
from dispatch import STAND_IN_SECONDS, twilio_stand_in  # noqa: E402

from app.core.clock import SystemClock  # noqa: E402
from app.providers.ports import SmsMessage  # noqa: E402
from app.providers.ratelimit import KeyedRateLimiter  # noqa: E402
from app.providers.retry import RetryConfig, RetryPolicy  # noqa: E402
from app.providers.twilio import TwilioConfig, TwilioSmsSender  # noqa: E402

SID = "AC0123456789abcdef0123456789abcdef"
BODY = "Hi Lead, Acme HVAC here. Reply STOP to opt out."


async def go() -> bool:
    return True


async def one_round(sender: TwilioSmsSender, sends: int, concurrency: int) -> tuple[float, float]:
    """(CPU µs per send, of which the stand-in's) for `sends` texts, `concurrency` at a time."""
    now = datetime.now(UTC)
    messages = [
        SmsMessage(outbox_id=i, idempotency_key=f"k{i}", to=f"+1212{i:07d}", body=BODY,
                   claimed_at=now)
        for i in range(sends)
    ]  # fmt: skip
    gate = asyncio.Semaphore(concurrency)

    async def send(message: SmsMessage) -> None:
        async with gate:
            await sender.send(message, check=go)

    STAND_IN_SECONDS[0] = 0.0
    started = time.process_time()
    await asyncio.gather(*(send(m) for m in messages))
    spent = time.process_time() - started
    return spent / sends * 1e6, STAND_IN_SECONDS[0] / sends * 1e6


async def main(sends: int, rounds: int, concurrency: int) -> None:
    clock = SystemClock()
    config = TwilioConfig(
        account_sid=SID, auth_token=SecretStr("9f8e7d6c5b4a39281706f5e4d3c2b1a0"),
        from_number="+15005550006", messaging_service_sid=None,
        public_base_url="https://bench.example.com",
    )  # fmt: skip
    async with httpx.AsyncClient() as client:
        sender = TwilioSmsSender(
            config, client=client, retry=RetryPolicy(RetryConfig(), clock=clock),
            limiter=KeyedRateLimiter(math.inf, clock=clock), clock=clock,
        )  # fmt: skip
        with twilio_stand_in() as answered:
            await one_round(sender, 500, concurrency)  # warm
            for n in range(rounds):
                per_send, stand_in = await one_round(sender, sends, concurrency)
                print(f"round {n + 1}: {per_send:6.1f} µs CPU per send, of which the stand-in"
                      f" {stand_in:5.1f}")  # fmt: skip
        assert answered[0] == 500 + rounds * sends


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sends", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=500)
    args = parser.parse_args()
    asyncio.run(main(args.sends, args.rounds, args.concurrency))
