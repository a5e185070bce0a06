"""A webhook posted by the simulator: httpx's ASGI client against `InProcessClient`.

The simulator posts every webhook (38,030 in the 10,000-lead month) to the app in its own
process. This posts the same signed-size body to a bare ASGI app (answers 200, reads the
body) through both clients, in alternating rounds, and prints µs a post: what the client
side costs, the app's own work left out (app/simulate/asgi.py's docstring cites it).

    .venv/bin/python bench/sim_post.py [--posts 5000] [--rounds 4]

Not a test: it prints measured figures (bench/RESULTS.md "Simulator").
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx
from starlette.types import Receive, Scope, Send

from app.simulate.asgi import InProcessClient

BASE = "https://nightshift.example.com"
BODY = b"x" * 1_500  # about a Twilio status callback's form
HEADERS = {"content-type": "application/x-www-form-urlencoded", "x-twilio-signature": "s" * 28}


async def bare(scope: Scope, receive: Receive, send: Send) -> None:
    """A bare ASGI endpoint: reads the body, answers 200 with an empty body."""
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def timed(client: httpx.AsyncClient, posts: int) -> float:
    started = time.perf_counter()
    for n in range(posts):
        answer = await client.post(f"/webhooks/twilio/status?outbox={n}", content=BODY,
                                   headers=HEADERS)  # fmt: skip
        assert answer.status_code == 200
    return (time.perf_counter() - started) / posts * 1e6


async def main(posts: int, rounds: int) -> None:
    through_httpx = httpx.AsyncClient(transport=httpx.ASGITransport(bare), base_url=BASE)
    direct = InProcessClient(bare, BASE, ("203.0.113.7", 443))
    async with through_httpx, direct:
        await timed(through_httpx, 200), await timed(direct, 200)  # warm
        for r in range(1, rounds + 1):
            a, b = await timed(through_httpx, posts), await timed(direct, posts)
            print(f"round {r}: httpx ASGITransport {a:.1f} µs a post, InProcessClient {b:.1f} µs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(main(args.posts, args.rounds))
