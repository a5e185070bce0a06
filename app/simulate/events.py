"""The webhooks the simulated providers send back, queued on the virtual clock.

Contract: `EventQueue.schedule(at, action)` keeps actions in time order (ties in scheduling
order, so a run is deterministic); `deliver_due(now, http)` posts every action due at or
before `now` through the in-process ASGI client, and counts non-2xx answers in `rejected`.
The body builders produce what Twilio, Resend and Vapi post (the fields nightshift reads).
With a `Signer` every request is signed as its provider signs it (Twilio's
`X-Twilio-Signature` over the public URL and form, Resend's Svix headers at the virtual time,
Vapi's `x-vapi-secret`), and the app verifies it exactly as in production (sim_settings
configures the same secrets): no unsigned shortcut.
"""

from __future__ import annotations

import base64
import heapq
import itertools
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from app.core.clock import Clock
from app.webhooks.signatures import svix_signature, twilio_signature

Action = Callable[[httpx.AsyncClient], Awaitable[None]]
OUR_NUMBER = "+15005550006"
# The simulated providers' signing secrets (not secrets: the run is self-contained).
SIM_TWILIO_AUTH_TOKEN = "sim-twilio-auth-token"
SIM_RESEND_SECRET = "whsec_" + base64.b64encode(b"nightshift simulated svix key!!!").decode()
SIM_VAPI_SECRET = "sim-vapi-server-secret"


@dataclass(frozen=True)
class Signer:
    """Signs a webhook as its provider would, at the virtual time (`clock`); `base_url` is
    PUBLIC_BASE_URL, the address Twilio signs."""

    clock: Clock
    base_url: str
    _ids: Iterator[int] = field(default_factory=itertools.count)

    def headers(
        self, path: str, body: bytes, form: dict[str, str] | None, given: dict[str, str]
    ) -> dict[str, str]:
        """The signature headers for a POST of `body` to `path` (a `svix-id` in `given` is
        the event's own id, kept: Resend's retries carry the same one)."""
        if path.startswith("/webhooks/twilio"):
            url = self.base_url + path
            pairs = (form or {}).items()
            return {"X-Twilio-Signature": twilio_signature(SIM_TWILIO_AUTH_TOKEN, url, pairs)}
        if path.startswith("/webhooks/resend"):
            msg_id = given.get("svix-id") or f"msg_sim{next(self._ids)}"
            stamp = str(int(self.clock.now().timestamp()))
            signature = svix_signature(SIM_RESEND_SECRET, msg_id, stamp, body)
            return {"svix-id": msg_id, "svix-timestamp": stamp, "svix-signature": signature}
        if path.startswith("/webhooks/vapi"):
            return {"x-vapi-secret": SIM_VAPI_SECRET}
        return {}


class EventQueue:
    def __init__(self, signer: Signer | None = None) -> None:
        self._heap: list[tuple[datetime, int, Action]] = []
        self._seq = itertools.count()
        self._signer = signer
        self.posted = 0
        self.rejected: list[str] = []

    def __len__(self) -> int:
        return len(self._heap)

    def schedule(self, at: datetime, action: Action) -> None:
        heapq.heappush(self._heap, (at, next(self._seq), action))

    async def deliver_due(self, now: datetime, http: httpx.AsyncClient) -> int:
        """Run every action due by `now`; returns how many ran."""
        ran = 0
        while self._heap and self._heap[0][0] <= now:
            _, _, action = heapq.heappop(self._heap)
            await action(http)
            ran += 1
        return ran

    async def post(
        self, http: httpx.AsyncClient, path: str, *, json_body: Any = None,
        form: dict[str, str] | None = None, headers: dict[str, str] | None = None,
    ) -> httpx.Response:  # fmt: skip
        """POST one webhook (signed when the queue has a `Signer`); a non-2xx answer is
        remembered (the report shows it)."""
        if form is not None:
            content = urlencode(form).encode()
            hdrs = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        else:
            content = json.dumps(json_body).encode()
            hdrs = {"Content-Type": "application/json", **(headers or {})}
        if self._signer is not None:
            hdrs |= self._signer.headers(path, content, form, hdrs)
        response = await http.post(path, content=content, headers=hdrs)
        self.posted += 1
        if response.status_code >= 300:
            self.rejected.append(f"{path} {response.status_code} {response.text[:120]}")
        return response


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def twilio_status(sid: str, status: str, to: str) -> dict[str, str]:
    return {"MessageSid": sid, "MessageStatus": status, "To": to, "From": OUR_NUMBER,
            "AccountSid": "AC_SIMULATED", "ApiVersion": "2010-04-01"}  # fmt: skip


def twilio_inbound(sid: str, sender: str, body: str) -> dict[str, str]:
    return {"MessageSid": sid, "SmsSid": sid, "From": sender, "To": OUR_NUMBER, "Body": body,
            "NumMedia": "0", "AccountSid": "AC_SIMULATED", "ApiVersion": "2010-04-01"}  # fmt: skip


def resend_event(kind: str, email_id: str, to: str, at: datetime, **extra: Any) -> dict[str, Any]:
    data = {"email_id": email_id, "to": [to], "created_at": iso(at), **extra}
    return {"type": kind, "created_at": iso(at), "data": data}


def vapi_call(call_id: str, to: str, metadata: dict[str, Any]) -> dict[str, Any]:
    return {"id": call_id, "type": "outboundPhoneCall", "customer": {"number": to},
            "assistantOverrides": {"metadata": metadata}}  # fmt: skip


def vapi_status(call: dict[str, Any], status: str, at: datetime) -> dict[str, Any]:
    return {"message": {"type": "status-update", "status": status,
                        "timestamp": int(at.timestamp() * 1000), "call": call}}  # fmt: skip


def vapi_report(
    call: dict[str, Any], reason: str, started: datetime, ended: datetime, booked: bool,
    transcript: str = "AI: Hi.\nUser: Hello.",
) -> dict[str, Any]:  # fmt: skip
    analysis: dict[str, Any] = {"summary": "simulated call",
                                "structuredData": {"appointmentBooked": booked}}  # fmt: skip
    return {"message": {
        "type": "end-of-call-report", "endedReason": reason, "call": call,
        "timestamp": int(ended.timestamp() * 1000), "startedAt": iso(started),
        "endedAt": iso(ended), "durationSeconds": (ended - started).total_seconds(),
        "cost": 0.05, "analysis": analysis, "artifact": {"transcript": transcript},
    }}  # fmt: skip


def vapi_tool(
    call: dict[str, Any], tool_id: str, name: str, args: dict[str, Any]
) -> dict[str, Any]:
    item = {"id": tool_id, "type": "function", "function": {"name": name, "arguments": args}}
    return {"message": {"type": "tool-calls", "call": call, "toolCalls": [item],
                        "toolCallList": [item]}}  # fmt: skip
