"""Twilio webhooks: `POST /webhooks/twilio/sms` (inbound) and `/webhooks/twilio/status`.

Contract:
- verified with `X-Twilio-Signature` over PUBLIC_BASE_URL + path + raw query (behind Modal's
  proxy the request's own scheme/host are not what Twilio signed) and the form params;
  failure → 403; a JSON body is accepted with the `bodySHA256` variant;
- stored under `twilio:<MessageSid>` (inbound) or `twilio:<MessageSid>:<MessageStatus>`
  (callbacks) and applied in the same transaction; a duplicate changes nothing;
- inbound replies are TwiML; always the empty `<Response/>`: our own texts (HELP answer)
  go through the outbox and the providers, and Twilio itself answers STOP/START;
- every body goes through the revocation classifier (app.consent): an opt-out in any
  wording is applied in the same transaction to every channel it covers; an ambiguous one
  holds all automated contact to the lead (needs_review) and emails the operator; neither
  marks the lead engaged.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import structlog
from fastapi import BackgroundTasks, Request, Response
from fastapi.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from app.appointments.replies import handle_reply
from app.consent.keywords import Inbound, classify
from app.db.outbox import MessageIn
from app.db.webhooks import StatusResult
from app.jobs.bootstrap import Context
from app.providers.twilio_status import status_update
from app.webhooks.common import (
    FORM_TYPES,
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
from app.webhooks.payloads import storable
from app.webhooks.signatures import verify_twilio_pairs, verify_twilio_signature
from app.webhooks.spooling import verified

log = structlog.get_logger(__name__)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def twiml(text: str = EMPTY_TWIML) -> Response:
    return Response(text, media_type="text/xml")


def public_url(ctx: Context, request: Request) -> str:
    query = request.scope.get("query_string", b"").decode("latin-1")
    return ctx.settings.public_base_url + request.url.path + (f"?{query}" if query else "")


def _form_pairs(body: bytes) -> list[tuple[str, str]]:
    try:
        text = body.decode("utf-8")
        return parse_qsl(text, keep_blank_values=True, strict_parsing=True) if text else []
    except (UnicodeDecodeError, ValueError) as exc:
        raise Rejected(400, "malformed form body") from exc


def _json_params(body: bytes) -> dict[str, str]:
    """A verified JSON body's parameters, parsed by the one JSON reader of the web edge
    (depth limit, NUL and lone surrogates replaced, app/webhooks/payloads.py)."""
    data = parse_json(body)
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _storable_params(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """A verified form's parameters as Postgres can keep them: a `%00` or an invalid byte
    in a value becomes U+FFFD (the signature was checked on the values as sent)."""
    return {str(storable(k)): str(storable(v)) for k, v in pairs}


async def verified_params(request: Request) -> dict[str, str]:
    """The request's parameters once its signature is proven (else Rejected 4xx)."""
    ctx = context(request)
    kind = require_media_type(request, FORM_TYPES + JSON_TYPES)
    body = await read_body(request, ctx.settings.webhook_max_body_bytes)
    url, signature = public_url(ctx, request), request.headers.get("x-twilio-signature", "")
    token = secret_value(ctx.settings.twilio_auth_token) or ""
    if kind in JSON_TYPES:
        ok = verify_twilio_signature(token, url, body.decode("utf-8", "replace"), signature)
        if not (ok or unverified_allowed(ctx.settings, ctx.settings.twilio_auth_token)):
            raise Rejected(403, "invalid Twilio signature")
        verified(request, body)  # from here on a database outage spools it
        return _json_params(body)
    pairs = _form_pairs(body)
    ok = verify_twilio_pairs(token, url, pairs, signature)
    if not (ok or unverified_allowed(ctx.settings, ctx.settings.twilio_auth_token)):
        raise Rejected(403, "invalid Twilio signature")
    verified(request, body)  # from here on a database outage spools it
    return _storable_params(pairs)


async def inbound_sms(request: Request) -> Response:
    """An inbound SMS: opt-out, START/HELP, ACK, a doubt held for a human, or a reply
    (app.consent.keywords; an opt-out covers the channels its words name). The texts it
    queued are delivered after the answer (a background task of the response)."""
    try:
        params = await verified_params(request)
    except Rejected as exc:
        return reject("twilio", exc)
    _, ids = await apply_inbound(context(request), params)
    if not ids:
        return twiml()
    background = BackgroundTasks()
    background.add_task(context(request).providers.delivery.deliver_each, ids)
    response = twiml()
    response.background = background
    return response


