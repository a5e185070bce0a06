"""Vapi's configuration API over httpx: assistants, tools and files (docs/notes/vapi-agents.md).

`send(request)` performs one `ApiRequest` (JSON, or a multipart upload for `POST /file`)
and returns the decoded answer; errors are Vapi's classified ProviderErrors
(app.providers.errors.classify_vapi). One attempt: `nightshift agents push` is run by a
person, who sees a failure and runs it again (a push is resumable: see app.agents.plan).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from app.core.clock import Clock
from app.providers.errors import PermanentProviderError, classify_vapi, transport_error
from app.providers.http import bearer
from app.providers.vapi import VAPI_API


@dataclass(frozen=True)
class Upload:
    """A file for `POST /file` (multipart field `file`)."""

    filename: str
    content: bytes
    content_type: str = "text/markdown"


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str  # e.g. /assistant/{id}
    json: dict[str, Any] | None = None
    upload: Upload | None = None


class VapiAssistantsApi:
    def __init__(
        self, api_key: SecretStr, *, client: httpx.AsyncClient, clock: Clock,
        base_url: str = VAPI_API,
    ) -> None:  # fmt: skip
        self._auth = bearer(api_key.get_secret_value())
        self.client = client
        self.clock = clock
        self.base_url = base_url

    async def send(self, request: ApiRequest, params: dict[str, str] | None = None) -> Any:
        url = f"{self.base_url}{request.path}"
        files = None
        if request.upload is not None:
            u = request.upload
            files = {"file": (u.filename, u.content, u.content_type)}
        try:
            response = await self.client.request(
                request.method, url, headers=self._auth, json=request.json, files=files,
                params=params,
            )  # fmt: skip
        except httpx.TransportError as exc:
            raise transport_error("vapi", exc) from None
        if not response.is_success:
            raise classify_vapi(response, self.clock.now())
        if not response.content:
            return None
        try:
            return response.json()
        except json.JSONDecodeError:
            return None

    async def get_assistant(self, assistant_id: str) -> dict[str, Any] | None:
        """The live assistant; None when Vapi does not know the id (404)."""
        try:
            found = await self.send(ApiRequest("GET", f"/assistant/{quote(assistant_id, safe='')}"))
        except PermanentProviderError as exc:
            if exc.status == 404:
                return None
            raise
        return found if isinstance(found, dict) else None

    async def find_assistant(self, name: str) -> dict[str, Any] | None:
        """The newest assistant named `name` (`GET /assistant`, a plain array)."""
        found = await self.send(ApiRequest("GET", "/assistant"), params={"limit": "1000"})
        items = [a for a in found or [] if isinstance(a, dict) and a.get("name") == name]
        items.sort(key=lambda a: str(a.get("updatedAt") or a.get("createdAt") or ""))
        return items[-1] if items else None
