"""The classifiers: each provider's error codes, with the providers' real body shapes."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from app.providers.errors import (
    AmbiguousProviderError,
    IdempotencyConflictError,
    PermanentProviderError,
    QuotaExceededError,
    RetryableProviderError,
    classify,
    classify_twilio_delivery,
    parse_retry_after,
    transport_error,
)
from tests.providers.bodies import resend_error, twilio_error, vapi_error

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)


def response(status: int, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (21211, "The 'To' number +1555 is not a valid phone number."),
        (21408, "Permission to send an SMS has not been enabled for the region indicated"),
        (21614, "'To' number is not a valid mobile number"),
    ],
)
def test_twilio_data_and_config_errors_are_permanent(code: int, message: str) -> None:
    error = classify("twilio", response(400, twilio_error(code, message)), NOW)
    assert type(error) is PermanentProviderError
    assert error.code == str(code) and error.opt_out is None
    assert message in str(error)


def test_twilio_21610_is_permanent_and_opts_the_lead_out_of_sms() -> None:
    body = twilio_error(21610, "Attempt to send to unsubscribed recipient")
    error = classify("twilio", response(400, body), NOW)
    assert isinstance(error, PermanentProviderError)
    assert (error.code, error.opt_out) == ("21610", "sms")


def test_twilio_20429_is_retryable_with_retry_after() -> None:
    body = twilio_error(20429, "Too Many Requests", status=429)
    error = classify("twilio", response(429, body, {"Retry-After": "3"}), NOW)
    assert type(error) is RetryableProviderError
    assert (error.code, error.retry_after) == ("20429", 3.0)


def test_twilio_5xx_is_ambiguous() -> None:
    error = classify("twilio", response(503, {"code": 20500, "message": "Internal"}), NOW)
    assert isinstance(error, AmbiguousProviderError)


@pytest.mark.parametrize(
    ("code", "retries", "action"),
    [
        (30003, 0, "retry_later"),
        (30008, 2, "retry_later"),
        (30003, 3, "permanent"),  # bounded: the 4th would exceed the limit
        (30008, 3, "permanent"),
        (30004, 0, "permanent"),
        (30005, 0, "permanent"),
        ("30006", 0, "permanent"),
        (30007, 0, "filtered"),
        (None, 0, "none"),
    ],
)
def test_twilio_status_callback_codes(code: int | str | None, retries: int, action: str) -> None:
    assert classify_twilio_delivery(code, retries) == action


@pytest.mark.parametrize("status", [400, 422])
def test_resend_validation_error_is_permanent(status: int) -> None:
    body = resend_error(status, "validation_error", "Invalid `to` field.")
    error = classify("resend", response(status, body), NOW)
    assert type(error) is PermanentProviderError and error.code == "validation_error"


def test_resend_rate_limit_is_retryable_honouring_retry_after() -> None:
    body = resend_error(429, "rate_limit_exceeded", "Too many requests.")
    headers = {"retry-after": "2", "ratelimit-limit": "10", "ratelimit-remaining": "0"}
    error = classify("resend", response(429, body, headers), NOW)
    assert type(error) is RetryableProviderError
    assert error.retry_after == 2.0


def test_resend_daily_quota_is_not_retried_soon() -> None:
    body = resend_error(429, "daily_quota_exceeded", "You have reached your daily quota.")
    error = classify("resend", response(429, body, {"retry-after": "1"}), NOW)
    assert isinstance(error, QuotaExceededError)
    assert error.alert_severity == "warning"
    assert error.retry_after == 9 * 3600  # 15:00 UTC → next 00:00 UTC


def test_resend_monthly_quota_waits_for_the_next_month() -> None:
    body = resend_error(429, "monthly_quota_exceeded", "You have reached your monthly quota.")
    error = classify("resend", response(429, body), NOW)
    assert isinstance(error, QuotaExceededError)
    assert error.retry_after == (datetime(2026, 12, 1, tzinfo=UTC) - NOW).total_seconds()


def test_resend_409_invalid_idempotent_request_is_a_permanent_bug() -> None:
    body = resend_error(409, "invalid_idempotent_request", "Same key, different payload.")
    error = classify("resend", response(409, body), NOW)
    assert isinstance(error, IdempotencyConflictError)
    assert isinstance(error, PermanentProviderError)


def test_resend_409_concurrent_idempotent_requests_is_retryable() -> None:
    body = resend_error(409, "concurrent_idempotent_requests", "Request still in progress.")
    error = classify("resend", response(409, body), NOW)
    assert type(error) is RetryableProviderError


def test_resend_500_is_retryable() -> None:
    body = resend_error(500, "application_error", "An unexpected error occurred.")
    assert isinstance(classify("resend", response(500, body), NOW), RetryableProviderError)


def test_vapi_400_unknown_property_is_permanent() -> None:
    body = vapi_error(400, ["property metadata should not exist"], "Bad Request")
    error = classify("vapi", response(400, body), NOW)
    assert type(error) is PermanentProviderError
    assert "property metadata should not exist" in str(error)


def test_vapi_429_retryable_and_5xx_ambiguous() -> None:
    limited = classify(
        "vapi", response(429, vapi_error(429, "Rate limit exceeded", "Too Many")), NOW
    )
    assert type(limited) is RetryableProviderError
    failed = classify("vapi", response(500, vapi_error(500, "Internal", "Server Error")), NOW)
    assert isinstance(failed, AmbiguousProviderError)


def test_vapi_over_concurrency_limit_is_retryable() -> None:
    error = classify("vapi", response(400, {"error": "Over Concurrency Limit"}), NOW)
    assert type(error) is RetryableProviderError and error.code == "concurrency"


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after(httpx.Headers({"Retry-After": "120"}), NOW) == 120.0
    date = httpx.Headers({"Retry-After": "Thu, 26 Nov 2026 15:00:30 GMT"})
    assert parse_retry_after(date, NOW) == 30.0
    assert parse_retry_after(httpx.Headers({"Retry-After": "soon"}), NOW) is None
    assert parse_retry_after(httpx.Headers(), NOW) is None


def test_connect_failures_are_safe_read_timeouts_are_ambiguous() -> None:
    connect = transport_error("twilio", httpx.ConnectError("refused"))
    assert type(connect) is RetryableProviderError
    assert isinstance(
        transport_error("twilio", httpx.ReadTimeout("timed out")), AmbiguousProviderError
    )


def test_error_text_never_carries_a_non_json_body_or_credentials() -> None:
    error = classify("resend", httpx.Response(502, text="<html>Bad gateway</html>"), NOW)
    assert isinstance(error, AmbiguousProviderError)
    assert "<html>" not in str(error)
