"""How the simulated providers POST their webhooks to the web app in this process.

Contract of `InProcessClient(app, base_url)`: `await client.post(path, content=body,
headers=headers)` hands `app` one ASGI HTTP request — method POST, the path and query split
as a server splits them, the `Host` of `base_url`, `Content-Length`, the given headers
(names lower-cased, values as given), the body in one `http.request` message (a later
`receive` waits for the answer to be complete, then says the client left) — waits until
the app has finished (its background tasks included, as httpx's ASGITransport does), and
returns the answer as an `httpx.Response` (status, headers, body). An exception in the app
propagates. Only `post(url, content=bytes, headers=mapping)` is served (`path`: the
path under `base_url`, with its query, joined as httpx joins them); anything else raises
TypeError.

Why not `httpx.AsyncClient(transport=httpx.ASGITransport(app))`: the client builds and
merges a URL, cookies, auth and redirect handling around every request, and the transport
tries `import sniffio` on every request (not installed here: a failed import is retried
each time): ~0.19 ms a request against ~14 µs for this (bench/sim_post.py),
9-11 s of a simulated month's 38,030 webhooks. The app's side is untouched: the same
middleware, routes, signature checks and stores as a request uvicorn hands it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
from starlette.types import ASGIApp, Message


class InProcessClient(httpx.AsyncClient):
    """An httpx client (so the simulator's callers keep their types) whose `post` calls
    `app` directly; see the module contract."""

    def __init__(self, app: ASGIApp, base_url: str, client: tuple[str, int]) -> None:
        super().__init__(base_url=base_url)
        self._app = app
        self._client_address = client
        parts = urlsplit(base_url)
        self._scheme = parts.scheme or "http"
        self._netloc = parts.netloc.encode("ascii")
        self._server = (parts.hostname or "", parts.port)
        self._prefix = parts.path.rstrip("/")  # a base URL's path comes first, as httpx merges it

    async def post(self, url: httpx.URL | str, **kwargs: Any) -> httpx.Response:
        content, headers = kwargs.pop("content", None), kwargs.pop("headers", None) or {}
        if kwargs or not isinstance(content, bytes) or not isinstance(headers, Mapping):
            raise TypeError("InProcessClient.post takes a path, content=bytes and headers only")
        if not str(url).startswith("/"):
            raise TypeError(f"InProcessClient.post takes a path on the app, not {url!r}")
        return await self._call(str(url), content, headers)

    async def _call(self, url: str, body: bytes, headers: Mapping[str, str]) -> httpx.Response:
        path, _, query = url.partition("?")
        path = self._prefix + path
        raw = [(b"host", self._netloc), (b"content-length", b"%d" % len(body))]
        raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        scope: dict[str, Any] = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": self._scheme, "path": unquote(path),
            "raw_path": path.encode("ascii"), "query_string": query.encode("ascii"),
            "root_path": "", "headers": raw, "server": self._server,
            "client": self._client_address,
        }  # fmt: skip
        sent, done = False, asyncio.Event()
        status, answer, chunks = 0, [], []

        async def receive() -> Message:
            nonlocal sent
            if sent:  # as a server: the client is gone only once the answer is complete
                await done.wait()
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Message) -> None:
            nonlocal status, answer
            if message["type"] == "http.response.start":
                status, answer = int(message["status"]), list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    done.set()

        await self._app(scope, receive, send)
        return httpx.Response(status, headers=answer, content=b"".join(chunks))
