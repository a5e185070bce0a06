"""Twilio message statuses → the outbox row's update (the providers issue's taxonomy), for a
status callback (app/webhooks/twilio.py) and for a Message resource read back by the
reconciler of lost callbacks (app/campaigns/message_reconcile.py): one mapping, one
function, one dedupe key (`twilio:<MessageSid>:<MessageStatus>`).

- MessageStatus maps to the outbox vocabulary; `accepted`/`scheduled` only go to history;
- 21610 (recipient sent STOP) → permanent, and the recipient is opted out of SMS;
- 30004 (blocked), 30005 (unknown number), 30006 (landline/unreachable) → permanent;
- 30007 (carrier filtered) → permanent for this content; the code stays on the row, where
  the campaign manager's deliverability guard counts it.
"""

from __future__ import annotations

from typing import Any

STATUS_MAP = {
    "queued": "queued", "sending": "sending", "sent": "sent", "delivered": "delivered",
    "undelivered": "undelivered", "failed": "failed", "canceled": "cancelled",
    "read": "delivered",
}  # fmt: skip
OPT_OUT_CODES = frozenset({"21610"})
PERMANENT_CODES = frozenset({"21610", "30004", "30005", "30006", "30007"})
FILTERED = "30007"


def _outbox_id(raw: str | None) -> int | None:
    """Our `?outbox=` id; anything that is not one of our numeric ids is ignored (the row
    is then found by MessageSid)."""
    if raw and raw.isdigit() and len(raw) < 19:
        return int(raw)
    return None


def status_update(params: dict[str, str], outbox: str | None) -> dict[str, Any]:
    twilio_status = params.get("MessageStatus", "").lower()
    code = params.get("ErrorCode") or None
    return {
        "outbox_id": _outbox_id(outbox),
        "message_sid": params.get("MessageSid"),
        "twilio_status": twilio_status,
        "status": STATUS_MAP.get(twilio_status),
        "error_code": code,
        "permanent": code in PERMANENT_CODES,
        "opt_out": code in OPT_OUT_CODES,
    }