async def apply_inbound(
    ctx: Context, params: dict[str, str], prefix: str = ""
) -> tuple[bool, list[int]]:
    """Store and apply one verified inbound SMS under `<prefix>twilio:<MessageSid>` (the
    route; a replay passes `replay:`, app/webhooks/replay.py): whether it was applied (not
    a duplicate, not a body we do not understand) and the outbox ids to deliver."""
    sid, sender = params.get("MessageSid", ""), params.get("From", "")
    if not sid or not sender:
        return False, []  # verified but not an inbound message we understand: acknowledge
    oncall = [*ctx.settings.oncall_phones, *ctx.settings.oncall_escalation_phones]
    inbound = classify(params.get("Body", ""), sender, oncall, params.get("OptOutType"))
    notify = _notifications(ctx, inbound, params)
    result = await ctx.repos.webhooks.apply_twilio_inbound(
        f"{prefix}twilio:{sid}", inbound.kind, params, sender, notify, ctx.clock.now(),
        scope=inbound.scope, reason=inbound.reason or None,
    )  # fmt: skip
    if result.duplicate:
        return False, []
    ids = list(result.message_ids)
    if inbound.kind == "reply":  # C / R / X answering an appointment text (issue 8)
        ids += await handle_reply(
            ctx.repos.appointments, ctx.clock.now(), ctx.settings, ctx.providers.sms.name,
            sender=sender, body=params.get("Body", ""), sid=sid,
        )  # fmt: skip
    if inbound.kind == "ack" and inbound.ack_code:
        try:  # stored already: a failure here is logged, the reply stays a 200
            ids.append(await _acknowledge(ctx, inbound.ack_code, sid, sender))
        except Exception as exc:
            log.error("ACK not applied", code=inbound.ack_code, error=type(exc).__name__)
    return True, ids


async def _acknowledge(ctx: Context, code: str, sid: str, sender: str) -> int:
    """Hands the ACK to the alerts package and queues the confirmation text; its id."""
    alert = await ctx.alerts.acknowledge(code, sender)
    key = getattr(alert, "key", None)
    body = (f"nightshift: {key} acknowledged ({code}); repeats stopped." if alert is not None
            else f"nightshift: no firing alert with code {code}.")  # fmt: skip
    message = MessageIn(idempotency_key=f"ack-reply:{sid}", channel="sms", to_address=sender,
                        provider=ctx.providers.sms.name, kind="alert",
                        payload={"body": body})  # fmt: skip
    return (await ctx.repos.outbox.enqueue_message(message, ctx.clock.now())).id


def _notifications(ctx: Context, inbound: Inbound, params: dict[str, str]) -> list[MessageIn]:
    sid, sender = params["MessageSid"], params["From"]
    if inbound.kind == "help" and params.get("OptOutType", "").upper() != "HELP":
        # CTIA: HELP gets the program name, a contact, "Msg & data rates may apply" and
        # how to stop. With Advanced Opt-Out (OptOutType=HELP) Twilio has answered already.
        return [_help_reply(ctx, sid, sender)]
    if inbound.kind == "reply":
        return _operator_emails(ctx, sid, sender, params.get("Body", ""))
    if inbound.kind == "ambiguous":  # held: a human decides whether it was an opt-out
        subject = f"Needs review: is this an opt-out? ({sender})"
        return _operator_emails(ctx, sid, sender, params.get("Body", ""), subject)
    return []


def _help_reply(ctx: Context, sid: str, sender: str) -> MessageIn:
    s = ctx.settings
    body = (f"{s.business_name}: for help reply to this message or visit {s.booking_url}. "
            "Msg & data rates may apply. Reply STOP to opt out.")  # fmt: skip
    return MessageIn(idempotency_key=f"sms-help:{sid}", channel="sms", to_address=sender,
                     provider=ctx.providers.sms.name, kind="transactional",
                     payload={"body": body})  # fmt: skip


def _operator_emails(
    ctx: Context, sid: str, sender: str, text: str, subject: str | None = None
) -> list[MessageIn]:
    recipients = ctx.settings.operator_emails or ctx.settings.oncall_emails
    subject = subject or f"A lead replied by SMS ({sender})"
    html = f"<p>{_escape(sender)} wrote:</p><blockquote>{_escape(text)}</blockquote>"
    payload: dict[str, Any] = {"subject": subject, "html": html, "text": f"{sender}: {text}"}
    return [
        MessageIn(idempotency_key=f"reply-notify:{sid}:{to}", channel="email", to_address=to,
                  provider=ctx.providers.email.name, kind="transactional", payload=payload)
        for to in recipients
    ]  # fmt: skip


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


async def status_callback(request: Request) -> Response:
    """A delivery status callback for the outbox row named by `?outbox=`."""
    try:
        params = await verified_params(request)
    except Rejected as exc:
        return reject("twilio", exc)
    await apply_status(context(request), params, request.query_params.get("outbox"))
    return JSONResponse({}, status_code=200)


async def apply_status(
    ctx: Context, params: dict[str, str], outbox: str | None, prefix: str = ""
) -> StatusResult | None:
    """Store and apply one verified status callback under
    `<prefix>twilio:<MessageSid>:<MessageStatus>` (the route; a replay passes `replay:`);
    None when it names no message or status."""
    sid, status = params.get("MessageSid", ""), params.get("MessageStatus", "")
    if not sid or not status:
        return None
    update = status_update(params, outbox)
    return await ctx.repos.webhooks.apply_twilio_status(
        f"{prefix}twilio:{sid}:{status}", params, update, ctx.clock.now()
    )


# Plain Starlette routes, matched before FastAPI's routers (app.webhooks.routes): a status
# callback follows every text, and FastAPI's per-request dependency solving and endpoint
# wrapper cost more than the handler's own Python (bench/RESULTS.md "Webhook ingest").
routes: list[BaseRoute] = [
    Route("/webhooks/twilio/sms", database_safe(inbound_sms), methods=["POST"],
          name="twilio_inbound_sms"),
    Route("/webhooks/twilio/status", database_safe(status_callback), methods=["POST"],
          name="twilio_status_callback"),
]  # fmt: skip
