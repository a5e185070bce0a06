"""The Python of one webhook post by provider: a Twilio status callback, a Resend delivery
event, a Vapi status update and end-of-call report, posted as the simulator posts them.

The simulator posts every webhook (38,030 in the 10,000-lead month) to the app in its own
process. This posts each kind, signed by the simulator's Signer, through `create_app` and
the simulator's InProcessClient, to a transport that answers every store function with a
canned row (no database): what is left is the app's own Python — middleware, reading the
body, verifying the signature, parsing, building the store call and its result, answering.
Prints µs a post (wall and this process's CPU) by kind, best of `--rounds`; and `twilio
verify`: the Twilio signature check alone (app.webhooks.signatures.verify_twilio_pairs) on
the simulator's status callback, as many times as `--posts`.

    .venv/bin/python bench/webhook_post_cpu.py [--posts 3000] [--rounds 3]
    .venv/bin/python bench/webhook_post_cpu.py --before DIR [--pairs 4]

`--before DIR`: the same measurement run alternately (ABAB…, `--pairs` times) in child
processes with DIR's `app` package first on PYTHONPATH (an export of an older tree: `git
archive <ref> | tar -x -C DIR`) and with this tree's; prints each side's medians and
after/before. Not a test: it prints measured figures (bench/RESULTS.md "Webhook ingest").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

ROWS: dict[str, dict[str, Any]] = {
    "webhook_twilio_status": {"duplicate": False, "event_id": 1, "message_id": 2,
                              "status": "delivered"},
    "webhook_resend_event": {"duplicate": False, "event_id": 1, "message_id": 2, "lead_id": 3},
    "webhook_vapi_status": {"duplicate": False, "event_id": 1, "call_id": 2,
                            "status": "in-progress"},
    "webhook_vapi_report": {"duplicate": False, "event_id": 1, "call_id": 2, "lead_id": 3,
                            "outcome": "no_answer", "lead_phone": "+14155550100",
                            "lead_timezone": "America/New_York", "lead_state": "NY",
                            "recent_attempts": []},
}  # fmt: skip


class CannedDatabase:
    """A transport whose store functions answer one fixed row each (nothing is stored)."""

    name = "canned"

    async def call(self, function: str, args: Mapping[str, Any] | None = None) -> list[Any]:
        row = ROWS.get(function)
        if row is None:
            raise AssertionError(f"unexpected database call {function}")
        return [dict(row)]

    async def close(self) -> None:
        return None


async def measure(posts: int, rounds: int) -> dict[str, tuple[float, float]]:
    """µs a post (wall, CPU) by kind, the best round of each."""
    from app.core.clock import ManualClock
    from app.core.settings import Settings
    from app.jobs.bootstrap import Overrides, bootstrap
    from app.simulate import events as ev
    from app.simulate.asgi import InProcessClient
    from app.simulate.engine import START, sim_settings
    from app.webhooks import create_app

    settings = sim_settings(Settings(_env_file=None))
    clock = ManualClock(START)
    async with bootstrap(settings, Overrides(clock=clock, transport=CannedDatabase()),
                         sends=False) as ctx:  # fmt: skip
        app = create_app(ctx)
        app.state.context = ctx
        queue = ev.EventQueue(ev.Signer(clock, settings.public_base_url))
        http = InProcessClient(app, settings.public_base_url, ("127.0.0.1", 5555))
        call = ev.vapi_call("call-bench", "+14155550100", {"lead_id": 3})
        ended = START.replace(minute=5)
        kinds: dict[str, tuple[str, dict[str, Any], dict[str, str] | None]] = {
            "twilio status": ("/webhooks/twilio/status?outbox=2", {},
                              ev.twilio_status("SM" + "0" * 32, "delivered", "+14155550100")),
            "resend event": ("/webhooks/resend",
                             ev.resend_event("email.delivered", "em_1", "a@example.com", START),
                             None),
            "vapi status": ("/webhooks/vapi", {"message": ev.vapi_status(call, "in-progress",
                                                                         START)}, None),
            "vapi report": ("/webhooks/vapi", {"message": ev.vapi_report(
                call, "customer-did-not-answer", START, ended, False)}, None),
        }  # fmt: skip

        async def timed(path: str, body: Any, form: dict[str, str] | None) -> tuple[float, float]:
            wall, cpu = time.perf_counter(), time.process_time()
            for n in range(posts):
                given = {"svix-id": f"msg_{n}"} if path == "/webhooks/resend" else None
                if form is not None:
                    answer = await queue.post(http, path, form=form)
                else:
                    answer = await queue.post(http, path, json_body=body, headers=given)
                assert answer.status_code == 200, answer.text
            return ((time.perf_counter() - wall) / posts * 1e6,
                    (time.process_time() - cpu) / posts * 1e6)  # fmt: skip

        for path, body, form in kinds.values():
            await timed(path, body if form is None else None, form)  # warm
        best: dict[str, tuple[float, float]] = {}
        for _ in range(rounds):
            for kind, (path, body, form) in kinds.items():
                got = await timed(path, body, form)
                best[kind] = min(best.get(kind, got), got)
        return best


def verify_only(calls: int) -> tuple[float, float]:
    """µs of `verify_twilio_pairs` alone on the simulator's signed status callback (wall and
    CPU, the best of three blocks): the signature check without the app around it."""
    from urllib.parse import parse_qsl, urlencode

    from app.core.settings import Settings
    from app.simulate import events as ev
    from app.simulate.engine import sim_settings
    from app.webhooks.signatures import twilio_signature, verify_twilio_pairs

    base = sim_settings(Settings(_env_file=None)).public_base_url
    url = base + "/webhooks/twilio/status?outbox=2"  # the URL the simulator signs
    form = ev.twilio_status("SM" + "0" * 32, "delivered", "+14155550100")
    pairs = parse_qsl(urlencode(form), keep_blank_values=True, strict_parsing=True)
    signature = twilio_signature(ev.SIM_TWILIO_AUTH_TOKEN, url, pairs)
    best = (float("inf"), float("inf"))
    for _ in range(3):
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(calls):
            assert verify_twilio_pairs(ev.SIM_TWILIO_AUTH_TOKEN, url, pairs, signature)
        got = (
            (time.perf_counter() - wall) / calls * 1e6,
            (time.process_time() - cpu) / calls * 1e6,
        )
        best = min(best, got)
    return best


def child(before: str | None, posts: int, rounds: int) -> dict[str, list[float]]:
    env = dict(os.environ)
    if before:
        env["PYTHONPATH"] = before + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(
        [sys.executable, __file__, "--posts", str(posts), "--rounds", str(rounds), "--json"],
        env=env, cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    parsed: dict[str, list[float]] = json.loads(out.strip().splitlines()[-1])
    return parsed


def compare(before: str, pairs: int, posts: int, rounds: int) -> None:
    sides: dict[str, list[dict[str, list[float]]]] = {"before": [], "after": []}
    for p in range(pairs):
        order = ("before", "after") if p % 2 == 0 else ("after", "before")
        for side in order:
            sides[side].append(child(before if side == "before" else None, posts, rounds))
    kinds = list(sides["before"][0])
    print("µs a post, CPU (median of the pairs' best rounds); wall in brackets")
    for kind in kinds:
        b = [r[kind] for r in sides["before"]]
        a = [r[kind] for r in sides["after"]]
        bc, ac = statistics.median(x[1] for x in b), statistics.median(x[1] for x in a)
        bw, aw = statistics.median(x[0] for x in b), statistics.median(x[0] for x in a)
        ratios = ", ".join(f"{y[1] / x[1]:.2f}" for x, y in zip(b, a, strict=True))
        print(f"{kind:14} before {bc:6.1f} ({bw:6.1f})  after {ac:6.1f} ({aw:6.1f})  "
              f"after/before {ac / bc:.2f} (by pair: {ratios})")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", help="an older tree's export to compare with")
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--json", action="store_true", help="one JSON line (for --before)")
    args = parser.parse_args()
    if args.before:
        compare(args.before, args.pairs, args.posts, args.rounds)
    else:
        result = asyncio.run(measure(args.posts, args.rounds))
        result["twilio verify"] = verify_only(args.posts)
        if args.json:
            print(json.dumps({k: list(v) for k, v in result.items()}))
        else:
            for kind, (wall, cpu) in result.items():
                print(f"{kind:14} {wall:6.1f} µs a post wall, {cpu:6.1f} µs CPU")
