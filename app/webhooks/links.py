"""Tracked links `GET /r/{token}` and one-click unsubscribe `GET|POST /u/{token}`.

Contract:
- /r/: a genuine click token → a `click_events` row naming the message the link was sent in
  (by the token's outbox id or key: A/B attribution; message → 'clicked', lead → 'engaged')
  and 302 to the URL sealed in the token (a link-preview robot, below, is redirected and not
  counted); anything else → 404. Only URLs this server signed
  can be targets: there is no open redirect. A database failure still redirects (logged).
  A link sent to a person since erased still redirects and records nothing.
- /l/ (texts, app/core/short_links.py): a genuine short code → 302 to the URL stored with
  its message, and a `click_events` row like /r/'s — unless the visitor is a link-preview
  robot (iMessage fetches a link's preview as `facebookexternalhit`/`Twitterbot`) or sends
  no user agent: it is redirected, nothing is counted. A code whose message is gone (never
  sent, or its lead erased) records nothing and redirects to BOOKING_URL; a database
  failure too (logged).
  A forged or mangled code → a 404 page that links to BOOKING_URL, never a 500.
- /u/ (RFC 8058): `POST` with `List-Unsubscribe=One-Click` (form-urlencoded or multipart)
  unsubscribes — no cookie, no login — and answers 200; `GET` only shows a confirmation page
  with a button (link scanners prefetch GETs, so a GET never unsubscribes). Idempotent.
"""

from __future__ import annotations

import html
from urllib.parse import parse_qs

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from app.core.short_links import read_short_code
from app.core.tokens import link_secret, read_click_token, read_unsubscribe_token
from app.db.errors import DatabaseError
from app.webhooks.common import Rejected, SafeRoute, context, read_body, reject
from app.webhooks.resend import valid_ip
from app.webhooks.spooling import verified

log = structlog.get_logger(__name__)
router = APIRouter(route_class=SafeRoute)
NOT_FOUND = PlainTextResponse("Not found", status_code=404)
FORM_LIMIT = 64 * 1024
# link-preview fetchers and crawlers: they load the page to draw a preview or scan it, nobody
# clicked (iMessage sends "... facebookexternalhit/1.1 Facebot Twitterbot/1.0"; Google's
# preview "Google-PageRenderer"; docs/campaigns.md). A browser always sends a user agent.
PREVIEW_AGENTS = ("facebookexternalhit", "facebot", "twitterbot", "whatsapp", "telegrambot",
                  "slackbot", "discordbot", "skypeuripreview", "linkedinbot",
                  "google-pagerenderer", "googlebot", "bingbot", "crawler", "spider")  # fmt: skip
_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
</head><body style="font-family:sans-serif;max-width:32rem;margin:3rem auto">
<h1>{title}</h1>{body}</body></html>"""


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=html.escape(title), body=body), status_code=status)


@router.get("/r/{token}")
async def click(token: str, request: Request) -> Response:
    ctx = context(request)
    link = read_click_token(link_secret(ctx.settings), token)
    if link is None:
        return NOT_FOUND
    agent = request.headers.get("user-agent")
    if is_preview(agent):  # a preview or scanning robot: redirected, nobody clicked
        return RedirectResponse(link.url, status_code=302)
    event = {"token": token[:200], "url": link.url, "message_id": link.message_id,
             "message_key": link.message_key, "lead_id": link.lead_id,
             "ip": valid_ip(request.client and request.client.host),
             "user_agent": agent}  # fmt: skip
    try:
        await ctx.repos.webhooks.record_click(event, ctx.clock.now())
    except DatabaseError as exc:  # the visitor still gets where they were going
        log.error("click not recorded", error=type(exc).__name__)
    return RedirectResponse(link.url, status_code=302)


def is_preview(user_agent: str | None) -> bool:
    """A robot fetching the link (PREVIEW_AGENTS, or no user agent at all), not a person."""
    agent = (user_agent or "").strip().lower()
    return not agent or any(bot in agent for bot in PREVIEW_AGENTS)


@router.get("/l/{code:path}")
@router.get("/L/{code:path}", include_in_schema=False)  # a phone upper-cased the whole link
async def short_link(code: str, request: Request) -> Response:
    ctx = context(request)
    link = read_short_code(link_secret(ctx.settings), code)
    home = ctx.settings.booking_url
    if link is None:
        body = (f'<p>This link is not complete. You can book a time at '
                f'<a href="{html.escape(home)}">{html.escape(home)}</a>.</p>')  # fmt: skip
        return page("Link not found", body, status=404)
    agent = request.headers.get("user-agent")
    click = {"token": code[:200], "ip": valid_ip(request.client and request.client.host),
             "user_agent": agent}  # fmt: skip
    call_id = link.ids[0] if link.kind == "rescue" else None
    try:
        url = await ctx.repos.webhooks.short_link_click(
            link.message_key, call_id, link.link, click, not is_preview(agent), ctx.clock.now()
        )
    except DatabaseError as exc:  # the visitor still gets somewhere useful
        log.error("short link not resolved", error=type(exc).__name__)
        url = None
    return RedirectResponse(url or home, status_code=302)


@router.get("/u/{token}")
async def unsubscribe_page(token: str, request: Request) -> Response:
    ctx = context(request)
    target = read_unsubscribe_token(link_secret(ctx.settings), token)
    if target is None:
        return NOT_FOUND
    form = (f"<p>Stop emails from {html.escape(ctx.settings.business_name)} to "
            f"<b>{html.escape(target.email)}</b>?</p><form method=\"post\">"
            '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
            '<button type="submit">Unsubscribe</button></form>')  # fmt: skip
    return page("Unsubscribe", form)


def one_click(request: Request, body: bytes) -> bool:
    """Whether the POST carries `List-Unsubscribe=One-Click` (RFC 8058 §3.1)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        return b'name="List-Unsubscribe"' in body and b"One-Click" in body
    values = parse_qs(body.decode("utf-8", "replace")).get("List-Unsubscribe", [])
    return "One-Click" in values


@router.post("/u/{token}")
async def unsubscribe(token: str, request: Request) -> Response:
    ctx = context(request)
    target = read_unsubscribe_token(link_secret(ctx.settings), token)
    if target is None:
        return NOT_FOUND
    try:
        body = await read_body(request, FORM_LIMIT)
        if not one_click(request, body):
            raise Rejected(400, "expected List-Unsubscribe=One-Click")
    except Rejected as exc:
        return reject("unsubscribe", exc)
    verified(request, body)  # a signed token: a database outage spools the unsubscribe
    await ctx.repos.webhooks.unsubscribe(target.email, target.lead_id, "one-click",
                                         ctx.clock.now())  # fmt: skip
    return page("Unsubscribed", f"<p>{html.escape(target.email)} will get no more emails "
                f"from {html.escape(ctx.settings.business_name)}.</p>")  # fmt: skip
