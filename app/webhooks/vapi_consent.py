"""Opt-outs said on a call: the Vapi `optOut` tool and the end-of-call transcript fallback.

Contract:
- tool `optOut`, arguments `{"scope": "calls" | "all", "reason": string}` (a static
  `phone` argument, e.g. `{{customer.number}}`, is read too): the opt-out is applied before
  the answer (calls only, or every channel; a scope we do not know counts as "all": the
  person asked to stop), stored under `vapi:<call id>:optOut:<toolCallId>` (a retried tool
  call changes nothing), and the result is one short sentence the assistant can say;
- end-of-call report (app.campaigns.call_report, shared with the reconciler of lost
  reports): each line the customer said (artifact.messages with role `user`, else the
  `User:`/`Customer:` lines of the transcript) goes through app.consent.revocation as a
  call; any opt-out opts the lead out of calls, and of the channels its words name ("stop
  texting me too") or every channel ("take me off your list"). Stored under
  `vapi:<call id>:transcript-opt-out`. Lines that are only doubtful change nothing here;
- the lead is the call's (else the metadata lead_id, else the customer number); with no
  lead the number itself is suppressed for calls and texts.
"""

from __future__ import annotations

from typing import Any

import structlog

from app.consent.revocation import ALL, Channel
from app.db.errors import DatabaseError, DatabaseUnavailable
from app.jobs.bootstrap import Context
from app.providers.vapi_parse import call_identity, text
from app.webhooks.booking import TOOL_CALL_ID, Tool, ToolError

log = structlog.get_logger(__name__)
CONFIRM = {
    "calls": "Done: we have removed your number from our call list; you will not get "
             "another call from us.",
    "all": "Done: you will not get any more calls, texts or emails from us.",
}  # fmt: skip


def _identity(message: dict[str, Any], args: dict[str, Any] | None = None) -> dict[str, Any]:
    identity = call_identity(message)
    if not identity["to_number"] and args:
        identity["to_number"] = text(args.get("phone"))
    return identity


async def opt_out_tool(ctx: Context, args: dict[str, Any], message: dict[str, Any]) -> Any:
    scope = str(args.get("scope") or "all").strip().lower()
    scope = "calls" if scope in ("calls", "call") else "all"
    channels: tuple[Channel, ...] = ("call",) if scope == "calls" else ALL
    reason = (text(args.get("reason")) or "said on the call")[:500]
    identity = _identity(message, args)
    if not identity["vapi_call_id"] and not identity["to_number"]:
        raise ToolError("I could not tell which number this call is from.")
    key = (
        f"vapi:{identity['vapi_call_id'] or identity['to_number']}:optOut:{args.get(TOOL_CALL_ID)}"
    )
    # the call's identity is kept with the event: a replay applies it to the same lead
    stored = {"scope": scope, "reason": reason, "toolCallId": args.get(TOOL_CALL_ID),
              "call": identity}  # fmt: skip
    try:
        await ctx.repos.webhooks.apply_vapi_opt_out(
            key, "optOut", stored, identity, channels, reason, ctx.clock.now()
        )
    except DatabaseUnavailable:
        raise  # the message is spooled and applied by the drain (app.webhooks.spooling)
    except DatabaseError as exc:  # the transcript fallback gets a second chance after the call
        log.error("optOut not recorded", error=type(exc).__name__)
        raise ToolError("Sorry, I could not record that just now; it will be recorded "
                        "after this call.") from exc  # fmt: skip
    return CONFIRM[scope]


TOOLS: dict[str, Tool] = {"optOut": opt_out_tool}
