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
import orjson

from app.providers.errors import PermanentProviderError, ProviderError, transport_error
from app.providers.ports import ProviderRequest
from app.providers.retry import RetryPolicy

Classifier = Callable[[httpx.Response, datetime], ProviderError]
DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
# A body with a number of 19 digits or more where a JSON value starts (after a colon, a
# comma, a bracket, or first; blanks and minus signs dropped) is left to the stdlib: orjson
# would read an integer past 64 bits as a float where the stdlib keeps it whole. Found by
# one `bytes.translate` (digits -> "1", value starts -> "S", the rest -> "0") and one
# substring search: a regex scan of a Twilio answer costs more than the stdlib's decode.
# Inside a string the same run only sends that body the stdlib's way (harmless).
_SHAPES = bytes(49 if 48 <= c <= 57 else 83 if c in b":,[" else 48 for c in range(256))
_LONG_NUMBER = b"S" + b"1" * 19


def _long_number(content: bytes) -> bool:
    shape = content.translate(_SHAPES, b" \t\r\n-")
    return _LONG_NUMBER in shape or shape.startswith(_LONG_NUMBER[1:])


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
    return decoded(response, provider, classify, now)


def decoded(response: httpx.Response, provider: str, classify: Classifier, now: datetime) -> Any:
    """The JSON body of a 2xx answer, else the classified ProviderError. Decoded by orjson
    (a quarter of the stdlib's CPU, which `response.json()` uses); a body orjson refuses or
    reads otherwise (NaN, a lone surrogate, a BOM, UTF-16: refused; an integer past 64
    bits, which it makes a float: `_long_number`) is read as `response.json()` reads it,
    so the answer is the same either way."""
    if not response.is_success:
        raise classify(response, now)
    content = response.content
    if not _long_number(content):
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            pass
    try:
        return response.json()
    except json.JSONDecodeError:
        raise ProviderError(provider, f"HTTP {response.status_code} with a non-JSON body") from None


async def send_prepared(
    client: httpx.AsyncClient, request: httpx.Request, *, provider: str
) -> httpx.Response:
    """Send a complete request (every header, credentials included, and its body already
    built by the caller) through `client`'s own transport for its URL, the one
    `client.request` would use (the connection pool, a proxy mount; where respx and the
    bench's stand-in patch), with the client's timeout; its body read and the connection
    released. What it skips of the client's layers: the auth flow, the cookie jar (neither
    sent nor filled), redirects (the client follows none by default), event hooks, default
    headers and the client's request log line; those layers cost more CPU than the request
    itself (bench/twilio_send.py), so an adapter that sends one shape many times (Twilio's
    Messages.json, one per text) builds it once and sends it here. Transport failures are
    typed as `call_provider` types them."""
    request.extensions.setdefault("timeout", client.timeout.as_dict())
    # `_transport_for_url` is how the client itself picks the transport (mounts, proxies):
    # private, but the point of this path; tests/providers/test_twilio_prepared.py pins it.
    transport = client._transport_for_url(request.url)
    try:
        response = await transport.handle_async_request(request)
        response.request = request
        try:
            await response.aread()  # reading to the end closes the stream: the pool is free
        except BaseException:
            await response.aclose()
            raise
    except httpx.TransportError as exc:
        raise transport_error(provider, exc) from None
    return response


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
