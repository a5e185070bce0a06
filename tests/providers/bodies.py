"""Provider response bodies shaped like the real ones (see docs/notes/)."""

from __future__ import annotations

from typing import Any

from tests.providers.conftest import FROM_NUMBER, TWILIO_SID


def twilio_error(code: int, message: str, status: int = 400) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def twilio_message(
    sid: str, to: str, body: str, created: str, status: str = "queued"
) -> dict[str, Any]:
    return {
        "account_sid": TWILIO_SID,
        "api_version": "2010-04-01",
        "body": body,
        "date_created": created,
        "date_sent": None,
        "date_updated": created,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": FROM_NUMBER,
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": status,
        "to": to,
        "uri": f"/2010-04-01/Accounts/{TWILIO_SID}/Messages/{sid}.json",
    }


def twilio_page(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "messages": messages,
        "end": max(len(messages) - 1, 0),
        "first_page_uri": "/2010-04-01/Accounts/AC.../Messages.json?PageSize=50&Page=0",
        "next_page_uri": None,
        "page": 0,
        "page_size": 50,
        "previous_page_uri": None,
        "start": 0,
        "uri": "/2010-04-01/Accounts/AC.../Messages.json?PageSize=50&Page=0",
    }


def resend_error(status: int, name: str, message: str) -> dict[str, Any]:
    return {"statusCode": status, "name": name, "message": message}


def vapi_error(status: int, message: str | list[str], error: str) -> dict[str, Any]:
    return {"message": message, "error": error, "statusCode": status}


def vapi_call(call_id: str, number: str, outbox_id: int | None, created: str) -> dict[str, Any]:
    overrides: dict[str, Any] = {"variableValues": {"first_name": "Dana"}}
    if outbox_id is not None:
        overrides["metadata"] = {"outbox_id": outbox_id, "idempotency_key": f"call-{outbox_id}"}
    return {
        "id": call_id,
        "orgId": "0b8c1f3e-1111-4c2a-9d3e-5f6a7b8c9d0e",
        "type": "outboundPhoneCall",
        "status": "queued",
        "assistantId": "asst_9a8b7c6d",
        "phoneNumberId": "pn_5f1c2d3e",
        "customer": {"number": number},
        "assistantOverrides": overrides,
        "createdAt": created,
        "updatedAt": created,
        "monitor": {"listenUrl": "wss://...", "controlUrl": "https://..."},
        "subscriptionLimits": {
            "concurrencyBlocked": False,
            "concurrencyLimit": 10,
            "remainingConcurrentCalls": 9,
        },
    }


def vapi_ended_call(report: dict[str, Any]) -> dict[str, Any]:
    """`GET /call/{id}` of an ended call: the `Call` an end-of-call report was sent for
    (docs/notes/vapi-agents.md §5): the report's `call` with its status, endedReason,
    timestamps, cost and the analysis and artifact at the top level; no `durationSeconds`
    (a report-only field)."""
    message = report["message"]
    call: dict[str, Any] = {**message["call"], "status": "ended"}
    for key in ("endedReason", "startedAt", "endedAt", "cost", "costs", "costBreakdown",
                "analysis", "artifact"):  # fmt: skip
        if key in message:
            call[key] = message[key]
    return call
