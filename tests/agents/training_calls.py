"""End-of-call reports of Sarah's HVAC calls, shaped like Vapi's (the shared fixture 05 with
the call, transcript and `artifact.structuredOutputs` of agents/outputs.yaml replaced:
keyed by output id → `{name, result}`, docs/notes/vapi-agents.md §4), applied as the
webhook applies them."""

from __future__ import annotations

import copy
import uuid
from datetime import datetime, timedelta
from typing import Any

from app.jobs.bootstrap import Context
from app.providers.vapi_parse import report_fields
from tests.webhooks.helpers import fixture

# the output ids Vapi gives the inline structured outputs (stable per assistant)
OUTPUT_IDS = {
    "booked": "5f0c2d4e-0b1a-4c55-9a61-0d3e8f2b7a10",
    "objections": "7a1d9e3c-52b4-4f0e-8c6d-1e2f3a4b5c6d",
    "do_not_contact": "9b2e0f4d-63c5-4a1f-9d7e-2f3a4b5c6d7e",
    "quality": "ab3f1a5e-74d6-4b2a-8e8f-3a4b5c6d7e8f",
}


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def report(
    *, started: datetime, booked: bool, stage: str, score: int, transcript: str,
    objections: list[dict[str, Any]] | None, seconds: float = 180,
) -> dict[str, Any]:  # fmt: skip
    """One end-of-call report; `objections` None: no structured outputs at all (an agent
    pushed before outputs.yaml, or extraction timed out)."""
    body = copy.deepcopy(fixture("vapi", "05-end-of-call-report-completed-booked.json"))
    message = body["message"]
    call_id = str(uuid.uuid4())
    ended = started + timedelta(seconds=seconds)
    message["call"].update({"id": call_id, "startedAt": iso(started), "endedAt": iso(ended),
                            "endedReason": "assistant-ended-call" if booked
                            else "customer-ended-call"})  # fmt: skip
    message["call"]["assistantOverrides"]["metadata"] = {}
    message.update({
        "startedAt": iso(started), "endedAt": iso(ended), "durationSeconds": seconds,
        "durationMs": seconds * 1000, "endedReason": message["call"]["endedReason"],
        "transcript": transcript,
    })  # fmt: skip
    message["analysis"] = {"summary": "HVAC call", "structuredData": {"appointmentBooked": booked}}
    artifact = message["artifact"]
    artifact["transcript"] = transcript
    if objections is not None:
        results = {
            "booked": {"booked": booked, "date": "2026-12-01" if booked else "", "time": ""},
            "objections": {"objections": objections},
            "do_not_contact": {"do_not_contact": False, "scope": "none", "words": ""},
            "quality": {"score": score, "stage_reached": stage, "issues": ""},
        }
        artifact["structuredOutputs"] = {
            OUTPUT_IDS[name]: {"name": name, "result": result} for name, result in results.items()
        }
    return dict(body)


async def apply(ctx: Context, body: dict[str, Any]) -> None:
    message = body["message"]
    key = f"vapi:{message['call']['id']}:end-of-call-report"
    await ctx.repos.webhooks.apply_vapi_report(key, body, report_fields(message), ctx.clock.now())


PRICE = "How much is this going to cost me? Last guy charged me four hundred bucks."
PRICE_FEE = "The diagnostic visit is a flat fee, and it goes toward the repair if you go ahead."
PRICE_VAGUE = "Prices vary a lot, the technician will tell you on site."
TIMING = "I'm at work all week, can you call me back later?"
TIMING_SLOTS = "We have Saturday morning or weekday evenings after five, would either work?"


def objection(said: str, answer: str, resolved: bool) -> dict[str, Any]:
    return {"objection": said, "answer": answer, "resolved": resolved}


def transcript(*lines: str) -> str:
    return "\n".join(lines) + "\n"
