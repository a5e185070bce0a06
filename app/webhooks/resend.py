"""Resend webhook: `POST /webhooks/resend` (delivered through Svix).

Contract:
- verified with the Svix headers against RESEND_WEBHOOK_SECRET, 300 s tolerance, at the
  injected clock's "now"; failure → 401;
- stored under `resend:<svix-id>` (Resend retries and replays keep the id) and applied in
  the same transaction; a duplicate → 200 and no change;
- email.sent/delivered/opened/clicked move the outbox row forward; email.bounced with
  `bounce.type = Permanent` and email.complained suppress the address and opt the lead out
  of email (docs/notes/compliance.md §4); email.clicked also records a `click_events` row;
  delivery_delayed and transient bounces only go to the row's history; other types → 200;
- email.received is a lead's reply: see app/campaigns/email_replies.py (its body is fetched
  from Resend; when that fails → 503 and nothing stored, so Resend's retries fetch again).
"""

from __future__ import annotations

import ipaddress
from typing import Any

import structlog
from fastapi import BackgroundTasks, Request
from fastapi.responses import JSONResponse
from starlette.routing import Route

from app.campaigns.email_replies import EmailReplyDeps, Fetch, NotAReply, handle_received
from app.core.tokens import link_secret
from app.jobs.bootstrap import Context
from app.providers.errors import ProviderError
from app.providers.resend import ResendInbox
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
from app.webhooks.signatures import verify_svix_signature
from app.webhooks.spooling import request_time, verified

log = structlog.get_logger(__name__)

STATUS = {
    "email.sent": "sent", "email.delivered": "delivered", "email.opened": "opened",
    "email.clicked": "clicked", "email.bounced": "bounced", "email.complained": "complained",
    "email.failed": "failed", "email.delivery_delayed": None,
}  # fmt: skip


async def resend_webhook(request: Request) -> JSONResponse:
    ctx = context(request)
    try:
        require_media_type(request, JSON_TYPES)
        body = await read_body(request, ctx.settings.webhook_max_body_bytes)
        secret = secret_value(ctx.settings.resend_webhook_secret) or ""
        ok = verify_svix_signature(secret, request.headers, body, request_time(request, ctx))
        if not (ok or unverified_allowed(ctx.settings, ctx.settings.resend_webhook_secret)):
            raise Rejected(401, "invalid Svix signature")
        verified(request, body)  # from here on a database outage spools it
        payload = parse_json(body)
    except Rejected as exc:
        return reject("resend", exc)
    if isinstance(payload, dict) and payload.get("type") == "email.received":
        return await received(ctx, payload)
    event = resend_event(payload)
    svix_id = request.headers.get("svix-id")
    if event is None or not svix_id:
        return JSONResponse({"ignored": True})
    result = await ctx.repos.webhooks.apply_resend_event(
        f"resend:{svix_id}", payload, event, ctx.clock.now()
    )
    return JSONResponse({"duplicate": result.duplicate})


async def received(ctx: Context, payload: dict[str, Any]) -> JSONResponse:
    """A verified `email.received`: a lead's reply (app.campaigns.email_replies). When the
    body cannot be fetched nothing is stored and the answer is 503: Resend retries. The texts
    it queued are delivered after the answer (a background task of the response)."""
    data = payload.get("data")
    try:
        if not isinstance(data, dict):
            raise NotAReply("email.received without data")
        result = await handle_received(reply_deps(ctx), data)
    except NotAReply:
        return JSONResponse({"ignored": True})
    except ProviderError as exc:
        log.warning("received email not fetched; Resend will retry", error=str(exc))
        return JSONResponse({"error": "email body unavailable, retry"}, status_code=503)
    background = BackgroundTasks()
    background.add_task(ctx.providers.delivery.deliver_each, list(result.message_ids))
    return JSONResponse({"duplicate": result.duplicate}, background=background)


def reply_deps(ctx: Context) -> EmailReplyDeps:
    """The collaborators of an email reply; no receiving API while Resend is a dry run."""
    s = ctx.settings
    fetch: Fetch | None = None
    if s.resend_api_key is not None and "resend" not in s.dry_run_providers():
        fetch = ResendInbox(s.resend_api_key, client=ctx.providers.client, clock=ctx.clock).fetch
    return EmailReplyDeps(
        webhooks=ctx.repos.webhooks, clock=ctx.clock, link_secret=link_secret(s),
        operator_emails=tuple(s.operator_emails or s.oncall_emails),
        email_provider=ctx.providers.email.name, fetch=fetch,
    )  # fmt: skip


def resend_event(payload: Any) -> dict[str, Any] | None:
    """The update an event asks for, or None for a type we do not track."""
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
        return None
    kind = str(payload.get("type", ""))
    if kind not in STATUS:
        return None
    data: dict[str, Any] = payload["data"]
    suppress = _suppression(kind, data)
    hard = kind != "email.bounced" or suppress is not None  # a transient bounce: history only
    return {
        "event_type": kind,
        "email_id": _str(data.get("email_id")),
        "outbox_id": _outbox_id(data.get("tags")),
        "address": _first_address(data.get("to")),
        "status": STATUS[kind] if hard else None,
        "suppress": suppress,
        "click": _click(data) if kind == "email.clicked" else None,
    }


def _suppression(kind: str, data: dict[str, Any]) -> str | None:
    if kind == "email.complained":
        return "complaint"
    bounce = data.get("bounce")
    if kind == "email.bounced" and isinstance(bounce, dict) and bounce.get("type") == "Permanent":
        return "hard_bounce"  # Transient/Undetermined bounces are not final
    return None


def _click(data: dict[str, Any]) -> dict[str, Any]:
    click = data.get("click") if isinstance(data.get("click"), dict) else {}
    assert isinstance(click, dict)
    return {"link": _str(click.get("link")), "ip": valid_ip(click.get("ipAddress")),
            "user_agent": _str(click.get("userAgent"))}  # fmt: skip


def valid_ip(value: Any) -> str | None:
    try:
        return str(ipaddress.ip_address(str(value))) if value else None
    except ValueError:
        return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _first_address(to: Any) -> str | None:
    if isinstance(to, list) and to and isinstance(to[0], str):
        return to[0].lower()
    return to.lower() if isinstance(to, str) else None


def _outbox_id(tags: Any) -> int | None:
    raw = tags.get("outbox_id") if isinstance(tags, dict) else None
    return int(raw) if isinstance(raw, str) and raw.isdigit() and len(raw) < 19 else None


# A plain Starlette route, matched before FastAPI's routers (app.webhooks.routes): an email's
# delivery, opens and clicks each post one event, and FastAPI's per-request dependency
# solving and endpoint wrapper cost more than the handler's own Python (bench/RESULTS.md).
route = Route("/webhooks/resend", database_safe(resend_webhook), methods=["POST"],
              name="resend_webhook")  # fmt: skip
