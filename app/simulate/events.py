"""The webhooks the simulated providers send back, queued on the virtual clock.

Contract: `EventQueue.schedule(at, action)` keeps actions in time order (ties in scheduling
order, so a run is deterministic); `deliver_due(now, http)` posts every action due at or
before `now` through the in-process ASGI client, and counts non-2xx answers in `rejected`.
The body builders produce what Twilio, Resend and Vapi post (the fields nightshift reads);
they go unsigned: the simulator runs in development with no webhook secret configured.
"""

from __future__ import annotations

import heapq
import itertools
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx

Action = Callable[[httpx.AsyncClient], Awaitable[None]]
OUR_NUMBER = "+15005550006"


class EventQueue:
    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int, Action]] = []
        self._seq = itertools.count()
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
        """POST one webhook; a non-2xx answer is remembered (the report shows it)."""
        if form is not None:
            response = await http.post(path, data=form, headers=headers)
        else:
            content = json.dumps(json_body).encode()
            hdrs = {"Content-Type": "application/json", **(headers or {})}
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
