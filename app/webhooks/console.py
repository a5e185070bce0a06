"""`/console`: the operator's console (docs/console.md), behind the status page's auth.

Contract:
- authorised exactly as /status (app.webhooks.status_page: `Authorization: Bearer
  STATUS_TOKEN` or the login session's cookie); otherwise 401 with the sign-in form (HTML)
  or `{"error": "unauthorised"}` (JSON), and no data;
- every page answers `Accept: application/json` with the dict its HTML is rendered from;
- every action is a POST of a plain form (4 KB at most); a login session's form must carry
  its CSRF token (403 without it, nothing done), a Bearer request needs none; success is a
  303 back to the page (JSON: 200 with the result), a refused action 400 with the reason
  (404 for an unknown lead page); each action is audited (app.console.actions);
- never cached (`no-store`), never framed; the database down is a 503 (SafeRoute).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from app.console import actions, pages, render
from app.db.console import ConsoleRepository
from app.jobs.bootstrap import Context
from app.status.data import collect, console_deps, dry_run_channels
from app.webhooks.common import Rejected, SafeRoute, context, read_body
from app.webhooks.limits import LOGIN_MAX_BYTES
from app.webhooks.status_page import BEARER, NO_STORE, csrf_token, csrf_valid, session_of

router = APIRouter(prefix="/console", route_class=SafeRoute)  # database down: 503, not 500
Loader = Callable[[Context], Awaitable[dict[str, Any] | None]]


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _who(session: str) -> str:
    """What the audit keeps of the acting session: never the whole hash."""
    return BEARER if session == BEARER else session[:12]


def _unauthorised(request: Request, ctx: Context) -> Response:
    if wants_json(request):
        return JSONResponse({"error": "unauthorised"}, 401, headers=NO_STORE)
    hint = "" if ctx.settings.status_token else "STATUS_TOKEN is not configured."
    headers = {**NO_STORE, "WWW-Authenticate": 'Bearer realm="nightshift status"'}
    return HTMLResponse(render.login(hint, "/console"), 401, headers=headers)


async def _page(request: Request, name: str, load: Loader) -> Response:
    ctx = context(request)
    session = await session_of(request, ctx)
    if session is None:
        return _unauthorised(request, ctx)
    data = await load(ctx)
    if data is None:
        body = {"error": "not found"}
        if wants_json(request):
            return JSONResponse(body, 404, headers=NO_STORE)
        return HTMLResponse("<!doctype html><title>not found</title><p>not found</p>", 404)
    data.setdefault("dry_run", dry_run_channels(ctx))
    if wants_json(request):
        return JSONResponse(data, headers=NO_STORE)
    zone, business = ctx.settings.business_timezone, ctx.settings.business_name
    html = render.render(name, data, tz=zone, csrf=csrf_token(ctx, session), business=business)
    return HTMLResponse(html, headers=NO_STORE)


async def _overview(ctx: Context) -> dict[str, Any]:
    snap = await collect(ctx)  # the same figures /status shows
    keep = ("now", "timezone", "verdict", "dry_run", "alerts", "jobs", "health")
    return {**snap["overview"], **{k: snap[k] for k in keep}}


@router.get("")
async def overview_page(request: Request) -> Response:
    return await _page(request, "overview", _overview)


@router.get("/leads")
async def leads_page(request: Request) -> Response:
    q = request.query_params
    raw = q.get("min_score", "").strip()
    score = float(raw) if raw.replace(".", "", 1).isdigit() else None

    async def load(ctx: Context) -> dict[str, Any]:
        return await pages.leads(console_deps(ctx), q.get("q", "").strip(), q.get("status", ""),
                                 score, q.get("campaign", ""))  # fmt: skip

    return await _page(request, "leads", load)


@router.get("/leads/{lead_id}")
async def lead_page(request: Request, lead_id: int) -> Response:
    return await _page(request, "lead", lambda ctx: pages.lead(console_deps(ctx), lead_id))


@router.get("/campaigns")
async def campaigns_page(request: Request) -> Response:
    return await _page(request, "campaigns", lambda ctx: pages.campaigns(console_deps(ctx)))


@router.get("/campaigns/{slug}")
async def campaign_page(request: Request, slug: str) -> Response:
    async def load(ctx: Context) -> dict[str, Any] | None:
        found = await pages.campaigns(console_deps(ctx), slug)
        return found if found["campaigns"] else None

    return await _page(request, "campaigns", load)


@router.get("/calls")
async def calls_page(request: Request) -> Response:
    return await _page(request, "calls", lambda ctx: pages.calls(console_deps(ctx)))


@router.get("/alerts")
async def alerts_page(request: Request) -> Response:
    return await _page(request, "alerts", lambda ctx: pages.alerts(console_deps(ctx)))


@router.get("/appointments")
async def appointments_page(request: Request) -> Response:
    return await _page(request, "appointments", lambda ctx: pages.appointments(console_deps(ctx)))


# --- actions ------------------------------------------------------------------------------

Action = Callable[[actions.ActionDeps, dict[str, str], str], Awaitable[dict[str, Any]]]


def action_deps(ctx: Context) -> actions.ActionDeps:
    repos = ctx.repos
    return actions.ActionDeps(ConsoleRepository(ctx.transport), repos.outbox, repos.alerts,
                              repos.appointments, repos.manager, ctx.clock)  # fmt: skip


async def _act(request: Request, back: str, act: Action) -> Response:
    ctx = context(request)
    session = await session_of(request, ctx)
    if session is None:
        return _unauthorised(request, ctx)
    try:
        body = await read_body(request, LOGIN_MAX_BYTES)
    except Rejected as exc:
        return JSONResponse({"error": exc.reason}, exc.status, headers=NO_STORE)
    form = dict(parse_qsl(body.decode("utf-8", "replace")))
    if not csrf_valid(ctx, session, form.get("csrf", "")):
        return JSONResponse({"error": "missing or wrong CSRF token"}, 403, headers=NO_STORE)
    try:
        result = await act(action_deps(ctx), form, _who(session))
    except actions.ActionRefused as exc:
        return JSONResponse({"error": str(exc)}, 400, headers=NO_STORE)
    if wants_json(request):
        return JSONResponse(result, headers=NO_STORE)
    return RedirectResponse(back, status_code=303, headers=NO_STORE)


@router.post("/campaigns/{slug}/pause")
async def pause(request: Request, slug: str) -> Response:
    return await _act(
        request,
        "/console/campaigns",
        lambda d, form, who: actions.pause(d, slug, form.get("reason", ""), who),
    )


@router.post("/campaigns/{slug}/resume")
async def resume(request: Request, slug: str) -> Response:
    return await _act(
        request, "/console/campaigns", lambda d, form, who: actions.resume(d, slug, who)
    )


@router.post("/leads/{lead_id}/dnc")
async def do_not_contact(request: Request, lead_id: int) -> Response:
    return await _act(
        request,
        f"/console/leads/{lead_id}",
        lambda d, form, who: actions.dnc(d, lead_id, form.get("channel", ""), who),
    )


@router.post("/leads/{lead_id}/erase")
async def erase(request: Request, lead_id: int) -> Response:
    async def act(d: actions.ActionDeps, form: dict[str, str], who: str) -> dict[str, Any]:
        if form.get("confirm") != "yes":
            raise actions.ActionRefused("erasing needs confirm=yes")
        return await actions.erase(d, lead_id, who)

    return await _act(request, "/console/leads", act)


@router.post("/alerts/{code}/ack")
async def acknowledge(request: Request, code: str) -> Response:
    return await _act(
        request, "/console/alerts", lambda d, form, who: actions.acknowledge(d, code, who)
    )


@router.post("/alerts/silence")
async def silence(request: Request) -> Response:
    async def act(d: actions.ActionDeps, form: dict[str, str], who: str) -> dict[str, Any]:
        hours = form.get("hours", "")
        if not hours.isdigit() or not form.get("key"):
            raise actions.ActionRefused("silence needs an alert key and a number of hours")
        return await actions.silence(d, form["key"], int(hours), who)

    return await _act(request, "/console/alerts", act)


@router.post("/appointments/{appointment_id}/cancel")
async def cancel_appointment(request: Request, appointment_id: int) -> Response:
    return await _act(
        request,
        "/console/appointments",
        lambda d, form, who: actions.cancel_appointment(d, appointment_id, who),
    )


@router.post("/appointments/{appointment_id}/complete")
async def complete_appointment(request: Request, appointment_id: int) -> Response:
    return await _act(
        request,
        "/console/appointments",
        lambda d, form, who: actions.complete_appointment(d, appointment_id, who),
    )
