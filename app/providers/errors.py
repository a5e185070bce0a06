"""Provider error taxonomy and the per-provider classifiers.

Contract:
- every adapter raises only `ProviderError` subclasses;
- `RetryableProviderError`: try again (after `retry_after` seconds when the provider said);
  `AmbiguousProviderError` (a retryable kind) means the provider MAY have acted (timeout after
  the request was sent, dropped connection, 5xx): SMS and calls must reconcile before resending;
- `QuotaExceededError`: retryable, but not soon (Resend daily/monthly quota): never retried
  in-process, the row goes back to the queue and a warning alert is raised;
- `PermanentProviderError`: never retried; `code` is the provider's code, `opt_out` names the
  channel the lead must be opted out of (Twilio 21610);
- `SendCancelled` (not a ProviderError) is raised when the delivery's last-moment check said
  no (app/providers/ports.py `go_or_cancel`);
- messages never contain credentials: only the provider's own error text and code.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx

Channel = Literal["email", "sms", "call"]


class ProviderError(Exception):
    """Any failure of a provider call. `code` is the provider's error code or name."""

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(f"{provider}: {message}" + (f" (code {code})" if code else ""))
        self.provider = provider
        self.detail = message
        self.code = code
        self.status = status


class SendCancelled(Exception):
    """The delivery's last-moment check refused the row right before its request (an
    opt-out landed, its window closed): nothing was sent. Never retried."""

    def __init__(self, outbox_id: int) -> None:
        super().__init__(f"outbox row {outbox_id} may not be sent any more")
        self.outbox_id = outbox_id


class RetryableProviderError(ProviderError):
    """Safe to try again; `retry_after` (seconds) when the provider asked for a delay."""

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


class AmbiguousProviderError(RetryableProviderError):
    """The request may have been acted on: reconcile (SMS, calls) or rely on the
    idempotency key (email) before trying again."""


class QuotaExceededError(RetryableProviderError):
    """A daily/monthly quota is spent: retry after `retry_after`, not in this run.
    The caller raises a warning alert (`alert_severity`)."""

    alert_severity = "warning"


