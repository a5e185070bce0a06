"""What every webhook endpoint shares: reading the body under a size limit, checking the
content type, parsing JSON, and answering a rejection.

Contract (issue 5, "rules for every endpoint"): a body over WEBHOOK_MAX_BODY_BYTES is 413
before anything else (app.webhooks.limits.BodyLimit, for every route, declared or streamed);
then 415 (content type) → 401/403 (verification) → 400 (malformed body, or JSON nested too
deep). Every rejection is logged with the provider, the status and a short reason — never a
header value or a secret — and never becomes a 500.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import structlog
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import SecretStr

from app.core.settings import Settings
from app.db.errors import DatabaseError, InvalidInput
from app.db.failures import Failure
from app.jobs.bootstrap import Context
from app.webhooks.payloads import PayloadError, load_json
from app.webhooks.spooling import replayed, spool_reply

log = structlog.get_logger(__name__)

JSON_TYPES = ("application/json",)
FORM_TYPES = ("application/x-www-form-urlencoded",)


class Rejected(Exception):
    """A request refused before anything was stored."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def context(request: Request) -> Context:
    ctx: Context = request.app.state.context
    return ctx


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def require_media_type(request: Request, allowed: tuple[str, ...]) -> str:
    kind = media_type(request)
    if kind not in allowed:
        raise Rejected(415, f"unsupported content type, expected {' or '.join(allowed)}")
    return kind


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Rejected(413, f"body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Rejected(413, f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    """The parsed body, storable in Postgres (app.webhooks.payloads: NUL, lone surrogates and
    invalid UTF-8 become U+FFFD, the original body kept beside them); 400 when malformed or
    nested deeper than MAX_JSON_DEPTH."""
    try:
        return load_json(body)
    except PayloadError as exc:
        raise Rejected(400, str(exc)) from exc


Endpoint = Callable[[Request], Awaitable[Response]]


def database_safe(handler: Endpoint) -> Callable[[Request], Coroutine[Any, Any, Response]]:
    """A database failure never becomes a bare 500: a verified request is spooled and
    acknowledged (app.webhooks.spooling); otherwise, or when the spool fails too, 503 (the
    provider may retry). A value the database refused → 200 `{"ignored": ...}`, logged (a
    verified event that cannot be stored would not be stored on a retry either); 422 when a
    spooled request is replayed, so the drain sets it aside with the reason."""

    async def safe(request: Request) -> Response:
        try:
            return await handler(request)
        except InvalidInput as exc:
            log.error("webhook event refused by the database", path=request.url.path,
                      function=exc.function, code=exc.code)  # fmt: skip
            await record_webhook_failure(request, f"invalid_value:{exc.code}",
                                         f"verified event refused by {exc.function}")  # fmt: skip
            status = 422 if replayed(request) else 200
            return JSONResponse({"ignored": "invalid value"}, status_code=status)
        except DatabaseError as exc:
            spooled = await spool_reply(request, exc)
            if spooled is not None:
                return spooled
            log.error("webhook: database unavailable", path=request.url.path,
                      error=type(exc).__name__)  # fmt: skip
            return JSONResponse({"error": "database unavailable"}, status_code=503)

    return safe


async def record_webhook_failure(request: Request, code: str, message: str) -> None:
    """A verified event that could not be applied, in system_logs' failure shape (source
    `webhook:<provider>`, key the path); never raises. Rejections of unverified requests are
    not recorded: anyone on the internet can send them."""
    ctx = context(request)
    provider = request.url.path.removeprefix("/webhooks/").split("/")[0] or "web"
    failure = Failure(f"webhook:{provider}", code, message, key=request.url.path)
    await ctx.repos.failures.record(failure, ctx.clock.now())


class SafeRoute(APIRoute):
    """A FastAPI route whose database failures are answered by `database_safe`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return database_safe(super().get_route_handler())


def reject(provider: str, exc: Rejected) -> JSONResponse:
    log.warning("webhook rejected", provider=provider, status=exc.status, reason=exc.reason)
    return JSONResponse({"error": exc.reason}, status_code=exc.status)


def secret_value(secret: SecretStr | None) -> str | None:
    value = secret.get_secret_value() if secret is not None else None
    return value or None


def unverified_allowed(settings: Settings, *secrets: SecretStr | None) -> bool:
    """Development with no webhook secret configured accepts unsigned requests (logged), so
    `nightshift dev` can be driven by hand; production never does."""
    if settings.is_production or any(secret_value(s) for s in secrets):
        return False
    log.warning("DEV: webhook accepted without verification (no secret configured)")
    return True
