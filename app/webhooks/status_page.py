"""`GET /status`: the status page, behind STATUS_TOKEN.

Contract:
- the token is accepted as `Authorization: Bearer <token>` (scripts, monitors) or through
  the login form (`POST /status/login`, form field `token`), which opens a server-side
  session (status_sessions: only the SHA-256 of its id, 7 days, tied to the current
  STATUS_TOKEN) and sets its random id as the cookie: Secure, HttpOnly, SameSite=Strict,
  Path=/ (the console, /console, shares it); the form's `next` (`/status` or `/console`,
  nothing else) is where it goes after;
- `Accept: application/json` gets the snapshot as JSON (the same as `nightshift status --json`);
- every comparison is constant-time; without a valid token or session the answer is 401
  with the login form and no data (also when STATUS_TOKEN is not configured at all);
- `session_of` tells the console who acts ('bearer', or the session's hash) and
  `csrf_token` the token its forms carry (an HMAC of the session under STATUS_TOKEN);
- `POST /status/logout` revokes the session on the server (a copied cookie stops working
  too) and clears the cookie. The page is never cached (`no-store`);
- the login is throttled per client address (LOGIN_BURST attempts, then one every
  1/LOGIN_PER_SECOND s): beyond that 429 with Retry-After, before the token is compared;
- its body is limited to 4 KB by app.webhooks.limits (413 without reading the rest).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from datetime import timedelta
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from app.console.render import login as console_login
from app.jobs.bootstrap import Context
from app.status.data import collect
from app.status.render import login_page, page
from app.webhooks.common import SafeRoute, context, secret_value
from app.webhooks.limits import LOGIN_MAX_BYTES
from app.webhooks.throttle import Throttle

router = APIRouter(route_class=SafeRoute)  # database down: 503 at once, never a 500
COOKIE = "nightshift_status"
COOKIE_MAX_AGE = 7 * 24 * 3600
BEARER = "bearer"
NEXT_PAGES = ("/status", "/console")
LOGIN_BURST = 5
LOGIN_PER_SECOND = 0.1  # one more attempt every 10 s
NO_STORE = {"Cache-Control": "no-store", "X-Frame-Options": "DENY"}


def token_tag(token: str) -> str:
    """Which STATUS_TOKEN a session was opened with (rotating the token ends them all)."""
    return hmac.new(token.encode(), b"nightshift-status-session-v2", hashlib.sha256).hexdigest()


def session_hash(cookie: str) -> str:
    """What the database keeps of a session id: a stolen table row opens nothing."""
    return hashlib.sha256(cookie.encode()).hexdigest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


async def session_of(request: Request, ctx: Context) -> str | None:
    """Who is asking: BEARER (a valid Authorization header), the hash of a valid login
    session, or None (not authorised, or STATUS_TOKEN not configured)."""
    token = secret_value(ctx.settings.status_token)
    if token is None:
        return None
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() == "bearer" and _same(given.strip(), token):
        return BEARER
    cookie = request.cookies.get(COOKIE, "")
    if not cookie:
        return None
    repo = ctx.repos.appointments
    hashed = session_hash(cookie)
    valid = await repo.session_valid(hashed, token_tag(token), ctx.clock.now())
    return hashed if valid else None


async def authorised(request: Request, ctx: Context) -> bool:
    return await session_of(request, ctx) is not None


def csrf_token(ctx: Context, session: str) -> str:
    """The token a login session's forms carry: forged without STATUS_TOKEN by no one."""
    token = secret_value(ctx.settings.status_token) or ""
    return hmac.new(token.encode(), f"csrf:{session}".encode(), hashlib.sha256).hexdigest()


def csrf_valid(ctx: Context, session: str, given: str) -> bool:
    """Bearer requests carry no ambient credential to forge; a session's must match."""
    return session == BEARER or _same(given, csrf_token(ctx, session))


def _login(status: int, message: str = "", after: str = "/status") -> HTMLResponse:
    headers = {**NO_STORE, "WWW-Authenticate": 'Bearer realm="nightshift status"'}
    form = console_login(message, after) if after == "/console" else login_page(message)
    return HTMLResponse(form, status_code=status, headers=headers)


@router.get("/status")
async def status_page(request: Request) -> Response:
    ctx = context(request)
    if not await authorised(request, ctx):
        hint = "" if ctx.settings.status_token else "STATUS_TOKEN is not configured."
        return _login(401, hint)
    snap = await collect(ctx)
    if "application/json" in request.headers.get("accept", ""):  # as `nightshift status --json`
        return JSONResponse(snap, headers=NO_STORE)
    return HTMLResponse(page(snap, ctx.settings.business_name), headers=NO_STORE)


def _throttle(request: Request) -> Throttle:
    """The app's login throttle (one per app: per process in production)."""
    state = request.app.state
    if not hasattr(state, "login_throttle"):
        state.login_throttle = Throttle(LOGIN_BURST, LOGIN_PER_SECOND)
    throttle: Throttle = state.login_throttle
    return throttle


@router.post("/status/login")
async def status_login(request: Request) -> Response:
    ctx = context(request)
    wait = _throttle(request).wait(request.client.host if request.client else "", ctx.clock.now())
    if wait > 0:
        headers = {**NO_STORE, "Retry-After": str(math.ceil(wait))}
        return HTMLResponse(login_page("too many attempts: try again later"), 429, headers)
    token = secret_value(ctx.settings.status_token)
    body = await request.body()
    if len(body) > LOGIN_MAX_BYTES:
        return _login(413, "request too large")
    form = dict(parse_qsl(body.decode("utf-8", "replace")))
    given, after = form.get("token", ""), form.get("next", "/status")
    if token is None or not _same(given, token):
        return _login(401, "wrong token", after)
    session, now = secrets.token_urlsafe(32), ctx.clock.now()
    expires = now + timedelta(seconds=COOKIE_MAX_AGE)
    await ctx.repos.appointments.session_open(session_hash(session), token_tag(token), expires, now)
    target = after if after in NEXT_PAGES else "/status"
    response = RedirectResponse(target, status_code=303, headers=NO_STORE)
    response.set_cookie(COOKIE, session, max_age=COOKIE_MAX_AGE, path="/",
                        secure=True, httponly=True, samesite="strict")  # fmt: skip
    return response


@router.post("/status/logout")
async def status_logout(request: Request) -> Response:
    cookie = request.cookies.get(COOKIE, "")
    if cookie:
        ctx = context(request)
        await ctx.repos.appointments.session_revoke(session_hash(cookie), ctx.clock.now())
    response = RedirectResponse("/status", status_code=303, headers=NO_STORE)
    response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response
