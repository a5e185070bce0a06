"""One HTTP exchange with a provider: credentials added here, errors typed here.

`call_provider` sends a `ProviderRequest` with the given auth, returns the decoded JSON of a
2xx answer, and otherwise raises the provider's classified error. Transport failures become
`RetryableProviderError` (nothing left) or `AmbiguousProviderError` (it may have arrived).
Credentials never appear in the errors: only the provider's code and message do.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

import httpx

from app.providers.errors import PermanentProviderError, ProviderError, transport_error
from app.providers.ports import ProviderRequest
from app.providers.retry import RetryPolicy

Classifier = Callable[[httpx.Response, datetime], ProviderError]
DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)


@lru_cache(maxsize=256)
def parsed_url(url: str) -> httpx.URL:
    """`url` parsed once: an adapter posts to the same few endpoints (Twilio's Messages.json
    for every text), and httpx parses a string URL on every request (a fifth of its cost per
    request to an in-process answer, bench/dispatch.py)."""
    return httpx.URL(url)


async def call_provider(
    client: httpx.AsyncClient,
    provider: str,
    request: ProviderRequest,
    *,
    auth: httpx.Auth | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    classify: Classifier,
    now: datetime,
) -> Any:
    """Send `request`; the JSON body of a 2xx answer, else the classified ProviderError."""
    try:
        response = await client.request(
            request.method,
            parsed_url(request.url),
            headers={**request.headers, **(headers or {})},
            json=request.json,
            data=request.form,
            params=params,
            auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
        )
    except httpx.TransportError as exc:
        raise transport_error(provider, exc) from None
    if not response.is_success:
        raise classify(response, now)
    try:
        return response.json()
    except json.JSONDecodeError:
        raise ProviderError(provider, f"HTTP {response.status_code} with a non-JSON body") from None


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def fetch_resource(
    call: Callable[[ProviderRequest], Awaitable[Any]],
    retry: RetryPolicy,
    lookup: ProviderRequest,
    *,
    what: str,
) -> dict[str, Any] | None:
    """GET one resource (a Twilio message, a Vapi call) under the retry policy: its JSON
    object, or None when the provider does not know it (404) or answers something else."""

    async def attempt() -> dict[str, Any] | None:
        try:
            data = await call(lookup)
        except PermanentProviderError as exc:
            if exc.status == 404:
                return None
            raise
        return data if isinstance(data, dict) else None

    return await retry.run(attempt, what=what)
