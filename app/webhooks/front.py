"""`WebApp`: the FastAPI app, with the providers' webhook POSTs served in front of its stack.

Contract:
- a `POST` whose path is exactly one of `fast_routes` (the providers' plain Starlette
  routes, app.webhooks.routes) goes through the app's own middleware (`add_middleware`:
  BodyLimit, app.webhooks.limits) straight to that route's handler, with the scope a
  router gives it (`app`, `router`, `endpoint`, `path_params`);
- everything else — another method on those paths (405 as before), any other path, the
  lifespan, an app with a root path — goes through FastAPI as usual;
- what the fast path leaves out is what those handlers never use: Starlette's error page
  middleware (an exception escaping the handler still reaches the server, which answers
  500 as it did), the HTTPException handlers (the handlers raise none: every refusal is a
  response, app.webhooks.common), FastAPI's dependency exit stack, its own body limit (not
  configured) and its OpenTelemetry (not configured), and the router's walk over the routes.

Why: a simulated month posts ~38,000 webhooks through the app, and those layers were a
quarter to a third of a post's CPU when it stores nothing (bench/webhook_front_ab.py,
bench/RESULTS.md "Webhook ingest").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send


class WebApp(FastAPI):
    """FastAPI with `fast_routes` served in front of its stack (see the module contract)."""

    def __init__(self, *, fast_routes: Sequence[BaseRoute], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._fast_routes = {r.path: r for r in fast_routes if isinstance(r, Route)}
        self._fast: dict[str, ASGIApp] | None = None  # built at the first request

    def _build_fast(self) -> dict[str, ASGIApp]:
        """Each route's handler inside the app's own middleware, as Starlette stacks it."""
        built: dict[str, ASGIApp] = {}
        for path, route in self._fast_routes.items():
            handler: ASGIApp = route.app
            for cls, args, kwargs in reversed(self.user_middleware):
                handler = cls(handler, *args, **kwargs)
            built[path] = handler
        return built

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        plain = scope["type"] == "http" and not (self.root_path or scope.get("root_path"))
        route = self._fast_routes.get(scope["path"]) if plain else None
        if route is None or scope["method"] != "POST":
            await super().__call__(scope, receive, send)
            return
        if self._fast is None:
            self._fast = self._build_fast()
        scope["app"] = self
        scope["router"] = self.router
        scope["endpoint"] = route.endpoint
        scope["path_params"] = {}
        await self._fast[route.path](scope, receive, send)