class PermanentProviderError(ProviderError):
    """Never retried. `opt_out` names a channel the lead must be opted out of."""

    def __init__(self, *args: Any, opt_out: Channel | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.opt_out = opt_out


class IdempotencyConflictError(PermanentProviderError):
    """Same idempotency key, different body (Resend 409 invalid_idempotent_request):
    a bug in how keys are derived — logged loudly, never retried."""


# ------------------------------------------------------------------------------------------
# shared helpers
# ------------------------------------------------------------------------------------------
def parse_retry_after(headers: httpx.Headers, now: datetime) -> float | None:
    """Seconds from `Retry-After` (delta-seconds or an HTTP date), else None."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def transport_error(provider: str, exc: httpx.TransportError) -> RetryableProviderError:
    """A connection failed before the request left (safe) or after (ambiguous)."""
    name = type(exc).__name__
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return RetryableProviderError(provider, f"connection failed: {name}", code=name)
    return AmbiguousProviderError(provider, f"no answer after sending: {name}", code=name)


def _server_error(provider: str, response: httpx.Response, now: datetime) -> ProviderError:
    # 5xx: the provider may have acted before failing.
    return AmbiguousProviderError(
        provider,
        f"server error HTTP {response.status_code}",
        code=str(response.status_code),
        status=response.status_code,
        retry_after=parse_retry_after(response.headers, now),
    )


# ------------------------------------------------------------------------------------------
# Twilio: body {"code": 21211, "message": "...", "more_info": "...", "status": 400}
# ------------------------------------------------------------------------------------------
TWILIO_OPT_OUT = 21610  # recipient replied STOP: permanent, and opts the lead out of SMS
TWILIO_PERMANENT = {
    20003: "authentication failed",
    21211: "invalid 'To' number",
    21408: "destination country not enabled (Geo Permissions)",
    21606: "'From' number cannot send SMS",
    21608: "trial account: unverified recipient",
    21612: "number pair not routable",
    21614: "'To' is not a mobile number",
    TWILIO_OPT_OUT: "recipient unsubscribed (STOP)",
}


def classify_twilio(response: httpx.Response, now: datetime) -> ProviderError:
    """The error for a non-2xx answer of Twilio's REST API."""
    body = _body(response)
    code = body.get("code")
    message = str(body.get("message") or f"HTTP {response.status_code}")
    status = response.status_code
    if status == 429 or code == 20429:  # 20429: too many requests, never processed
        return RetryableProviderError(
            "twilio", message, code=str(code or 429), status=status,
            retry_after=parse_retry_after(response.headers, now),
        )  # fmt: skip
    if status >= 500:
        return _server_error("twilio", response, now)
    opt_out: Channel | None = "sms" if code == TWILIO_OPT_OUT else None
    return PermanentProviderError(
        "twilio", message, code=str(code or status), status=status, opt_out=opt_out
    )


DeliveryAction = Literal["retry_later", "permanent", "filtered", "none"]
TWILIO_DELIVERY_RETRY = {30001, 30003, 30008}  # queue overflow, unreachable, unknown
TWILIO_DELIVERY_PERMANENT = {30002, 30004, 30005, 30006, 30032, 30034}
TWILIO_FILTERED = 30007  # carrier filtered: never resend unchanged; deliverability check
TWILIO_DELIVERY_MAX_RETRIES = 3


def classify_twilio_delivery(
    error_code: int | str | None,
    retries_so_far: int,
    max_retries: int = TWILIO_DELIVERY_MAX_RETRIES,
) -> DeliveryAction:
    """What to do with an `ErrorCode` from a status callback (failed/undelivered).

    30003/30008 (and 30001) → `retry_later` while `retries_so_far < max_retries`, then
    `permanent`; 30004-30006 → `permanent`; 30007 → `filtered` (no resend unchanged, flag for
    the deliverability check); no code → `none`; unknown codes → `permanent` (safe default).
    """
    if error_code in (None, ""):
        return "none"
    code = int(error_code)
    if code == TWILIO_FILTERED:
        return "filtered"
    if code in TWILIO_DELIVERY_RETRY:
        return "retry_later" if retries_so_far < max_retries else "permanent"
    return "permanent"


# ------------------------------------------------------------------------------------------
# Resend: body {"statusCode": 422, "name": "validation_error", "message": "..."}
# ------------------------------------------------------------------------------------------
RESEND_QUOTA = {"daily_quota_exceeded", "monthly_quota_exceeded"}


def _next_quota_reset(name: str, now: datetime) -> float:
    """Seconds to 00:00 UTC (daily quota) or to the 1st of next month (monthly)."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if name == "daily_quota_exceeded":
        reset = day + timedelta(days=1)
    else:
        first = day.replace(day=1)
        reset = (first + timedelta(days=32)).replace(day=1)
    return (reset - now).total_seconds()


def classify_resend(response: httpx.Response, now: datetime) -> ProviderError:
    """The error for a non-2xx answer of Resend's API."""
    body = _body(response)
    name = str(body.get("name") or f"http_{response.status_code}")
    message = str(body.get("message") or f"HTTP {response.status_code}")
    status = response.status_code
    retry_after = parse_retry_after(response.headers, now)
    if name in RESEND_QUOTA:  # 429, but retrying soon cannot help
        return QuotaExceededError(
            "resend", message, code=name, status=status,
            retry_after=max(retry_after or 0.0, _next_quota_reset(name, now)),
        )  # fmt: skip
    if status == 429 or name == "concurrent_idempotent_requests":  # 409: first still in flight
        return RetryableProviderError(
            "resend", message, code=name, status=status, retry_after=retry_after
        )
    if name == "invalid_idempotent_request":  # 409: same key, different body
        return IdempotencyConflictError("resend", message, code=name, status=status)
    if status >= 500:  # application_error / service_unavailable: same key makes it safe
        return _server_error("resend", response, now)
    return PermanentProviderError("resend", message, code=name, status=status)


# ------------------------------------------------------------------------------------------
# Vapi: Nest-style body {"message": str | [str], "error": "Bad Request", "statusCode": 400}
# ------------------------------------------------------------------------------------------
def classify_vapi(response: httpx.Response, now: datetime) -> ProviderError:
    """The error for a non-2xx answer of Vapi's API. A 5xx on `POST /call` is ambiguous:
    the call may exist, so it is reconciled, never blindly re-placed."""
    body = _body(response)
    raw = body.get("message") or body.get("error") or f"HTTP {response.status_code}"
    message = "; ".join(map(str, raw)) if isinstance(raw, list) else str(raw)
    status = response.status_code
    if status == 429:
        return RetryableProviderError(
            "vapi", message, code="429", status=status,
            retry_after=parse_retry_after(response.headers, now),
        )  # fmt: skip
    if status >= 500:
        return _server_error("vapi", response, now)
    if "concurrency" in message.lower():  # 400 {"error": "Over Concurrency Limit"} (docs#110)
        return RetryableProviderError("vapi", message, code="concurrency", status=status)
    return PermanentProviderError("vapi", message, code=str(status), status=status)


CLASSIFIERS = {"twilio": classify_twilio, "resend": classify_resend, "vapi": classify_vapi}


def classify(provider: str, response: httpx.Response, now: datetime) -> ProviderError:
    """The classification entry: the typed error for a provider's non-2xx response."""
    return CLASSIFIERS[provider](response, now)
