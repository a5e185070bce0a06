"""A webhook POST through the app in-process: the fast path (app.webhooks.front) against
FastAPI's whole stack, in alternating rounds in one process.

The simulator posts every webhook to the app in its own process (app.simulate.asgi). This
posts signed Vapi `transcript` messages the way the simulator does (its Signer and
EventQueue): verified, parsed and answered `{}` with no database call, so what differs
between the two apps is only the layers in front of the handler. One app is create_app's;
the other is the same app with its fast routes emptied (every request through FastAPI's
middleware stack and router, as before). Prints µs a post, wall and this process's CPU.

    .venv/bin/python bench/webhook_front_ab.py [--posts 5000] [--rounds 4]

Not a test: it prints measured figures (bench/RESULTS.md "Webhook ingest").
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from app.core.clock import ManualClock
from app.core.settings import Settings
from app.jobs.bootstrap import Overrides, bootstrap
from app.simulate.asgi import InProcessClient
from app.simulate.engine import START, sim_settings
from app.simulate.events import EventQueue, Signer, vapi_call
from app.webhooks import create_app
from app.webhooks.front import WebApp


class NoDatabase:
    """The transport of a run that must not reach Postgres (a transcript stores nothing)."""

    name = "none"

    async def call(self, function: str, args: Any = None) -> list[dict[str, Any]]:
        raise AssertionError(f"no database call expected, got {function}")

    async def close(self) -> None:
        return None


async def timed(
    queue: EventQueue, http: InProcessClient, body: Any, posts: int
) -> tuple[float, float]:
    """µs a post: wall, this process's CPU."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(posts):
        response = await queue.post(http, "/webhooks/vapi", json_body=body)
        assert response.status_code == 200, response.text
    return (1e6 * (time.perf_counter() - wall) / posts, 1e6 * (time.process_time() - cpu) / posts)


async def main(posts: int, rounds: int) -> None:
    settings = sim_settings(Settings(_env_file=None))
    clock = ManualClock(START)
    overrides = Overrides(clock=clock, transport=NoDatabase())
    async with bootstrap(settings, overrides, sends=False) as ctx:
        fast, stack = create_app(ctx), create_app(ctx)
        assert isinstance(stack, WebApp)
        stack._fast_routes = {}  # every request through FastAPI's stack, as before
        for app in (fast, stack):
            app.state.context = ctx  # no lifespan: nothing to drain here
        queue = EventQueue(Signer(clock, settings.public_base_url))
        call = vapi_call("call-bench", "+14155550100", {})
        words = {"role": "user", "transcriptType": "final", "transcript": "Yes, tomorrow works."}
        body = {"message": {"type": "transcript", "call": call, **words}}
        clients = {label: InProcessClient(app, settings.public_base_url, ("127.0.0.1", 5555))
                   for label, app in (("fast path", fast), ("FastAPI stack", stack))}  # fmt: skip
        for http in clients.values():
            await timed(queue, http, body, 300)  # warm
        results: dict[str, list[tuple[float, float]]] = {label: [] for label in clients}
        for r in range(rounds):
            order = list(clients) if r % 2 == 0 else list(reversed(clients))
            for label in order:
                results[label].append(await timed(queue, clients[label], body, posts))
        for label, values in results.items():
            line = ", ".join(f"{w:.1f}/{c:.1f}" for w, c in values)
            print(f"{label:14} µs a post, wall/CPU by round: {line}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(main(args.posts, args.rounds))
