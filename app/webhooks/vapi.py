"""Vapi server messages: `POST /webhooks/vapi`.

Contract:
- verified (app.webhooks.signatures.verify_vapi_request) before anything else: 401;
- assistant-request, tool-calls, function-call → their reply (app.webhooks.vapi_tools);
- status-update → the calls row moves forward only; stored under
  `vapi:<call id>:status-update:<status>`;
- end-of-call-report → app.campaigns.call_report.apply_report (the reconciler of lost
  reports uses it too): the call and lead updated once, stored under
  `vapi:<call id>:end-of-call-report` (never a body hash: redeliveries differ in presigned
  URLs); then the customer's words go through the revocation classifier (an opt-out said
  on the call), then the rescue bridge (app.campaigns.rescue), a due text sent after the
  reply;
- a drained tool call (applied after a database outage) whose booking can no longer be made
  alerts the operator to call back (app.webhooks.callbacks);
- hang → stored for metrics; every other type (transcript, speech-update, types Vapi adds
  later) and verified bodies we cannot use → 200 `{}` (Vapi does not retry: a rejected
  report is lost).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from fastapi import BackgroundTasks, Request
from fastapi.responses import JSONResponse, Response
from starlette.routing import Route

from app.campaigns.call_report import apply_report
from app.jobs.bootstrap import Context
from app.jobs.calls import report_deps
from app.providers.vapi_parse import call_id, obj, status_fields
from app.webhooks.callbacks import promised_callbacks
from app.webhooks.common import (
    JSON_TYPES,
    Rejected,
    context,
    database_safe,
    parse_json,
    read_body,
    reject,
    require_media_type,
    secret_value,
    unverified_allowed,
)
from app.webhooks.signatures import verify_vapi_request
from app.webhooks.spooling import replayed, request_time, verified
from app.webhooks.vapi_tools import assistant_request, function_call, tool_calls

log = structlog.get_logger(__name__)
Handler = Callable[[Context, dict[str, Any], dict[str, Any], BackgroundTasks], Awaitable[Any]]


async def _verified_body(request: Request, ctx: Context) -> Any:
    require_media_type(request, JSON_TYPES)
    body = await read_body(request, ctx.settings.webhook_max_body_bytes)
    s = ctx.settings
    ok = verify_vapi_request(
        request.headers, body, secret=secret_value(s.vapi_webhook_secret),
        hmac_secret=secret_value(s.vapi_webhook_hmac_secret), now=request_time(request, ctx),
    )  # fmt: skip
    if not (ok or unverified_allowed(s, s.vapi_webhook_secret, s.vapi_webhook_hmac_secret)):
        raise Rejected(401, "invalid Vapi credential")
    verified(request, body)  # from here on a database outage spools it
    return parse_json(body)


async def vapi_webhook(request: Request) -> Response:
    ctx = context(request)
    try:
        payload = await _verified_body(request, ctx)
    except Rejected as exc:
        return reject("vapi", exc)
    message = obj(obj(payload).get("message"))
    handler = HANDLERS.get(str(message.get("type", "")))
    if handler is None:
        return JSONResponse({})
    background = BackgroundTasks()
    reply = await handler(ctx, message, obj(payload), background)
    if replayed(request) and message.get("type") in ("tool-calls", "function-call"):
        await promised_callbacks(ctx, message, reply)  # "someone will call you back"
    return JSONResponse(reply or {}, background=background if background.tasks else None)


async def _assistant(ctx: Context, message: dict[str, Any], *_: Any) -> Any:
    return await assistant_request(ctx, message)


async def _tools(ctx: Context, message: dict[str, Any], *_: Any) -> Any:
    return await tool_calls(ctx, message)


async def _function(ctx: Context, message: dict[str, Any], *_: Any) -> Any:
    return await function_call(ctx, message)


async def _status(ctx: Context, message: dict[str, Any], payload: dict[str, Any], *_: Any) -> Any:
    fields = status_fields(message)
    if fields is None or not fields["vapi_call_id"]:
        return {}
    key = f"vapi:{fields['vapi_call_id']}:status-update:{fields['status']}"
    await ctx.repos.webhooks.apply_vapi_status(key, payload, fields, ctx.clock.now())
    return {}


async def _report(
    ctx: Context, message: dict[str, Any], payload: dict[str, Any], background: BackgroundTasks
) -> Any:
    applied = await apply_report(report_deps(ctx), message, payload)
    if applied is not None and applied.due_rescue is not None:
        background.add_task(ctx.providers.delivery.deliver_each, [applied.due_rescue.id])
    return {}


async def _hang(ctx: Context, message: dict[str, Any], payload: dict[str, Any], *_: Any) -> Any:
    if call_id(message):
        key = f"vapi:{call_id(message)}:hang:{message.get('timestamp', '')}"
        await ctx.repos.webhooks.store_only("vapi", key, "hang", payload, ctx.clock.now())
    return {}


HANDLERS: dict[str, Handler] = {
    "assistant-request": _assistant,
    "tool-calls": _tools,
    "function-call": _function,
    "status-update": _status,
    "end-of-call-report": _report,
    "hang": _hang,
}

# A plain Starlette route, matched before FastAPI's routers (app.webhooks.api): Vapi's
# messages are the busiest traffic, and FastAPI's routing and dependency solving cost more
# per request than the handler's own Python (bench/webhook_ingest.py).
route = Route("/webhooks/vapi", database_safe(vapi_webhook), methods=["POST"], name="vapi_webhook")
