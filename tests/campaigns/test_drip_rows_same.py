"""A drip batch's rows are read in one validation per batch (claimed steps, the outbox write's
rows with their claims) and its results written in one dump: each is exactly what reading
or dumping them one at a time gives."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from app.db.campaigns import (
    _CLAIMED,
    _ENQUEUED,
    _RESULTS,
    ClaimedStep,
    Enqueued,
    StepResult,
    _claimed,
    _with_claim,
)
from app.db.outbox import MessageClaim

NOW = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
MESSAGE = {
    "id": 41, "idempotency_key": "drip:7:0", "channel": "sms", "kind": "marketing",
    "provider": "twilio", "provider_id": None, "to_address": "+12125550147",
    "status": "sending", "attempts": 1, "lead_id": 9, "enrollment_id": 7, "campaign_id": 3,
    "step_id": 11, "error_code": None, "error_message": None,
    "payload": {"body": "Hi Dana, Acme HVAC here. Reply STOP to opt out.", "variant": "a",
                "send_before": "2026-11-24T21:00:00-05:00"},
    "status_history": [{"status": "queued", "at": "2026-11-24T20:00:00+00:00"}],
    "claimed_at": "2026-11-24T20:00:00.123456+00:00", "sent_at": None, "ambiguous_since": None,
}  # fmt: skip
# as enqueue_outbox answers: a row it claimed, one it wrote unclaimed, a call
WRITTEN: list[dict[str, Any]] = [
    {"idempotency_key": "drip:7:0", "kind": "message", "id": 41, "status": "sending",
     "outcome": "claimed", "message": MESSAGE},
    {"idempotency_key": "drip:8:0", "kind": "message", "id": 42, "status": "queued",
     "outcome": None, "message": None},
    {"idempotency_key": "drip:9:2", "kind": "call", "id": 5, "status": "queued",
     "outcome": None, "message": None},
]  # fmt: skip


def one_at_a_time(row: dict[str, Any]) -> Enqueued:
    """How each row was read before: its claim validated, then the row with it."""
    claim = MessageClaim.model_validate(row) if row.get("outcome") is not None else None
    return Enqueued.model_validate({**row, "claim": claim})


def test_the_outbox_writes_rows_read_at_once_are_the_rows_read_one_by_one() -> None:
    at_once = _ENQUEUED.validate_python([_with_claim(r) for r in WRITTEN])
    assert at_once == [one_at_a_time(r) for r in WRITTEN]
    assert at_once[0].claim is not None and at_once[0].claim.message.payload["variant"] == "a"
    assert at_once[1].claim is None


def test_a_bad_row_still_fails_the_read() -> None:
    bad = {**WRITTEN[0], "message": {**MESSAGE, "channel": "fax"}}
    with pytest.raises(ValidationError):
        _ENQUEUED.validate_python([_with_claim(bad)])


def claim_row(n: int, full: bool) -> dict[str, Any]:
    """claim_due_steps' shape: the campaign and step in full in the first row, then by id."""
    campaign = {"id": 3, "slug": "tune-up", "definition": {"timezone": "America/New_York"}}
    step = {"id": 11, "channel": "sms", "template": {"body": "Hi"}, "window": None,
            "position": 0, "is_first_of_channel": True}  # fmt: skip
    return {
        "enrollment_id": 70 + n, "position": 0,
        "campaign": campaign if full else {"id": 3}, "step": step if full else {"id": 11},
        "lead": {"id": 900 + n, "name": f"Lead {n}", "phone": "+12125550147", "status": "new",
                 "state": "NY", "timezone": None, "attributes": {"first_name": "Dana"},
                 "sms_opted_out_at": "2026-11-20T10:00:00+00:00" if n == 2 else None},
        "recent_attempts": ["2026-11-24T19:00:00+00:00"] if n else [], "sent_today": n,
    }  # fmt: skip


def test_claimed_steps_read_at_once_are_the_steps_read_one_by_one() -> None:
    rows = [claim_row(n, n == 0) for n in range(4)]
    steps = _claimed(rows)
    full = {**rows[0]}
    expected = [
        ClaimedStep.model_validate({**r, "campaign": full["campaign"], "step": full["step"]})
        for r in rows
    ]
    assert steps == expected
    assert steps[1].campaign is steps[3].campaign  # the same snapshot in every step
    assert _CLAIMED.validate_python([]) == []


def test_results_dumped_at_once_are_the_results_dumped_one_by_one() -> None:
    results = [
        StepResult(enrollment_id=1, action="advance", reason=None),
        StepResult(enrollment_id=2, action="reschedule", reason="quiet_hours", at=NOW),
        StepResult(enrollment_id=3, action="stop", reason="opted_out:sms"),
    ]
    assert _RESULTS.dump_python(results, mode="json") == [
        r.model_dump(mode="json") for r in results
    ]
