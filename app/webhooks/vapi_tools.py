"""Vapi's reply-bearing messages: `assistant-request`, `tool-calls` and the legacy
`function-call` (reply shapes: tests/fixtures/vapi/response-shapes.md).

Contract:
- assistant-request: `{"assistantId", "assistantOverrides": {"variableValues", "metadata"}}`
  chosen by VAPI_ASSISTANT_RULES `campaign:<slug>` > the caller's campaign's `assistant`
  (agents/<name>.yaml) > rules `status:<status>` > `inbound|outbound` > VAPI_ASSISTANT_ID; a
  rule's value is an agent's name or a Vapi assistant id; an agent answers with its current
  version's Vapi id, or its candidate's by the version trial's draw (app.agents.versions),
  the choice recorded against the Vapi call id (docs/agents.md "Version trials");
  `variableValues` are the one vocabulary of app.core.call_variables (outbound calls send
  the same keys); the lookups are bounded by VAPI_ASSISTANT_REQUEST_TIMEOUT_SECONDS and
  any failure falls back to the default assistant (Vapi's 7.5 s deadline is fixed);
  nothing configured → a spoken `error`;
- tool-calls: `{"results": [{"toolCallId", "result" | "error"}]}`, one per call, same order,
  single-line strings, HTTP 200 even for failures; arguments may be an object or a JSON
  string; an unknown tool gets an `error` entry. Tools: app.webhooks.booking, and `optOut`
  (app.webhooks.vapi_consent).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import structlog

from app.agents.versions import inbound_assistant
from app.core.call_variables import Direction, call_variables
from app.db.errors import DatabaseError, DatabaseUnavailable
from app.db.webhooks import Caller
from app.jobs.bootstrap import Context
from app.jobs.calls import version_deps
from app.providers.vapi_parse import call_of, customer_number, obj, text
from app.webhooks.booking import TOOL_CALL_ID, TOOLS, ToolError
from app.webhooks.vapi_consent import TOOLS as CONSENT_TOOLS

log = structlog.get_logger(__name__)
NO_ASSISTANT = "Sorry, we can't take your call right now. Please try again later."


# --- assistant-request ---------------------------------------------------------------------
async def _caller(ctx: Context, number: str | None) -> Caller | None:
    if not number:
        return None
    timeout = ctx.settings.vapi_assistant_request_timeout_seconds
    try:
        async with asyncio.timeout(timeout):  # no task of its own, unlike wait_for
            return await ctx.repos.webhooks.caller(number)
    except (TimeoutError, DatabaseError) as exc:
        log.warning("assistant-request: caller lookup failed, default assistant",
                    error=type(exc).__name__)  # fmt: skip
        return None


async def _agent_id(
    ctx: Context, agent: str | None, campaign: str | None, vapi_call_id: str | None
) -> str | None:
    """The Vapi id of an agent's version for this call (by name, or the campaign's agent:
    its current version, or its candidate by the version trial's draw, recorded against
    the call); None on any failure."""
    try:
        async with asyncio.timeout(ctx.settings.vapi_assistant_request_timeout_seconds):
            return await inbound_assistant(version_deps(ctx), agent, campaign, vapi_call_id)
    except (TimeoutError, DatabaseError) as exc:
        log.warning("assistant-request: agent lookup failed", error=type(exc).__name__)
        return None


async def pick_assistant(
    ctx: Context, caller: Caller | None, direction: str, vapi_call_id: str | None = None
) -> str | None:
    rules = ctx.settings.vapi_assistant_rules
    campaign = caller.campaign if caller is not None else None
    chosen = rules.get(f"campaign:{campaign}") if campaign else None
    if chosen is None and campaign:
        found = await _agent_id(ctx, None, campaign, vapi_call_id)
        if found:
            return found
    keys = [f"status:{caller.status}"] if caller is not None else []
    chosen = chosen or next((rules[k] for k in [*keys, direction] if k in rules), None)
    if chosen is None:
        return ctx.settings.vapi_assistant_id
    # an agent's name, else a Vapi id
    return await _agent_id(ctx, chosen, None, vapi_call_id) or chosen


async def assistant_request(ctx: Context, message: dict[str, Any]) -> dict[str, Any]:
    number = customer_number(message)
    caller = await _caller(ctx, number)
    call_type = str(call_of(message).get("type", "inboundPhoneCall"))
    direction: Direction = "outbound" if call_type == "outboundPhoneCall" else "inbound"
    vapi_call_id = text(call_of(message).get("id"))
    assistant = await pick_assistant(ctx, caller, direction, vapi_call_id)
    if not assistant:
        return {"error": NO_ASSISTANT}  # must be non-empty: it is spoken to the caller
    variables = call_variables(
        first_name=caller.name if caller else None, business_name=ctx.settings.business_name,
        booking_url=ctx.settings.booking_url, lead_status=caller.status if caller else None,
        direction=direction,
    )  # fmt: skip
    meta = {"source": direction, "callerNumber": number, "lead_id": caller and caller.lead_id}
    overrides = {"variableValues": variables, "metadata": {k: v for k, v in meta.items() if v}}
    return {"assistantId": assistant, "assistantOverrides": overrides}


# --- tool-calls ----------------------------------------------------------------------------
def _calls(message: dict[str, Any]) -> list[dict[str, Any]]:
    for key in ("toolCallList", "toolCalls"):
        if isinstance(message.get(key), list) and message[key]:
            return [obj(c) for c in message[key]]
    with_list = message.get("toolWithToolCallList")
    if isinstance(with_list, list):
        return [obj(obj(t).get("toolCall")) for t in with_list]
    return []


def _arguments(call: dict[str, Any]) -> dict[str, Any]:
    fn = obj(call.get("function"))
    raw = fn.get("arguments", call.get("arguments", call.get("parameters", fn.get("parameters"))))
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            raise ToolError("the arguments are not valid JSON") from exc
    if not isinstance(raw, dict):
        raise ToolError("the arguments must be an object")
    return raw


def one_line(value: Any) -> str:
    """Vapi needs single-line strings: objects become compact JSON, newlines spaces."""
    out = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return " ".join(out.splitlines())


async def run_tool(ctx: Context, name: str, args: dict[str, Any], message: dict[str, Any]) -> Any:
    tool = TOOLS.get(name) or CONSENT_TOOLS.get(name)
    if tool is None:
        raise ToolError(f"Unknown tool: {name}")
    return await tool(ctx, args, message)


async def _one_result(
    ctx: Context, call: dict[str, Any], message: dict[str, Any]
) -> dict[str, Any]:
    name = text(obj(call.get("function")).get("name")) or text(call.get("name")) or ""
    entry: dict[str, Any] = {"toolCallId": str(call.get("id", "")), "name": name}
    try:
        args = {**_arguments(call), TOOL_CALL_ID: entry["toolCallId"]}
        entry["result"] = one_line(await run_tool(ctx, name, args, message))
    except ToolError as exc:
        entry["error"] = one_line(str(exc))
    except DatabaseUnavailable:
        raise  # the whole message is spooled and answered politely (app.webhooks.spooling)
    except DatabaseError as exc:
        log.error("tool call failed", tool=name, error=type(exc).__name__)
        entry["error"] = "The booking system is unavailable right now; please try again later."
    return entry


async def tool_calls(ctx: Context, message: dict[str, Any]) -> dict[str, Any]:
    return {"results": [await _one_result(ctx, call, message) for call in _calls(message)]}


async def function_call(ctx: Context, message: dict[str, Any]) -> dict[str, Any]:
    """Legacy `function-call`: `{"result": "<string>"}`, also for failures."""
    fn = obj(message.get("functionCall"))
    args = fn.get("parameters")
    try:
        parsed = obj(json.loads(args)) if isinstance(args, str) else obj(args)
        return {"result": one_line(await run_tool(ctx, str(fn.get("name", "")), parsed, message))}
    except (ToolError, ValueError) as exc:
        return {"result": one_line(f"Error: {exc}")}
