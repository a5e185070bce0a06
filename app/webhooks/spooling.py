"""The web side of the spool (app/providers/spool.py): park a verified request the database
could not take, answer the provider with a 2xx it can use, and apply parked requests later
through the very same routes.

Contract (docs/webhooks.md "Database outage: the spool"):
- a route marks its request `verified(request, body)` once the signature is proven; only a
  marked request is ever spooled (an unverified one gets its 4xx as before);
- `spool_reply(request)` (called by `database_safe` on a database failure) writes the raw
  request to the spool and returns the route's acknowledgement: Twilio `<Response/>` or `{}`,
  Resend `{"spooled": true}`, booking 202 `{"outcome": "spooled"}`, Vapi `{}`, and for a
  tool call one polite line per call ("I can't book that right now — someone will call you
  back"; an opt-out is promised, since it will be applied); None when the request is not
  spoolable or the spool itself failed (then the route answers 503 and the provider retries);
- `asgi_apply(app)` replays a spooled request through the app: the same middleware, route,
  verification (at the time it was received: `request_time`) and apply functions as a live
  one. A replayed request is never spooled again: a database still down answers 503, which
  `drain` reads as "stop, keep it"; 2xx is applied (or a duplicate); any other answer is a
  refusal for good, set aside with the status and body as its reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import structlog
from fastapi import Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.types import ASGIApp, Message

from app.jobs.bootstrap import Context
from app.providers.spool import Apply, SpooledRequest, Verdict

log = structlog.get_logger(__name__)

SPOOLED = "nightshift.spooled"  # ASGI scope key of a replay: no HTTP request can set it
TOOL_LINE = "I can't book that right now — someone will call you back."
OPT_OUT_LINE = "Noted: we will take you off our list; someone will confirm it with you."
UNSUBSCRIBED = (
    "<!doctype html><title>Unsubscribed</title><p>Your unsubscribe request is "
    "recorded: you will get no more emails from us.</p>"
)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def verified(request: Request, body: bytes) -> None:
    """Mark `request` as proven by its signature, with the raw body it was proven on."""
    request.state.verified_body = body


def replayed(request: Request) -> bool:
    """Is this a spooled request being applied by the drain?"""
    return SPOOLED in request.scope


def request_time(request: Request, ctx: Context) -> datetime:
    """When the request was received: a replay is verified at its own receive time (Svix and
    Vapi's HMAC allow 5 minutes of skew; an outage lasts longer)."""
    spooled = request.scope.get(SPOOLED)
    return spooled.received_at if isinstance(spooled, SpooledRequest) else ctx.clock.now()


async def spool_reply(request: Request, error: BaseException) -> Response | None:
    """Spool the verified `request` that met `error`; the provider's answer, or None."""
    body = getattr(request.state, "verified_body", None)
    ctx: Context = request.app.state.context
    if body is None or replayed(request) or ctx.spool is None:
        return None
    query = request.scope.get("query_string", b"").decode("latin-1")
    item = SpooledRequest.new(request.url.path, query, request.headers, body, ctx.clock.now())
    try:
        await ctx.spool.put(item)
    except Exception as exc:  # the spool is down too: 503, the provider may retry
        log.error("spool write failed", path=item.path, error=type(exc).__name__)
        return None
    log.warning("webhook spooled: the database cannot take it", path=item.path,
                spool_id=item.id, error=type(error).__name__)  # fmt: skip
    return _acknowledgement(item.path, body)


def _acknowledgement(path: str, body: bytes) -> Response:
    if path == "/webhooks/twilio/sms":
        return Response(EMPTY_TWIML, media_type="text/xml")
    if path == "/webhooks/resend":
        return JSONResponse({"spooled": True})
    if path == "/webhooks/booking":
        return JSONResponse({"outcome": "spooled", "appointment_id": None}, status_code=202)
    if path == "/webhooks/vapi":
        return JSONResponse(vapi_reply(body))
    if path.startswith("/u/"):
        return HTMLResponse(UNSUBSCRIBED)
    return JSONResponse({})


def vapi_reply(body: bytes) -> dict[str, Any]:
    """What a spooled Vapi message answers: each tool call a single polite line (the intent
    waits in the spool), a legacy function call one line, anything else `{}`."""
    try:
        message = orjson.loads(body).get("message") or {}
    except (orjson.JSONDecodeError, AttributeError):
        return {}
    kind = message.get("type") if isinstance(message, dict) else None
    if kind == "function-call":
        return {"result": TOOL_LINE}
    if kind != "tool-calls":
        return {}
    results = []
    for call in _tool_calls(message):
        fn = call.get("function")
        name = str((fn.get("name") if isinstance(fn, dict) else None) or call.get("name") or "")
        line = OPT_OUT_LINE if name == "optOut" else TOOL_LINE
        results.append({"toolCallId": str(call.get("id", "")), "name": name, "result": line})
    return {"results": results}


def _tool_calls(message: dict[str, Any]) -> list[dict[str, Any]]:
    for key in ("toolCallList", "toolCalls"):
        if isinstance(message.get(key), list) and message[key]:
            return [c for c in message[key] if isinstance(c, dict)]
    listed = message.get("toolWithToolCallList")
    if isinstance(listed, list):
        calls = [t.get("toolCall") for t in listed if isinstance(t, dict)]
        return [c for c in calls if isinstance(c, dict)]
    return []


def asgi_apply(app: ASGIApp) -> Apply:
    """Apply spooled requests through `app`; see the module contract."""

    async def apply(item: SpooledRequest) -> Verdict:
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in item.headers.items()]
        headers.append((b"content-length", str(len(item.body)).encode()))
        scope: dict[str, Any] = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": item.method, "scheme": "https", "path": item.path,
            "raw_path": item.path.encode(), "query_string": item.query.encode("latin-1"),
            "root_path": "", "headers": headers, "client": None, "server": None,
            SPOOLED: item,
        }  # fmt: skip
        sent = False
        status, chunks = 0, []

        async def receive() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": item.body, "more_body": False}

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await app(scope, receive, send)
        return verdict(status, b"".join(chunks))

    return apply


def verdict(status: int, body: bytes) -> Verdict:
    if 200 <= status < 300:
        return Verdict("applied")
    text = body[:300].decode("utf-8", "replace")
    if status == 503:
        return Verdict("retry", text)
    return Verdict("aside", f"HTTP {status}: {text}")
