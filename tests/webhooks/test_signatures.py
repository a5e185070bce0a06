"""The three pure signature checks, on the shared vectors and on tampered copies."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from app.webhooks.signatures import (
    svix_signature,
    vapi_hmac_signature,
    verify_svix_signature,
    verify_twilio_signature,
    verify_vapi_request,
)
from tests.webhooks.helpers import at, fixture

TWILIO = fixture("twilio", "signature_vectors.json")["vectors"]
SVIX = fixture("resend", "signature_vectors.json")["vectors"]


@pytest.mark.parametrize("vector", TWILIO, ids=lambda v: v["id"])
def test_twilio_shared_vectors(vector: dict[str, Any]) -> None:
    args = (vector["auth_token"], vector["url"], vector["params"], vector["signature"])
    assert verify_twilio_signature(*args) is vector["expected_valid"]


@pytest.mark.parametrize("vector", TWILIO, ids=lambda v: v["id"])
def test_twilio_rejects_tampering(vector: dict[str, Any]) -> None:
    token, url, params, sig = (vector[k] for k in ("auth_token", "url", "params", "signature"))
    assert not verify_twilio_signature(token + "x", url, params, sig)
    assert not verify_twilio_signature(token, url + "&x=1", params, sig)
    assert not verify_twilio_signature(token, url, {**params, "Body": "STOP"}, sig)
    assert not verify_twilio_signature(token, url, params, "")
    assert not verify_twilio_signature("", url, params, sig)


def test_twilio_url_with_default_port_still_verifies() -> None:
    v = TWILIO[0]
    url = v["url"].replace("mycompany.com", "mycompany.com:443")
    assert verify_twilio_signature(v["auth_token"], url, v["params"], v["signature"])


def test_twilio_json_body_variant() -> None:
    # twilio-python's tests/unit/test_request_validator.py JSON vector (notes §5)
    body = '{"property": "value", "boolean": true}'
    url = (
        "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256="
        "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
    )
    assert verify_twilio_signature("12345", url, body, "a9nBmqA0ju/hNViExpshrM61xv4=")
    assert not verify_twilio_signature("12345", url, body + " ", "a9nBmqA0ju/hNViExpshrM61xv4=")


@pytest.mark.parametrize("vector", SVIX, ids=lambda v: v["id"])
def test_svix_shared_vectors(vector: dict[str, Any]) -> None:
    body, now = vector["body"].encode(), at(vector["now"])
    assert verify_svix_signature(vector["secret"], vector["headers"], body, now) is True


@pytest.mark.parametrize("vector", SVIX, ids=lambda v: v["id"])
def test_svix_tolerance_is_300_seconds_inclusive(vector: dict[str, Any]) -> None:
    body, sent = vector["body"].encode(), at(int(vector["headers"]["svix-timestamp"]))
    secret, headers = vector["secret"], vector["headers"]
    assert verify_svix_signature(secret, headers, body, sent + timedelta(seconds=300))
    assert verify_svix_signature(secret, headers, body, sent - timedelta(seconds=300))
    assert not verify_svix_signature(secret, headers, body, sent + timedelta(seconds=301))
    assert not verify_svix_signature(secret, headers, body, sent - timedelta(seconds=301))


def test_svix_any_v1_entry_may_match_and_labels_matter() -> None:
    v = SVIX[0]
    body, now, sig = v["body"].encode(), at(v["now"]), v["headers"]["svix-signature"]
    rotated = {**v["headers"], "svix-signature": f"v1,bm90LWl0 {sig}"}
    assert verify_svix_signature(v["secret"], rotated, body, now)
    wrong_label = {**v["headers"], "svix-signature": sig.replace("v1,", "v1a,")}
    assert not verify_svix_signature(v["secret"], wrong_label, body, now)
    assert not verify_svix_signature(v["secret"], v["headers"], body + b" ", now)
    missing = {k: val for k, val in v["headers"].items() if k != "svix-id"}
    assert not verify_svix_signature(v["secret"], missing, body, now)
    assert (
        svix_signature(v["secret"], v["headers"]["svix-id"], v["headers"]["svix-timestamp"], body)
        == sig
    )


def test_svix_headers_are_case_insensitive() -> None:
    v = SVIX[1]
    upper = {k.upper(): val for k, val in v["headers"].items()}
    assert verify_svix_signature(v["secret"], upper, v["body"].encode(), at(v["now"]))


BODY = b'{"message":{"type":"status-update"}}'
NOW = at(1773759732)


def test_vapi_shared_secret_header_or_bearer() -> None:
    kw: dict[str, Any] = {"secret": "s3cret", "hmac_secret": None, "now": NOW}
    assert verify_vapi_request({"X-Vapi-Secret": "s3cret"}, BODY, **kw)
    assert verify_vapi_request({"Authorization": "Bearer s3cret"}, BODY, **kw)
    assert not verify_vapi_request({"x-vapi-secret": "s3cret2"}, BODY, **kw)
    assert not verify_vapi_request({"Authorization": "Basic s3cret"}, BODY, **kw)
    assert not verify_vapi_request({}, BODY, **kw)
    assert not verify_vapi_request({"x-vapi-secret": ""}, BODY, secret=None, hmac_secret=None)


@pytest.mark.parametrize("stamp", ["1773759700", "1773759700123"])  # seconds or milliseconds
def test_vapi_hmac_signature(stamp: str) -> None:
    sig = vapi_hmac_signature("hmac-key", stamp, BODY)
    headers = {"x-signature": sig, "x-timestamp": stamp}
    kw: dict[str, Any] = {"secret": None, "hmac_secret": "hmac-key"}
    assert verify_vapi_request(headers, BODY, now=NOW, **kw)
    assert not verify_vapi_request(headers, BODY + b" ", now=NOW, **kw)
    assert not verify_vapi_request(headers, BODY, now=NOW + timedelta(minutes=6), **kw)
    assert not verify_vapi_request({**headers, "x-timestamp": "1773759701"}, BODY, now=NOW, **kw)
    assert not verify_vapi_request(headers, BODY, secret=None, hmac_secret="other", now=NOW)
