"""Vapi (AI calls) over httpx: `POST https://api.vapi.ai/call`, `GET /call`, `GET /call/{id}`.

Body: `assistantId`, `phoneNumberId`, `customer.number`, `assistantOverrides.variableValues`
and `assistantOverrides.metadata` — never a top-level `metadata` (Vapi answers 400 "property
metadata should not exist"). The metadata carries the outbox id and key, so webhooks and
reconciliation can tie a call back to its row.

Never twice: no idempotency key exists. After an ambiguous failure (timeout, dropped
connection, 5xx) the next attempt lists the calls of our phone number created since the claim
(`GET /call?phoneNumberId=&createdAtGe=`) and only places the call when none is ours.

The assistant: the campaign's agent (`CallRequest.assistant`, e.g. "sarah") by the Vapi id
of the version `AssistantLookup` chose for this call (the current one, or the candidate of a
version trial: app.agents.versions), else VAPI_ASSISTANT_ID.

`fetch_call` reads one call back (`GET /call/{id}`) for the reconciler of lost end-of-call
reports: None when Vapi answers 404 (it does not know the call).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import structlog
from pydantic import SecretStr

from app.core.clock import Clock
from app.providers.errors import AmbiguousProviderError, classify_vapi
from app.providers.http import bearer, call_provider, fetch_resource
from app.providers.ports import (
    CallRequest,
    CallResult,
    ProviderRequest,
    SendCheck,
    go_or_cancel,
)
from app.providers.retry import RetryPolicy

VAPI_API = "https://api.vapi.ai"
log = structlog.get_logger(__name__)
# the call → the Vapi assistant id of its agent's chosen version, or None (it may record
# the choice on the call's row)
AssistantLookup = Callable[[CallRequest], Awaitable[str | None]]
RECONCILE_SLACK = timedelta(seconds=120)


@dataclass(frozen=True)
class VapiConfig:
    api_key: SecretStr | None
    phone_number_id: str
    assistant_id: str
    base_url: str = VAPI_API


def build_call_request(
    request: CallRequest, config: VapiConfig, assistant_id: str | None = None
) -> ProviderRequest:
    """The exact `POST /call` for one outbound call, credentials excluded; `assistant_id`:
    the campaign agent's resolved id (None: VAPI_ASSISTANT_ID)."""
    customer: dict[str, Any] = {"number": request.to}
    if request.customer_name:
        customer["name"] = request.customer_name
    metadata = {
        **request.metadata,
        "outbox_id": request.outbox_id,
        "idempotency_key": request.idempotency_key,
    }
    body = {
        "assistantId": assistant_id or config.assistant_id,
        "phoneNumberId": config.phone_number_id,
        "customer": customer,
        "assistantOverrides": {"variableValues": request.variable_values, "metadata": metadata},
    }
    return ProviderRequest(method="POST", url=f"{config.base_url}/call", json=body)


def is_our_call(item: dict[str, Any], request: CallRequest) -> bool:
    """A listed call is ours: same customer number and, when metadata came back, our row."""
    customer = item.get("customer") or {}
    if customer.get("number") != request.to:
        return False
    overrides = item.get("assistantOverrides") or {}
    metadata = overrides.get("metadata") or item.get("metadata") or {}
    outbox_id = metadata.get("outbox_id")
    return outbox_id is None or str(outbox_id) == str(request.outbox_id)


async def resolve_assistant(request: CallRequest, lookup: AssistantLookup | None) -> str | None:
    """The Vapi id of the request's agent; None (→ VAPI_ASSISTANT_ID) when no agent was
    chosen, or it was never pushed (logged: the call still goes out, with the default)."""
    if not request.assistant or lookup is None:
        return None
    found = await lookup(request)
    if found is None:
        log.warning("agent never pushed: the call uses VAPI_ASSISTANT_ID",
                    agent=request.assistant, outbox_id=request.outbox_id)  # fmt: skip
    return found


class VapiCallPlacer:
    """CallPlacer for Vapi; at most `max_concurrent` placements in flight per process
    (the org-wide concurrent-call cap is enforced by `claim_call` over the calls table)."""

    name = "vapi"

    def __init__(
        self,
        config: VapiConfig,
        *,
        client: httpx.AsyncClient,
        retry: RetryPolicy,
        clock: Clock,
        max_concurrent: int = 10,
        assistants: AssistantLookup | None = None,
    ) -> None:
        if config.api_key is None:
            raise ValueError("VapiCallPlacer needs an API key (use the dry-run twin)")
        self.config = config
        self.client = client
        self.retry = retry
        self.clock = clock
        self._auth = bearer(config.api_key.get_secret_value())
        self._slots = asyncio.Semaphore(max_concurrent)
        self.assistants = assistants

    async def place(self, request: CallRequest, check: SendCheck | None = None) -> CallResult:
        """Place the call; `check` runs once a placement slot is free, before each POST."""
        assistant_id = await resolve_assistant(request, self.assistants)
        http_request = build_call_request(request, self.config, assistant_id)
        since = request.ambiguous_since

        async def attempt() -> CallResult:
            nonlocal since
            if since is not None:
                found = await self.find_placed(request, since)
                if found is not None:
                    return found
            try:
                async with self._slots:
                    await go_or_cancel(check, request.outbox_id)
                    data = await self._call(http_request)
            except AmbiguousProviderError:
                since = since or request.claimed_at
                raise
            return CallResult("vapi", str(data["id"]), str(data.get("status", "queued")))

        return await self.retry.run(attempt, what=f"vapi call outbox={request.outbox_id}")

    async def find_placed(self, request: CallRequest, since: datetime) -> CallResult | None:
        """Reconcile: the call Vapi created for this row since `since`, if any."""
        params = {
            "phoneNumberId": self.config.phone_number_id,
            "createdAtGe": (since - RECONCILE_SLACK).isoformat().replace("+00:00", "Z"),
            "limit": "100",
        }
        lookup = ProviderRequest(method="GET", url=f"{self.config.base_url}/call")
        data = await self._call(lookup, params=params)
        items = data if isinstance(data, list) else (data.get("results") or [])
        for item in items:
            if is_our_call(item, request):
                status = str(item.get("status", "queued"))
                return CallResult("vapi", str(item["id"]), status, reconciled=True)
        return None

    async def fetch_call(self, call_id: str) -> dict[str, Any] | None:
        """The call as Vapi has it (`GET /call/{id}`, under the retry policy); None on 404."""
        url = f"{self.config.base_url}/call/{quote(call_id, safe='')}"
        lookup = ProviderRequest(method="GET", url=url)
        return await fetch_resource(self._call, self.retry, lookup, what=f"vapi get call {call_id}")

    async def _call(self, request: ProviderRequest, params: dict[str, str] | None = None) -> Any:
        return await call_provider(
            self.client, "vapi", request, headers=self._auth, params=params,
            classify=classify_vapi, now=self.clock.now(),
        )  # fmt: skip
