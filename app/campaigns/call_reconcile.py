"""Reconciling calls whose end-of-call report never arrived (Vapi does not retry a server
message: a report lost to an outage, a 5xx or a timeout is gone).

Contract:
- a call placed with Vapi with no outcome, placed more than the maximum call duration plus
  a margin ago (`VAPI_MAX_CALL_SECONDS` + `VAPI_RECONCILE_AFTER_SECONDS`) and less than
  `RECONCILE_HORIZON` ago, is fetched with `GET /call/{id}`; at most `batch` per run, least
  recently checked first;
- an ended call is applied through `app.campaigns.call_report.apply_report`, the live
  report's path (same dedupe key: a late real report changes nothing, and a report that
  came first makes this a duplicate), with the same follow-ups (booking stop rules in the
  database, transcript opt-out, rescue text, delivered at once when due);
- a call Vapi does not know (404) or has not ended is left alone, logged with the reason,
  recorded in system_logs (`reconcile:vapi`, the verdict as code, the Vapi call id as key)
  and stamped (`call_reconcile_checked`) so it goes to the back of the queue;
- one failure (a 4xx, a 5xx after the retry policy, a bad body) is logged and stamped and
  never stops the others; after `MAX_CONSECUTIVE_OUTAGES` retryable failures in a row Vapi is
  taken to be down and the rest wait for the next run (each lookup may take the retry
  policy's whole budget);
- a dry-run or disabled call placer knows no call: nothing is reconciled.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog

from app.campaigns.call_report import ReportDeps, apply_report
from app.db.failures import Failure, FailureLog
from app.db.webhooks import StuckCall
from app.providers.delivery import OutboxDelivery
from app.providers.errors import ProviderError, RetryableProviderError
from app.providers.ports import CallPlacer
from app.providers.vapi_parse import report_of_call

log = structlog.get_logger(__name__)
RECONCILE_HORIZON = timedelta(days=7)  # older calls are not asked about again
MAX_CONSECUTIVE_OUTAGES = 2
SOURCE = "reconcile: GET /call/{id}"


@dataclass(frozen=True)
class ReconcileDeps:
    """The report path's collaborators, the call placer that can read a call back, the
    delivery for due rescue texts, and the settings' timing (seconds) and batch size."""

    report: ReportDeps
    calls: CallPlacer
    delivery: OutboxDelivery
    max_call_seconds: int
    after_seconds: int
    batch: int
    failures: FailureLog | None = None  # each call left is recorded (system_logs)


async def reconcile_calls(deps: ReconcileDeps) -> dict[str, int]:
    """One bounded pass; counts by what happened to each call looked at."""
    now = deps.report.clock.now()
    before = now - timedelta(seconds=deps.max_call_seconds + deps.after_seconds)
    stuck = await deps.report.webhooks.calls_awaiting_report(
        before, now - RECONCILE_HORIZON, deps.batch
    )
    counts: Counter[str] = Counter()
    rescues: list[int] = []
    outages = 0
    for call in stuck:
        if outages >= MAX_CONSECUTIVE_OUTAGES:
            counts["deferred"] += 1
            continue
        verdict, rescue = await _one(deps, call)
        outages = outages + 1 if verdict == "provider_unavailable" else 0
        counts[verdict] += 1
        if rescue is not None:
            rescues.append(rescue)
    if rescues:
        await deps.delivery.deliver_each(rescues)
    if stuck:
        log.info("calls reconciled", **counts)
    return {f"reconciled_{k}": v for k, v in counts.items()}


async def _one(deps: ReconcileDeps, call: StuckCall) -> tuple[str, int | None]:
    """What became of one stuck call, and the id of its rescue text when due now."""
    try:
        found = await deps.calls.fetch_call(call.vapi_call_id)
    except RetryableProviderError as exc:
        return await _leave(deps, call, "provider_unavailable", str(exc)), None
    except ProviderError as exc:
        return await _leave(deps, call, "provider_error", str(exc)), None
    if found is None:
        return await _leave(deps, call, "unknown_to_provider", "Vapi does not know this call"), None
    if found.get("status") != "ended":
        reason = f"still {found.get('status') or 'without a status'} at Vapi"
        return await _leave(deps, call, "not_ended", reason), None
    try:
        applied = await apply_report(deps.report, *_report(found, call))
    except Exception as exc:  # one bad body or a refused write never stops the others
        return await _leave(deps, call, "apply_failed", type(exc).__name__), None
    if applied is None or applied.result.duplicate:
        return "duplicate", None
    log.info("lost end-of-call report applied", call_id=call.vapi_call_id,
             outcome=applied.result.outcome)  # fmt: skip
    return "applied", applied.due_rescue.id if applied.due_rescue else None


def _report(found: dict[str, Any], call: StuckCall) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report message and the payload stored for it (marked as reconciled)."""
    message = report_of_call({**found, "id": found.get("id") or call.vapi_call_id})
    return message, {"message": message, "source": SOURCE}


async def _leave(deps: ReconcileDeps, call: StuckCall, verdict: str, reason: str) -> str:
    log.warning("stuck call left for now", call_id=call.vapi_call_id, verdict=verdict,
                reason=reason[:300])  # fmt: skip
    await deps.report.webhooks.call_reconcile_checked(
        call.id, f"{verdict}: {reason}"[:500], deps.report.clock.now()
    )
    if deps.failures is not None:
        failure = Failure("reconcile:vapi", verdict, f"call left without a report: {reason}",
                          key=call.vapi_call_id, level="warning")  # fmt: skip
        await deps.failures.record(failure, deps.report.clock.now())
    return verdict
