"""SupabaseTransport: the same Transport over PostgREST (`POST /rest/v1/rpc/<fn>`).

Used when only SUPABASE_URL + SUPABASE_SERVICE_ROLE_KEY are configured. Each call is its
own transaction on the server, which is why everything that must be atomic is one function.

Fast failure, as PostgresTransport (issue 15): reaching PostgREST waits at most
`connect_timeout` (a new connection, and sending the request) and `acquire_timeout` (a
pooled connection); with `call_timeout` the whole call is bounded too (the web app's graph:
DB_ACQUIRE_TIMEOUT_SECONDS, so a webhook falls to the spool as it does on Postgres when
PostgREST or the database behind it hangs). Past a bound, a refused connection, a network
error, a PostgREST "cannot reach the database" code or a gateway's 5xx page (502, 503, 504,
520-527) is `DatabaseUnavailable`. No retries here (supabase-py's own are turned off; RPCs
are POSTs it would not retry anyway): the callers decide.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import httpx
from postgrest.exceptions import APIError

from app.core.settings import Settings
from app.db.errors import DatabaseUnavailable, translate
from app.db.transport import Row, check_identifier
from supabase import AsyncClient, AsyncClientOptions, acreate_client

# HTTP statuses of a gateway in front of PostgREST (Supabase's proxy, Cloudflare) that
# mean "not reachable now", carried as APIError codes when the body is not PostgREST's JSON
_GATEWAY = frozenset({"502", "503", "504", "520", "521", "522", "523", "524", "525", "526",
                      "527"})  # fmt: skip
_JOB_READ_TIMEOUT = 120.0  # supabase-py's default: a job's long functions may take a while


def _jsonable(args: Mapping[str, Any]) -> dict[str, Any]:
    """Datetimes, UUIDs and decimals as PostgREST expects them (their JSON text forms)."""
    return dict(json.loads(json.dumps(dict(args), default=str)))


def _rows(function: str, data: Any) -> list[Row]:
    """Normalise PostgREST's answer to the PostgresTransport row shape."""
    if data is None:
        return []
    if isinstance(data, list):
        return [item if isinstance(item, dict) else {function: item} for item in data]
    if isinstance(data, dict):
        return [data]
    return [{function: data}]


class SupabaseTransport:
    """supabase-py async client; `client.rpc(fn, params)` with the service-role key."""

    name = "supabase"

    def __init__(
        self, url: str, service_role_key: str, *, connect_timeout: float = 2.0,
        acquire_timeout: float = 2.0, call_timeout: float | None = None,
    ) -> None:  # fmt: skip
        self._url = url
        self._key = service_role_key
        self._client: AsyncClient | None = None
        self.call_timeout = call_timeout
        read = call_timeout if call_timeout is not None else _JOB_READ_TIMEOUT
        self._timeouts = httpx.Timeout(
            read, connect=connect_timeout, write=connect_timeout, pool=acquire_timeout
        )

    @classmethod
    def from_settings(cls, settings: Settings, *, web: bool) -> SupabaseTransport:
        """The transport of a graph: the web app's (`web`) bounds every call by
        DB_ACQUIRE_TIMEOUT_SECONDS; a job's or the CLI's only the way in."""
        assert settings.supabase_url and settings.supabase_service_role_key
        return cls(
            settings.supabase_url, settings.supabase_service_role_key.get_secret_value(),
            connect_timeout=float(settings.db_connect_timeout_seconds),
            acquire_timeout=settings.db_acquire_timeout_seconds,
            call_timeout=settings.db_acquire_timeout_seconds if web else None,
        )  # fmt: skip

    async def open(self) -> SupabaseTransport:
        options = AsyncClientOptions(
            postgrest_client_timeout=self._timeouts, postgrest_client_retry=False
        )
        self._client = await acreate_client(self._url, self._key, options=options)
        return self

    async def call(self, function: str, args: Mapping[str, Any] | None = None) -> list[Row]:
        if self._client is None:
            await self.open()
        assert self._client is not None
        params = _jsonable({check_identifier(k): v for k, v in (args or {}).items()})
        request = self._client.rpc(check_identifier(function), params)
        try:
            async with asyncio.timeout(self.call_timeout):
                response = await request.execute()
        except TimeoutError as exc:
            raise DatabaseUnavailable(
                f"Supabase did not answer within {self.call_timeout} s", function=function
            ) from exc
        except APIError as exc:
            message = exc.message or "PostgREST error"
            if exc.code in _GATEWAY:
                raise DatabaseUnavailable(f"Supabase unreachable: HTTP {exc.code} {message}",
                                          code=exc.code, function=function) from exc  # fmt: skip
            if exc.details:
                message = f"{message} ({exc.details})"
            raise translate(exc.code, message, function) from exc
        except httpx.HTTPError as exc:  # timeouts (connect, pool, read) and network errors
            detail = str(exc) or type(exc).__name__
            message = f"cannot reach Supabase: {detail}"
            raise DatabaseUnavailable(message, function=function) from exc
        return _rows(function, response.data)

    async def close(self) -> None:
        self._client = None
