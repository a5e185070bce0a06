"""Delivery over the outbox: claim the row, call the port, record the answer.

Contract for `deliver_message(id)` / `place_call(id)`:
- the row is claimed (messages 'sending', calls 'placing') BEFORE the provider is called; the
  claim re-checks opt-outs, so a suppressed row is cancelled and nothing is sent;
- a message is checked again at the last moment: after its rate limiter let it go and right
  before the HTTP request, one `mark_sending` round trip re-checks opt-outs and its window
  (app/providers/lastmoment.py); a row refused there is not sent (`suppressed`: cancelled;
  `window`: back to the queue). A call's claim is its last-moment check (nothing
  waits between `claim_call` and Vapi's request), the window's end given as `send_before`;
- a row carrying `ambiguous_since` is handed to the adapter, which reconciles before sending;
- success → `record_*_sent/placed` (a dry run also stores the would-be request);
- permanent error → the row fails (Twilio 21610 also opts the lead out of SMS, atomically);
- retryable error (after the policy gave up) → the row goes back to 'queued', stamped
  ambiguous when the provider may have acted; a quota error raises a warning alert;
- every failure is also written to system_logs in the failure shape (app/db/failures.py:
  source `delivery:<channel>`, the provider's code, the outbox id, the lead), the input of
  failure learning: `error` when permanent, `warning` when the row is retried.
A batch (`deliver_messages`) is claimed chunk by chunk, each chunk sized by `claim_chunk`
from the channel's rate limiter: what it lets out in `CLAIM_AHEAD`.
This is the only way the rest of nightshift reaches a provider.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import structlog
from pydantic import ValidationError

from app.core.clock import Clock
from app.db.failures import Failure, FailureLog
from app.db.outbox import MessageClaim, OutboxCall, OutboxMessage, OutboxRepository
from app.providers.errors import (
    AmbiguousProviderError,
    PermanentProviderError,
    ProviderError,
    QuotaExceededError,
    SendCancelled,
)
from app.providers.lastmoment import LastMomentChecks
from app.providers.ports import (
    CallPlacer,
    CallRequest,
    EmailMessage,
    EmailSender,
    SendResult,
    SmsMessage,
    SmsSender,
)
from app.providers.ratelimit import Pace

log = structlog.get_logger(__name__)
Outcome = Literal[
    "sent",
    "failed",
    "requeued",
    "suppressed",
    "refused",
    "busy",
    "done",
    "concurrency",
    "window",
]
AlertHook = Callable[[str, str, dict[str, Any]], Awaitable[None]]
# How far ahead of its send a batch row may be claimed. Short, so the claim's opt-out re-check
# stays close to the provider call (a STOP arriving later is applied to rows not yet claimed)
# and a claim never nears the reclaim age while it waits for the limiter; long enough that the
# chunk's two database calls and its last send's latency are small against it.
CLAIM_AHEAD = timedelta(seconds=2)


@dataclass(frozen=True)
class Delivery:
    outcome: Outcome
    row_id: int
    provider: str | None = None
    provider_id: str | None = None
    reconciled: bool = False
    error_code: str | None = None


async def _log_alert(severity: str, title: str, details: dict[str, Any]) -> None:
    log.warning(title, severity=severity, **details)


def email_from_row(row: OutboxMessage) -> EmailMessage:
    p = row.payload
    return EmailMessage(
        outbox_id=row.id, idempotency_key=row.idempotency_key, to=row.to_address,
        subject=p.get("subject", ""), html=p.get("html", ""), text=p.get("text"),
        kind=row.kind if row.kind in ("marketing", "transactional", "alert") else "marketing",
        unsubscribe_url=p.get("unsubscribe_url"), reply_to=p.get("reply_to"),
        tags=p.get("tags") or {}, attachments=p.get("attachments") or [],
    )  # fmt: skip


def sms_from_row(row: OutboxMessage) -> SmsMessage:
    assert row.claimed_at is not None
    return SmsMessage(
        outbox_id=row.id, idempotency_key=row.idempotency_key, to=row.to_address,
        body=row.payload.get("body", ""), claimed_at=row.claimed_at,
        ambiguous_since=row.ambiguous_since,
    )  # fmt: skip


def call_from_row(row: OutboxCall) -> CallRequest:
    assert row.claimed_at is not None
    p = row.payload
    return CallRequest(
        outbox_id=row.id, idempotency_key=row.idempotency_key, to=row.to_number,
        claimed_at=row.claimed_at, customer_name=p.get("customer_name"),
        assistant=p.get("assistant"), variable_values=p.get("variable_values") or {},
        metadata=p.get("metadata") or {},
        ambiguous_since=row.ambiguous_since,
    )  # fmt: skip


class OutboxDelivery:
    def __init__(
        self,
        outbox: OutboxRepository,
        *,
        email: EmailSender,
        sms: SmsSender,
        calls: CallPlacer,
        clock: Clock,
        limiters: Mapping[str, Pace] | None = None,
        max_calls_in_flight: int = 10,
        reclaim_after_seconds: int = 600,
        alert: AlertHook | None = None,
        failures: FailureLog | None = None,
    ) -> None:
        """`limiters`: by channel (`email`, `sms`), the limiter that paces that channel's
        sends (the one its sender acquires); it sizes `claim_chunk`. `alert`: where a quota
        error is raised (default: logged)."""
        self.outbox = outbox
        self.email, self.sms, self.calls = email, sms, calls
        self.limiters: Mapping[str, Pace] = limiters or {}
        self.clock = clock
        self.max_calls_in_flight = max_calls_in_flight
        self.reclaim_after_seconds = reclaim_after_seconds
        self.alert = alert or _log_alert
        self.failures = failures

    async def deliver_message(self, message_id: int) -> Delivery:
        """Send one outbox message (email or SMS) at most once."""
        claim = await self.outbox.claim_message(
            message_id, self.clock.now(), self.reclaim_after_seconds
        )
        if claim.outcome not in ("claimed", "reclaimed"):
            return Delivery(claim.outcome, message_id)  # type: ignore[arg-type]
        row, checks = claim.message, LastMomentChecks(self.outbox, self.clock)
        try:
            result = await self._send_row(row, checks)
        except SendCancelled:
            return _refused(row.id, checks)
        except (ProviderError, ValidationError) as exc:
            return await self._message_failed(row, exc)
        request = result.request if result.provider == "dryrun" else None
        await self.outbox.record_message_sent(
            row.id, result.provider, result.provider_id, self.clock.now(), request
        )
        return Delivery("sent", row.id, result.provider, result.provider_id, result.reconciled)

    async def deliver_each(self, message_ids: Iterable[int]) -> None:
        """`deliver_message` for each id in turn (a webhook's replies, due rescue texts);
        a failure is logged and never stops the others."""
        for message_id in message_ids:
            try:
                result = await self.deliver_message(message_id)
                log.info("message delivered", outbox_id=message_id, outcome=result.outcome)
            except Exception as exc:  # one failed send must not lose the others
                log.error("message delivery failed", outbox_id=message_id,
                          error=type(exc).__name__)  # fmt: skip

    def claim_chunk(self, channel: str) -> int:
        """Rows of `channel` that `deliver_messages` should claim per call: what the
        channel's limiter lets out in `CLAIM_AHEAD` (Twilio at 1/s: 2; Resend at 10/s: 20; a
        limiter that spaces nothing: the whole batch). 1 for a channel with no limiter given
        (its pace unknown, each row is claimed right before its send)."""
        limiter = self.limiters.get(channel)
        return 1 if limiter is None else limiter.sends_within(CLAIM_AHEAD)

    async def deliver_messages(
        self,
        message_ids: Sequence[int],
        *,
        concurrency: int = 20,
        chunk: int | None = None,
        all_claimed: Callable[[], None] | None = None,
        claimed: Sequence[MessageClaim] = (),
    ) -> dict[int, Delivery]:
        """`deliver_message` for a batch, same rules, in chunks of `chunk` rows (default:
        `concurrency`; drip passes `claim_chunk`): ONE claim call per chunk, its sends
        `concurrency` at a time, ONE record call for its accepted sends; the next chunk is
        claimed when this one is recorded. Claiming a chunk only when it is about to go out
        keeps the opt-out re-check close to the provider call and a row's claim young (a
        rate-limited batch can take minutes: a row claimed at the start would look abandoned
        to the next tick and be reclaimed while still waiting here). A failed send takes the
        single-row failure path. `all_claimed` is called once, as soon as the last chunk's
        claim returned (every row is then claimed or settled; its sends are still to go).
        `claimed`: claims already made for rows of the first chunk (drip's outbox write
        claims it, `enqueue`'s `claim`), not made again. Returns each row's Delivery."""
        ids, size = list(message_ids), max(1, chunk or concurrency)
        gate = asyncio.Semaphore(max(1, concurrency))
        out: dict[int, Delivery] = {}
        made = {c.message.id: c for c in claimed}
        for start in range(0, len(ids), size):
            claims = await self._claim_chunk(ids[start : start + size], made)
            if all_claimed is not None and start + size >= len(ids):
                all_claimed()
            out.update(await self._send_claimed(claims, gate))
        return out

    async def _claim_chunk(
        self, ids: list[int], made: Mapping[int, MessageClaim]
    ) -> list[MessageClaim]:
        """The chunk's claims in its order: one `claim_messages` call for the rows not claimed
        yet (none when the write claimed them all)."""
        rest = [i for i in ids if i not in made]
        if not rest:
            return [made[i] for i in ids]
        fresh = await self.outbox.claim_messages(rest, self.clock.now(), self.reclaim_after_seconds)
        if len(rest) == len(ids):
            return fresh
        by_id = {**made, **{c.message.id: c for c in fresh}}
        return [by_id[i] for i in ids if i in by_id]

    async def _send_claimed(
        self, claims: list[MessageClaim], gate: asyncio.Semaphore
    ) -> dict[int, Delivery]:
        rows = [c.message for c in claims if c.outcome in ("claimed", "reclaimed")]
        out = {
            c.message.id: Delivery(c.outcome, c.message.id)  # type: ignore[arg-type]
            for c in claims
            if c.outcome not in ("claimed", "reclaimed")
        }

        checks = LastMomentChecks(self.outbox, self.clock)

        async def send(row: OutboxMessage) -> SendResult | Exception:
            async with gate:
                try:
                    return await self._send_row(row, checks)
                except (ProviderError, ValidationError, SendCancelled) as exc:
                    return exc

        sent: list[tuple[OutboxMessage, SendResult]] = []
        for row, result in zip(rows, await asyncio.gather(*(send(r) for r in rows)), strict=True):
            if isinstance(result, SendCancelled):
                out[row.id] = _refused(row.id, checks)
            elif isinstance(result, Exception):
                out[row.id] = await self._message_failed(row, result)
            else:
                sent.append((row, result))
        await self._record_sent(sent)
        for row, result in sent:
            out[row.id] = Delivery(
                "sent", row.id, result.provider, result.provider_id, result.reconciled
            )
        return out

    async def _record_sent(self, sent: list[tuple[OutboxMessage, SendResult]]) -> None:
        if sent:
            items = [
                {"id": row.id, "provider": r.provider, "provider_id": r.provider_id,
                 "request": r.request if r.provider == "dryrun" else None}
                for row, r in sent
            ]  # fmt: skip
            await self.outbox.record_messages_sent(items, self.clock.now())

    async def _send_row(self, row: OutboxMessage, checks: LastMomentChecks) -> SendResult:
        check = checks.check_for(row.id)
        if row.channel == "email":
            return await self.email.send(email_from_row(row), check=check)
        return await self.sms.send(sms_from_row(row), check=check)

    async def place_call(self, call_id: int, send_before: datetime | None = None) -> Delivery:
        """Place one outbox call at most once; `send_before`: the end of its permitted window
        (the claim refuses it after that: outcome `window`, the call stays queued)."""
        claim = await self.outbox.claim_call(
            call_id, self.clock.now(), self.max_calls_in_flight, self.reclaim_after_seconds,
            send_before,
        )  # fmt: skip
        if claim.outcome not in ("claimed", "reclaimed"):
            return Delivery(claim.outcome, call_id)  # type: ignore[arg-type]
        row = claim.call
        try:
            result = await self.calls.place(call_from_row(row))
        except (ProviderError, ValidationError) as exc:
            return await self._call_failed(row, exc)
        request = result.request if result.provider == "dryrun" else None
        await self.outbox.record_call_placed(
            row.id, result.provider, result.call_id, self.clock.now(), request
        )
        return Delivery("sent", row.id, result.provider, result.call_id, result.reconciled)

    async def _message_failed(self, row: OutboxMessage, exc: Exception) -> Delivery:
        now, code = self.clock.now(), _code(exc)
        if isinstance(exc, PermanentProviderError | ValidationError):
            opt_out = exc.opt_out if isinstance(exc, PermanentProviderError) else None
            await self.outbox.record_message_failed(row.id, code, str(exc), now, opt_out=opt_out)
            log.warning("send failed for good", outbox_id=row.id, code=code, opt_out=opt_out)
            await self._record(row.channel, code, row.id, row.lead_id, exc, permanent=True)
            return Delivery("failed", row.id, error_code=code)
        await self._maybe_alert(exc)
        await self.outbox.record_message_failed(
            row.id, code, str(exc), now, retry=True, ambiguous=_ambiguous(exc)
        )
        await self._record(row.channel, code, row.id, row.lead_id, exc, permanent=False)
        return Delivery("requeued", row.id, error_code=code)

    async def _call_failed(self, row: OutboxCall, exc: Exception) -> Delivery:
        now, code = self.clock.now(), _code(exc)
        if isinstance(exc, PermanentProviderError | ValidationError):
            await self.outbox.record_call_failed(row.id, code, str(exc), now)
            log.warning("call failed for good", outbox_id=row.id, code=code)
            await self._record("call", code, row.id, row.lead_id, exc, permanent=True)
            return Delivery("failed", row.id, error_code=code)
        await self._maybe_alert(exc)
        await self.outbox.record_call_failed(
            row.id, code, str(exc), now, retry=True, ambiguous=_ambiguous(exc)
        )
        await self._record("call", code, row.id, row.lead_id, exc, permanent=False)
        return Delivery("requeued", row.id, error_code=code)

    async def _record(
        self, channel: str, code: str | None, row_id: int, lead_id: int | None,
        exc: Exception, *, permanent: bool,
    ) -> None:  # fmt: skip
        """The failure in system_logs (see the module docstring); never raises."""
        if self.failures is None:
            return
        verdict = "rejected" if permanent else "failed, will retry"
        failure = Failure(
            f"delivery:{channel}", code or type(exc).__name__,
            f"{verdict}: {exc}"[:500], key=f"outbox:{row_id}", lead_id=lead_id,
            level="error" if permanent else "warning",
        )  # fmt: skip
        await self.failures.record(failure, self.clock.now())

    async def _maybe_alert(self, exc: Exception) -> None:
        if isinstance(exc, QuotaExceededError):  # Resend daily/monthly quota: hours away
            await self.alert(
                exc.alert_severity,
                f"{exc.provider} quota exhausted: sends paused until it resets",
                {"code": exc.code, "retry_after_seconds": exc.retry_after},
            )


def _refused(row_id: int, checks: LastMomentChecks) -> Delivery:
    """The Delivery of a row the last-moment check refused (nothing was sent)."""
    verdict = checks.verdicts.get(row_id, "done")
    log.info("refused at the last moment", outbox_id=row_id, verdict=verdict)
    return Delivery("done" if verdict == "go" else verdict, row_id)


def _code(exc: Exception) -> str:
    if isinstance(exc, ProviderError):
        return exc.code or type(exc).__name__
    return "invalid_payload"


def _ambiguous(exc: Exception) -> bool:
    # A plain ProviderError here is a 2xx we could not read: the provider may have acted.
    return isinstance(exc, AmbiguousProviderError) or type(exc) is ProviderError
