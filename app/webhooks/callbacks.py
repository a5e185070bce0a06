"""Promises made during a database outage, kept: a booking the caller asked for while the
database was down was answered "I can't book that right now — someone will call you back"
(app.webhooks.spooling); when the drain applies it later and it can no longer be booked (the
slot was taken meanwhile, the time has passed, the arguments do not parse), a person must
call back, so the operator is told.

Contract of `promised_callbacks(ctx, message, reply)` (called for a drained Vapi
`tool-calls` or `function-call` message, after its tools ran):
- each `bookAppointment` whose drained result is an error raises the warning alert
  `callback:<call id or number>:<toolCallId>` (deduped: a second drain of the same message
  raises nothing new) titled "Call back <number>: …", with the requested date and time, the
  caller's name when given, the reason and the Vapi call id; the drain that applied the
  message dispatches it at once (a job's run: `run_job`; the web app's drain loop:
  `drain_forever`) to the warning route's recipients;
- a booking that went through needs nothing here (the appointments loop confirms it);
- it never raises: a failure to alert is logged (the drain has applied the message).
"""

from __future__ import annotations

import json
from typing import Any

import structlog

from app.jobs.bootstrap import Context
from app.providers.vapi_parse import call_id, customer_number, obj, text

log = structlog.get_logger(__name__)
BOOK = "bookAppointment"


def _arguments(call: dict[str, Any]) -> dict[str, Any]:
    fn = obj(call.get("function"))
    raw = fn.get("arguments", fn.get("parameters", call.get("arguments")))
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    return obj(raw)


def unkept_bookings(message: dict[str, Any], reply: dict[str, Any]) -> list[dict[str, Any]]:
    """The bookings of a drained message that were refused: `{tool_call_id, args, reason}`."""
    if message.get("type") == "function-call":
        fn = obj(message.get("functionCall"))
        result = str(reply.get("result", ""))
        if fn.get("name") == BOOK and result.startswith("Error:"):
            args = _arguments({"function": {"arguments": fn.get("parameters")}})
            return [{"tool_call_id": "function-call", "args": args,
                     "reason": result.removeprefix("Error:").strip()}]  # fmt: skip
        return []
    calls: dict[str, dict[str, Any]] = {}
    for key in ("toolCallList", "toolCalls"):
        for call in message.get(key) or []:
            calls.setdefault(str(obj(call).get("id", "")), obj(call))
    found = []
    for entry in map(obj, reply.get("results") or []):
        if entry.get("name") == BOOK and "error" in entry:
            call = calls.get(str(entry.get("toolCallId", "")), {})
            found.append({"tool_call_id": str(entry.get("toolCallId", "")),
                          "args": _arguments(call), "reason": str(entry["error"])})  # fmt: skip
    return found


async def promised_callbacks(ctx: Context, message: dict[str, Any], reply: Any) -> int:
    """Alert the operator for each booking promised and not made; how many (module contract)."""
    unkept = unkept_bookings(message, obj(reply))
    number = customer_number(message)
    for booking in unkept:
        args = booking["args"]
        who = text(args.get("phone")) or number or "the caller"
        when = " ".join(v for v in (text(args.get("date")), text(args.get("time"))) if v)
        details = {
            "phone": who, "name": text(args.get("patientName")) or text(args.get("name")),
            "requested": when or None, "reason": booking["reason"],
            "vapi_call_id": call_id(message), "promised": "someone will call you back",
        }  # fmt: skip
        key = f"callback:{call_id(message) or who}:{booking['tool_call_id']}"
        title = (f"Call back {who}: their booking{' for ' + when if when else ''}, asked during "
                 f"a database outage, could not be made ({booking['reason']})")  # fmt: skip
        try:
            await ctx.alerts.raise_alert(key, "warning", title[:300], details)
        except Exception as exc:  # the message is applied; the log keeps the promise visible
            log.error("callback alert not raised", key=key, error=type(exc).__name__)
    return len(unkept)
