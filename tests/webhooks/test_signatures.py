"""The three pure signature checks, on the recorded vectors and requests (tests/fixtures)
and on tampered copies."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from app.webhooks.signatures import (
    svix_signature,
    twilio_signature,
    vapi_hmac_signature,
    verify_svix_signature,
    verify_twilio_pairs,
    verify_twilio_signature,
    verify_vapi_request,
)
from tests.webhooks.helpers import at, fixture, fixtures_dir

TWILIO = fixture("twilio", "signature_vectors.json")["vectors"]
SVIX = fixture("resend", "signature_vectors.json")["vectors"]
# Every recorded request, as its provider signed it.
TWILIO_REQUESTS = sorted(
    p.name
    for kind in ("inbound", "status")
    for p in (fixtures_dir() / "twilio").glob(f"{kind}_*.json")
)
RESEND_REQUESTS = sorted(p.name for p in (fixtures_dir() / "resend").glob("email_*.json"))
JSON_URL = (  # twilio-python's tests/unit/test_request_validator.py JSON vector (notes §5)
    "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256="
    "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
)
JSON_BODY = '{"property": "value", "boolean": true}'


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
    sig = "a9nBmqA0ju/hNViExpshrM61xv4="
    assert verify_twilio_signature("12345", JSON_URL, JSON_BODY, sig)
    assert verify_twilio_signature("12345", JSON_URL.replace(".com", ".com:443"), JSON_BODY, sig)
    assert not verify_twilio_signature("12345", JSON_URL, JSON_BODY + " ", sig)
    # Without bodySHA256 in the URL nothing vouches for the body (the SDK would raise).
    plain = JSON_URL.partition("&bodySHA256")[0]
    assert not verify_twilio_signature("12345", plain, JSON_BODY, twilio_signature("12345", plain))
    assert not verify_twilio_signature("12345", JSON_URL + "&x=1", JSON_BODY, sig)


@pytest.mark.parametrize("name", TWILIO_REQUESTS)
def test_twilio_recorded_requests(name: str) -> None:
    data = fixture("twilio", name)
    token, signature = data["signing"]["auth_token"], data["headers"]["X-Twilio-Signature"]
    pairs = parse_qsl(data["body"], keep_blank_values=True)  # as app.webhooks.twilio reads it
    assert signature == data["signing"]["signature"]
    assert verify_twilio_pairs(token, data["url"], pairs, signature)
    assert verify_twilio_signature(token, data["url"], data["params"], signature)
    assert twilio_signature(token, data["url"], pairs) == signature
    assert not verify_twilio_pairs(token, data["url"], [*pairs, ("Extra", "1")], signature)
    assert not verify_twilio_pairs(token, data["url"] + "/", pairs, signature)


def test_twilio_repeated_names_are_all_signed() -> None:
    pairs = [("MediaUrl", "https://a.example/2"), ("MediaUrl", "https://a.example/1")]
    url = "https://hooks.example.com/webhooks/twilio/sms"
    sig = twilio_signature("tok", url, pairs)
    assert verify_twilio_pairs("tok", url, list(reversed(pairs)), sig)  # order is not signed
    assert not verify_twilio_pairs("tok", url, pairs[:1], sig)


@pytest.mark.parametrize(
    "url",
    ["https://h.example:abc/x", "https://[::1/x", "", "not a url", "https://h.example/\ud800"],
)
def test_twilio_malformed_input_is_false_not_an_exception(url: str) -> None:
    assert verify_twilio_signature("tok", url, {"A": "1"}, "c2ln") is False
    assert verify_twilio_signature("tok", url, JSON_BODY, "c2ln") is False
    assert verify_twilio_pairs("tok", url, [("\ud800", "x")], "c2ln") is False
    assert verify_twilio_signature("\ud800", "https://h.example/", {}, "c2ln") is False


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


@pytest.mark.parametrize("name", RESEND_REQUESTS)
def test_resend_recorded_requests(name: str) -> None:
    data = fixture("resend", name)
    secret, body = data["signing"]["secret"], data["body"].encode()
    headers, now = data["headers"], at(data["signing"]["verify_at"])
    assert verify_svix_signature(secret, headers, body, now)
    assert not verify_svix_signature(secret, headers, body, now + timedelta(seconds=299))
    assert not verify_svix_signature(secret, headers, body.replace(b'"', b"'", 1), now)


def test_svix_body_need_not_be_json_or_utf8() -> None:
    # The raw bytes are what Svix signs: parsing is the handler's business, not the check's.
    v, body = SVIX[0], b"\xff\xfenot json"
    stamp = v["headers"]["svix-timestamp"]
    headers = {**v["headers"], "svix-signature": svix_signature(v["secret"], "m", stamp, body)}
    headers["svix-id"] = "m"
    assert verify_svix_signature(v["secret"], headers, body, at(int(stamp)))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("svix-timestamp", "not-a-number"),
        ("svix-timestamp", "+1614265330"),
        ("svix-timestamp", " 1614265330"),
        ("svix-timestamp", "1614265330.0"),
        ("svix-timestamp", "9" * 400),
        ("svix-timestamp", "9" * 5000),
        ("svix-signature", "v1,\ud800"),
        ("svix-signature", ""),
        ("svix-id", ""),
    ],
)
def test_svix_malformed_headers_are_false(field: str, value: str) -> None:
    v = SVIX[0]
    headers = {**v["headers"], field: value}
    assert verify_svix_signature(v["secret"], headers, v["body"].encode(), at(v["now"])) is False


@pytest.mark.parametrize("secret", ["", "whsec_", "whsec_!!!", "whsec_a", "whsec_bm90LXRoZS1rZXk="])
def test_svix_unset_malformed_or_wrong_secret_is_false(secret: str) -> None:
    v = SVIX[0]
    assert verify_svix_signature(secret, v["headers"], v["body"].encode(), at(v["now"])) is False


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


def test_vapi_hostile_header_text_is_false_not_an_exception() -> None:
    kw: dict[str, Any] = {"secret": "s3cret", "hmac_secret": "hmac-key", "now": NOW}
    assert verify_vapi_request({"x-vapi-secret": "\ud800"}, BODY, **kw) is False
    hostile = {"x-signature": "\ud800", "x-timestamp": "1773759700"}
    assert verify_vapi_request(hostile, BODY, **kw) is False


def test_the_sdks_load_on_first_use_not_with_the_module() -> None:
    # The web function imports this module at start: the SDKs must stay out of its cold start.
    code = (
        "import sys, app.webhooks.signatures as s; "
        "print(sorted(m for m in ('twilio', 'standardwebhooks') if m in sys.modules)); "
        "s.verify_twilio_signature('t', 'https://h.example/', {}, 'x'); "
        "s.verify_svix_signature('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', "
        "{'svix-id': 'm', 'svix-timestamp': str(int(__import__('time').time())), "
        "'svix-signature': 'v1,x'}, b''); "
        "print(sorted(m for m in ('twilio', 'standardwebhooks') if m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert out.stdout.split("\n")[:2] == ["[]", "['standardwebhooks', 'twilio']"]
