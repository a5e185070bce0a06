"""`GET /status`: the status page, behind STATUS_TOKEN.

Contract:
- the token is accepted as `Authorization: Bearer <token>` (scripts, monitors) or through
  the login form (`POST /status/login`, form field `token`), which sets a cookie holding an
  HMAC of the token (never the token itself): Secure, HttpOnly, SameSite=Strict, Path=/status;
- every comparison is constant-time; without a valid token the answer is 401 with the login
  form and no data (also when STATUS_TOKEN is not configured at all);
- `POST /status/logout` clears the cookie. The page is never cached (`no-store`).
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.core.settings import Settings
from app.status.data import collect
from app.status.render import login_page, page
from app.webhooks.common import context, secret_value

router = APIRouter()
COOKIE = "nightshift_status"
COOKIE_MAX_AGE = 7 * 24 * 3600
LOGIN_MAX_BYTES = 4096
NO_STORE = {"Cache-Control": "no-store", "X-Frame-Options": "DENY"}


def cookie_value(token: str) -> str:
    """What the browser keeps: an HMAC of the token, useless as a Bearer token."""
    return hmac.new(token.encode(), b"nightshift-status-cookie-v1", hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def authorised(request: Request, settings: Settings) -> bool:
    token = secret_value(settings.status_token)
    if token is None:
        return False
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() == "bearer" and _same(given.strip(), token):
        return True
    return _same(request.cookies.get(COOKIE, ""), cookie_value(token))


def _login(status: int, message: str = "") -> HTMLResponse:
    headers = {**NO_STORE, "WWW-Authenticate": 'Bearer realm="nightshift status"'}
    return HTMLResponse(login_page(message), status_code=status, headers=headers)


@router.get("/status")
async def status_page(request: Request) -> Response:
    ctx = context(request)
    if not authorised(request, ctx.settings):
        hint = "" if ctx.settings.status_token else "STATUS_TOKEN is not configured."
        return _login(401, hint)
    snap = await collect(ctx)
    return HTMLResponse(page(snap, ctx.settings.business_name), headers=NO_STORE)


@router.post("/status/login")
async def status_login(request: Request) -> Response:
    ctx = context(request)
    token = secret_value(ctx.settings.status_token)
    body = await request.body()
    if len(body) > LOGIN_MAX_BYTES:
        return _login(413, "request too large")
    given = dict(parse_qsl(body.decode("utf-8", "replace"))).get("token", "")
    if token is None or not _same(given, token):
        return _login(401, "wrong token")
    response = RedirectResponse("/status", status_code=303, headers=NO_STORE)
    response.set_cookie(COOKIE, cookie_value(token), max_age=COOKIE_MAX_AGE, path="/status",
                        secure=True, httponly=True, samesite="strict")  # fmt: skip
    return response


@router.post("/status/logout")
async def status_logout() -> Response:
    response = RedirectResponse("/status", status_code=303, headers=NO_STORE)
    response.delete_cookie(COOKIE, path="/status", secure=True, httponly=True, samesite="strict")
    return response
