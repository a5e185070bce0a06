"""The one vocabulary of `{{variables}}` an assistant's prompt may use (docs/agents.md).

Both paths that start a conversation fill exactly these keys:
- outbound calls: `assistantOverrides.variableValues` of `POST /call` (app.campaigns.steps);
- inbound calls: the `assistant-request` answer (app.webhooks.vapi_tools).

A prompt that uses a key outside `CALL_VARIABLES` (or Vapi's built-ins, `VAPI_BUILTINS`) is
refused when the agent definitions are loaded (app.agents.definition), so a variable one
path does not supply can never render as a blank in a live call.
"""

from __future__ import annotations

from typing import Literal

Direction = Literal["inbound", "outbound"]

CALL_VARIABLES: dict[str, str] = {
    "first_name": "the lead's first name, or 'there' when unknown",
    "business_name": "BUSINESS_NAME",
    "booking_url": "BOOKING_URL, the self-service booking page",
    "lead_status": "the lead's status (new, contacted, engaged, ...), or 'unknown'",
    "direction": "'outbound' (we called) or 'inbound' (they called us)",
}

# Vapi fills these itself (https://docs.vapi.ai/assistants/dynamic-variables).
VAPI_BUILTINS = frozenset({"now", "date", "time", "month", "day", "year", "customer", "call",
                           "phoneNumber", "transport"})  # fmt: skip


def call_variables(
    *,
    first_name: str | None,
    business_name: str,
    booking_url: str,
    lead_status: str | None,
    direction: Direction,
) -> dict[str, str]:
    """The `variableValues` of one call: every key of CALL_VARIABLES, never blank."""
    first = (first_name or "").strip().split(" ")[0] if first_name else ""
    return {
        "first_name": first or "there",
        "business_name": business_name,
        "booking_url": booking_url,
        "lead_status": lead_status or "unknown",
        "direction": direction,
    }
