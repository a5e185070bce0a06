"""Reading Vapi server messages and `GET /call/{id}` bodies: tolerant of missing fields, types
Vapi adds later and the shape variations documented in docs/notes/vapi.md (parse as dicts,
validate only what we use).

- the call id is `message.call.id`; the customer number `call.customer.number` (else
  `message.customer.number`); correlation data `call.assistantOverrides.metadata` (and
  `call.metadata`, read both);
- `endedReason` is an open string: exact match, then prefix, unknown → "failed";
- `successEvaluation` is kept as a string ("true"/"false" for the PassFail rubric);
- duration: `durationSeconds`, else endedAt - startedAt, else `durationMs`;
- `report_of_call`: an ended `Call` (`GET /call/{id}`) as the end-of-call-report message it
  stands for, so both go through one parser and one apply function.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

Outcome = str  # answered | booked | no_answer | busy | voicemail | failed

ANSWERED = frozenset({
    "customer-ended-call", "assistant-ended-call", "assistant-ended-call-after-message-spoken",
    "assistant-ended-call-with-hangup-task", "assistant-said-end-call-phrase",
    "assistant-forwarded-call", "exceeded-max-duration", "silence-timed-out",
})  # fmt: skip
EXACT = {"customer-did-not-answer": "no_answer", "customer-busy": "busy", "voicemail": "voicemail"}
CALL_STATUS = {
    "scheduled": "queued", "queued": "queued", "ringing": "ringing",
    "in-progress": "in-progress", "forwarding": "forwarding", "ended": "ended",
}  # fmt: skip


def obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def call_of(message: dict[str, Any]) -> dict[str, Any]:
    return obj(message.get("call"))


def call_id(message: dict[str, Any]) -> str | None:
    return text(call_of(message).get("id"))


def customer_number(message: dict[str, Any]) -> str | None:
    call = call_of(message)
    return text(obj(call.get("customer")).get("number")) or text(
        obj(message.get("customer")).get("number")
    )


def metadata(message: dict[str, Any]) -> dict[str, Any]:
    call = call_of(message)
    return {**obj(call.get("metadata")), **obj(obj(call.get("assistantOverrides")).get("metadata"))}


def call_identity(message: dict[str, Any]) -> dict[str, Any]:
    lead = metadata(message).get("lead_id")
    return {
        "vapi_call_id": call_id(message),
        "to_number": customer_number(message),
        "lead_id": str(lead) if lead is not None else None,
    }


def ended_reason(message: dict[str, Any]) -> str | None:
    return text(message.get("endedReason")) or text(call_of(message).get("endedReason"))


def classify_outcome(reason: str | None, structured: dict[str, Any]) -> Outcome:
    """The outcome class of a finished call (docs/notes/vapi.md §3, grouping ours)."""
    if structured.get("appointmentBooked") is True:
        return "booked"
    if reason in EXACT:
        return EXACT[reason]
    if reason in ANSWERED:
        return "answered"
    return "failed"  # call.start.error-*, pipeline-error-*, unknown values, missing reason


def status_fields(message: dict[str, Any]) -> dict[str, Any] | None:
    """The calls-row update of a status-update, or None for a status we do not track."""
    status = CALL_STATUS.get(str(message.get("status", "")))
    if status is None:
        return None
    call = call_of(message)
    return {
        **call_identity(message),
        "status": status,
        "ended_reason": ended_reason(message),
        "started_at": instant(call.get("startedAt")),
        "ended_at": instant(call.get("endedAt")),
    }


def instant(value: Any) -> datetime | None:
    """Vapi's ISO-8601 timestamp, parsed once here; None when absent, unreadable or without
    an offset (a naive time cannot be placed). The transport serialises it for the database."""
    raw = text(value)
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00")) if raw else None
    except ValueError:
        return None
    return parsed if parsed and parsed.tzinfo else None


def duration(
    message: dict[str, Any], started: datetime | None, ended: datetime | None
) -> float | None:
    seconds = number(message.get("durationSeconds"))
    if seconds is not None:
        return seconds
    if started and ended:
        return max(0.0, (ended - started).total_seconds())
    ms = number(message.get("durationMs"))
    return ms / 1000 if ms is not None else None


def recording_url(message: dict[str, Any], artifact: dict[str, Any]) -> str | None:
    """The stable recording URL (never a presigned one: those expire)."""
    mono = obj(obj(artifact.get("recording")).get("mono"))
    return (text(artifact.get("recordingUrl")) or text(mono.get("combinedUrl"))
            or text(message.get("recordingUrl")))  # fmt: skip


def _evaluation(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if value is not None else None


def structured_outputs(artifact: dict[str, Any]) -> dict[str, Any]:
    """`artifact.structuredOutputs` (keyed by output id → `{name, result}`, docs/notes/
    vapi-agents.md §4) as `{name: result}`: the agents' outputs (agents/outputs.yaml) are
    read by name (the training documents, docs/agents.md)."""
    found = {}
    for item in obj(artifact.get("structuredOutputs")).values():
        name = text(obj(item).get("name"))
        if name is not None and "result" in obj(item):
            found[name] = obj(item)["result"]
    return found


def report_fields(message: dict[str, Any]) -> dict[str, Any]:
    """The calls-row update of an end-of-call report; a minimal report is valid."""
    call, artifact, analysis = (
        call_of(message),
        obj(message.get("artifact")),
        obj(message.get("analysis")),
    )
    structured = obj(analysis.get("structuredData"))
    started = instant(message.get("startedAt")) or instant(call.get("startedAt"))
    ended = instant(message.get("endedAt")) or instant(call.get("endedAt"))
    reason = ended_reason(message)
    evaluation = _evaluation(analysis.get("successEvaluation"))
    return {
        **call_identity(message),
        "ended_reason": reason,
        "outcome": classify_outcome(reason, structured),
        "started_at": started,
        "ended_at": ended,
        "duration_seconds": duration(message, started, ended),
        "cost": number(message.get("cost")),
        "summary": text(analysis.get("summary")) or text(message.get("summary")),
        "transcript": text(artifact.get("transcript")) or text(message.get("transcript")),
        "recording_url": recording_url(message, artifact),
        "analysis": {k: v for k, v in (("structuredData", structured or None),
                     ("successEvaluation", evaluation),
                     ("structuredOutputs", structured_outputs(artifact) or None))
                     if v is not None},
    }  # fmt: skip


# The parts of an ended Call an end-of-call report carries at its top level (docs/notes/vapi.md
# §3 and vapi-agents.md §5); the rest of the Call stays under `call`, as in a webhook.
_REPORT_KEYS = ("endedReason", "startedAt", "endedAt", "cost", "costs", "analysis", "artifact")


def report_of_call(call: dict[str, Any]) -> dict[str, Any]:
    """The end-of-call-report message for an ended `Call` fetched with `GET /call/{id}`."""
    message: dict[str, Any] = {"type": "end-of-call-report"}
    message.update({k: call[k] for k in _REPORT_KEYS if k in call})
    message["call"] = {k: v for k, v in call.items() if k not in ("analysis", "artifact")}
    return message
