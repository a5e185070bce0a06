"""`create_app(context)`: the FastAPI factory.

Given a Context (tests, `nightshift dev`) the app uses it as is; given none (Modal), the
app's lifespan opens one from settings at startup and closes it at shutdown, inside the
server's event loop where the database pool must live.

Routes: `GET /healthz`; the webhooks, `/r/` and `/u/` (app/webhooks/routes.py,
docs/webhooks.md; the providers' webhooks are plain Starlette routes, matched first);
`POST /webhooks/booking` and `GET /status` (docs/appointments.md); `/console`
(docs/console.md). Every route's body is
limited by `BodyLimit` (app/webhooks/limits.py); `/openapi.json` is off in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.core.settings import get_settings
from app.db.errors import DatabaseError
from app.jobs import JOBS
from app.jobs.bootstrap import Context, bootstrap
from app.jobs.health import job_health
from app.jobs.spool import drain_forever
from app.providers.spool import Apply
from app.webhooks.calendar_hook import router as booking
from app.webhooks.console import router as console
from app.webhooks.front import WebApp
from app.webhooks.limits import BodyLimit
from app.webhooks.routes import webhook_routers, webhook_routes
from app.webhooks.spooling import asgi_apply
from app.webhooks.status_page import router as status


def create_app(context: Context | None = None) -> FastAPI:
    """Build the web app around `context`, or around one opened at startup."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            # without waiting for the database: during an outage the app must come up to
            # spool the webhooks it cannot store (app.webhooks.spooling)
            app.state.context = context or await stack.enter_async_context(
                bootstrap(wait_for_database=False)
            )
            if context is None:  # a server process: what startup built lives as long as it
                gc.collect()
                gc.freeze()  # so a full collection never walks it again (a 30-60 ms pause)
            # what was spooled (here or by an earlier container), applied beside the requests:
            # at startup, then every SPOOL_DRAIN_INTERVAL_SECONDS
            drainer = asyncio.create_task(drain_forever(app.state.context, asgi_apply(app)))
            yield
            drainer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drainer

    settings = context.settings if context is not None else get_settings()
    # No route map for strangers: /docs and /redoc are never served, /openapi.json only in
    # development (a route list helps when driving `nightshift dev` by hand).
    openapi = None if settings.is_production else "/openapi.json"
    hooks = webhook_routes()
    # the providers' webhook POSTs skip FastAPI's own layers (app.webhooks.front)
    app = WebApp(fast_routes=hooks, title="nightshift", lifespan=lifespan, docs_url=None,
                 redoc_url=None, openapi_url=openapi)  # fmt: skip
    app.add_middleware(BodyLimit)  # every route: 413 once a body crosses its limit
    app.router.routes.extend(hooks)  # first: the providers' POST webhooks
    app.add_api_route("/healthz", healthz, methods=["GET"])
    for router in webhook_routers():  # webhooks, /r/ and /u/ (docs/webhooks.md)
        app.include_router(router)
    app.include_router(booking)  # POST /webhooks/booking (docs/appointments.md)
    app.include_router(status)  # GET /status, /status/login
    app.include_router(console)  # /console: the operator's console (docs/console.md)
    return app


async def healthz(request: Request) -> JSONResponse:
    """200 when the database answers (with each job's last run), 503 when it does not."""
    ctx: Context = request.app.state.context
    now = ctx.clock.now()
    try:
        await ctx.repos.health.ping()
        states = {s.job: s for s in await ctx.repos.job_runs.status(now, [j.name for j in JOBS])}
    except DatabaseError as exc:
        body = {"status": "down", "database": {"ok": False, "error": type(exc).__name__}}
        return JSONResponse(body, status_code=503)
    jobs = {job.name: job_health(states.get(job.name), job.name, now) for job in JOBS}
    return JSONResponse(
        {
            "status": "ok",
            "time": now.isoformat(),
            "database": {"ok": True, "mode": ctx.settings.database_mode()},
            "jobs": jobs,
        }
    )


def ingest(ctx: Context) -> Apply:
    """How a job applies spooled webhooks: through this app's routes, on `ctx` (the graph's
    `ingest`, given by the edges: app.modal_entry, the dev server)."""
    app = create_app(ctx)
    app.state.context = ctx  # the routes read it; no lifespan runs (no second drain)
    return asgi_apply(app)
