"""`BodyLimit`: the request body limit, enforced once for every route as ASGI middleware.

Contract:
- a declared `Content-Length` over the route's limit is answered 413 before a byte of the
  body is read;
- a chunked (or under-declared) body is counted as it streams in: the moment it crosses the
  limit the handler's read fails, the middleware answers 413 and the rest is never read
  (the server then closes the connection), so memory holds at most one limit's worth;
- the limit is WEBHOOK_MAX_BODY_BYTES (read from the app's context on every request, so a
  test's settings apply), and LOGIN_MAX_BYTES for `POST /status/login`, an anonymous form.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOGIN_MAX_BYTES = 4096
SMALL_ROUTES = {"/status/login": LOGIN_MAX_BYTES, "/status/logout": LOGIN_MAX_BYTES}


class BodyTooLarge(Exception):
    """Raised from `receive` when the body crosses the limit; caught by `BodyLimit`."""


def route_limit(scope: Scope) -> int:
    """The body limit of the route `scope` asks for."""
    small = SMALL_ROUTES.get(scope.get("path", ""))
    if small is not None:
        return small
    state = getattr(scope.get("app"), "state", None)
    context = getattr(state, "context", None)
    return int(context.settings.webhook_max_body_bytes) if context is not None else 1024 * 1024


def declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def too_large(send: Send, limit: int) -> None:
    body = b'{"error":"body over %d bytes"}' % limit
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body)),
               (b"connection", b"close")]  # fmt: skip
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """ASGI middleware: see the module contract."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = route_limit(scope)
        declared = declared_length(scope)
        if declared is not None and declared > limit:
            await too_large(send, limit)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if started:  # a handler that answered before reading its body: nothing to add
                return
            await too_large(send, limit)
