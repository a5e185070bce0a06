"""Reconciling texts whose final status callback never arrived (Twilio gives up on a
callback after 15 s: one lost to an outage or a 5xx is gone, and the text stays `sent`).

Contract:
- a text sent through Twilio (a MessageSid is known), still `sending`/`sent`, sent more than
  `AFTER` (a day) and less than `HORIZON` ago, asked about fewer than `MAX_CHECKS` times, is
  read back with `GET /2010-04-01/Accounts/{Sid}/Messages/{MessageSid}.json`; at most `batch`
  per run, least recently checked first;
- a final status (delivered, undelivered, failed, canceled, read) is applied through the
  status callback's own function (`webhook_twilio_status` via `apply_twilio_status`, the
  mapping of app.providers.twilio_status) under the callback's own dedupe key
  `twilio:<MessageSid>:<MessageStatus>`: a late real callback changes nothing, and a
  callback that came first makes this a duplicate. 21610 opts the recipient out as a
  callback would; the error code stays on the row for the deliverability guard;
- a text Twilio does not know (404), one not final yet (a carrier that sends no receipt
  leaves it `sent` for good), a 4xx, a 5xx after the retry policy, is left, stamped
  (`message_reconcile_checked`) and recorded in system_logs (`reconcile:twilio`); after
  `MAX_CONSECUTIVE_OUTAGES` retryable failures in a row the rest wait for the next run;
- a dry-run or disabled sender knows no message: nothing is reconciled.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog

from app.core.clock import Clock
from app.db.failures import Failure, FailureLog
from app.db.webhooks import StuckMessage, WebhookRepository
from app.providers.errors import ProviderError, RetryableProviderError
from app.providers.ports import SmsSender
from app.providers.twilio_status import status_update

log = structlog.get_logger(__name__)
AFTER = timedelta(days=1)
HORIZON = timedelta(days=7)  # older texts are not asked about
MAX_CHECKS = 3
BATCH = 50  # texts asked about per campaign_manager run (one GET each, sequential)
MAX_CONSECUTIVE_OUTAGES = 2
FINAL = frozenset({"delivered", "undelivered", "failed", "canceled", "read"})
SOURCE = "reconcile: GET Messages/{sid}"


@dataclass(frozen=True)
class MessageReconcileDeps:
    """The webhooks repository (the stuck texts, the status function), the SMS sender that
    reads a message back, the failure log, the clock and the batch size."""

    webhooks: WebhookRepository
    sms: SmsSender
    failures: FailureLog
    clock: Clock
    batch: int


async def reconcile_messages(deps: MessageReconcileDeps) -> dict[str, int]:
    """One bounded pass; counts by what happened to each text looked at."""
    now = deps.clock.now()
    stuck = await deps.webhooks.messages_awaiting_status(
        now - AFTER, now - HORIZON, deps.batch, MAX_CHECKS
    )
    counts: Counter[str] = Counter()
    outages = 0
    for message in stuck:
        if outages >= MAX_CONSECUTIVE_OUTAGES:
            counts["deferred"] += 1
            continue
        verdict = await _one(deps, message)
        outages = outages + 1 if verdict == "provider_unavailable" else 0
        counts[verdict] += 1
    if stuck:
        log.info("texts reconciled", **counts)
    return {f"sms_reconciled_{k}": v for k, v in counts.items()}


def callback_params(found: dict[str, Any], sid: str) -> dict[str, str]:
    """A Message resource in the shape of the status callback it stands for (what
    `status_update` reads and what is stored), marked as reconciled."""
    params = {
        "MessageSid": str(found.get("sid") or sid),
        "MessageStatus": str(found.get("status") or ""),
        "AccountSid": str(found.get("account_sid") or ""),
        "From": str(found.get("from") or ""),
        "To": str(found.get("to") or ""),
        "source": SOURCE,
    }
    if found.get("error_code") not in (None, "", 0):
        params["ErrorCode"] = str(found["error_code"])
    return params


async def _one(deps: MessageReconcileDeps, message: StuckMessage) -> str:
    try:
        found = await deps.sms.fetch_message(message.provider_id)
    except RetryableProviderError as exc:
        return await _leave(deps, message, "provider_unavailable", str(exc))
    except ProviderError as exc:
        return await _leave(deps, message, "provider_error", str(exc))
    if found is None:
        return await _leave(deps, message, "unknown_to_provider", "Twilio does not know it")
    status = str(found.get("status") or "").lower()
    if status not in FINAL:
        return await _leave(deps, message, "not_final", f"still {status or 'no status'}")
    params = callback_params(found, message.provider_id)
    params["MessageStatus"] = status
    try:
        result = await deps.webhooks.apply_twilio_status(
            f"twilio:{params['MessageSid']}:{status}", params,
            status_update(params, str(message.id)), deps.clock.now(),
        )  # fmt: skip
    except Exception as exc:  # one refused write never stops the others
        return await _leave(deps, message, "apply_failed", type(exc).__name__)
    if result.duplicate:
        return "duplicate"
    log.info("lost status callback applied", outbox_id=message.id, status=status)
    return "applied"


async def _leave(deps: MessageReconcileDeps, message: StuckMessage, verdict: str, why: str) -> str:
    log.warning("stuck text left for now", outbox_id=message.id, verdict=verdict,
                reason=why[:300])  # fmt: skip
    now = deps.clock.now()
    await deps.webhooks.message_reconcile_checked(message.id, f"{verdict}: {why}"[:500], now)
    failure = Failure(
        "reconcile:twilio", verdict, f"text left without a final status: {why}",
        key=message.provider_id, lead_id=message.lead_id, level="warning",
    )  # fmt: skip
    await deps.failures.record(failure, now)
    return verdict
