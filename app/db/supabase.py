"""SupabaseTransport: the same Transport over PostgREST (`POST /rest/v1/rpc/<fn>`).

Used when only SUPABASE_URL + SUPABASE_SERVICE_ROLE_KEY are configured. Each call is its
own transaction on the server, which is why everything that must be atomic is one function.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx
from postgrest.exceptions import APIError

from app.db.errors import DatabaseUnavailable, translate
from app.db.transport import Row, check_identifier
from supabase import AsyncClient, acreate_client


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

    def __init__(self, url: str, service_role_key: str) -> None:
        self._url = url
        self._key = service_role_key
        self._client: AsyncClient | None = None

    async def open(self) -> SupabaseTransport:
        self._client = await acreate_client(self._url, self._key)
        return self

    async def call(self, function: str, args: Mapping[str, Any] | None = None) -> list[Row]:
        if self._client is None:
            await self.open()
        assert self._client is not None
        params = _jsonable({check_identifier(k): v for k, v in (args or {}).items()})
        try:
            response = await self._client.rpc(check_identifier(function), params).execute()
        except APIError as exc:
            message = exc.message or "PostgREST error"
            if exc.details:
                message = f"{message} ({exc.details})"
            raise translate(exc.code, message, function) from exc
        except httpx.HTTPError as exc:
            raise DatabaseUnavailable(f"cannot reach Supabase: {exc}", function=function) from exc
        return _rows(function, response.data)

    async def close(self) -> None:
        self._client = None
