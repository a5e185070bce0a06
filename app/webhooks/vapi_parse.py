"""Reading Vapi server messages: the parsing lives in app.providers.vapi_parse (the webhooks
and the call reconciler read the same shapes, and a job may not import the web layer);
re-exported here for the web handlers."""

from __future__ import annotations

from app.providers.vapi_parse import (
    ANSWERED,
    CALL_STATUS,
    EXACT,
    Outcome,
    call_id,
    call_identity,
    call_of,
    classify_outcome,
    customer_number,
    duration,
    ended_reason,
    instant,
    metadata,
    number,
    obj,
    recording_url,
    report_fields,
    status_fields,
    text,
)

__all__ = [
    "ANSWERED",
    "CALL_STATUS",
    "EXACT",
    "Outcome",
    "call_id",
    "call_identity",
    "call_of",
    "classify_outcome",
    "customer_number",
    "duration",
    "ended_reason",
    "instant",
    "metadata",
    "number",
    "obj",
    "recording_url",
    "report_fields",
    "status_fields",
    "text",
]
