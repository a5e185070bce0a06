"""Twilio's signature is checked by the SDK's rule, but its second URL form is signed only
when the first does not match (app.webhooks.signatures._twilio_validate): the same answers
as `RequestValidator.validate` on the recorded vectors, requests and tampered copies, and one
HMAC a request Twilio signed without a port (validate() computed two, every time)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import pytest
from twilio.request_validator import RequestValidator

from app.webhooks.signatures import twilio_signature, verify_twilio_pairs, verify_twilio_signature
from tests.webhooks.helpers import fixture, fixtures_dir

TWILIO = fixture("twilio", "signature_vectors.json")["vectors"]
REQUESTS = sorted(p.name for p in (fixtures_dir() / "twilio").glob("status_*.json"))


class _Multi(dict[str, list[str]]):
    def getall(self, name: str) -> list[str]:
        return self[name]


def _sdk(token: str, url: str, pairs: list[tuple[str, str]], signature: str) -> bool:
    """What the SDK's own validate() answers for these form pairs (False where it raises)."""
    params = _Multi()
    for name, value in pairs:
        params.setdefault(name, []).append(value)
    try:
        return RequestValidator(token).validate(url, params, signature) is True
    except ValueError:
        return False


def _cases() -> list[tuple[str, str, list[tuple[str, str]], str]]:
    """Each vector and recorded status callback, as sent and tampered: port added, query
    changed, a param added, a wrong token, a signature of the URL with its port."""
    base = [(v["auth_token"], v["url"], list(v["params"].items()), v["signature"]) for v in TWILIO]
    for name in REQUESTS:
        data = fixture("twilio", name)
        pairs = parse_qsl(data["body"], keep_blank_values=True)
        base.append((data["signing"]["auth_token"], data["url"], pairs,
                     data["headers"]["X-Twilio-Signature"]))  # fmt: skip
    cases = []
    for token, url, pairs, sig in base:
        with_port = url.replace(".com/", ".com:443/", 1)
        cases += [
            (token, url, pairs, sig),
            (token, with_port, pairs, sig),
            (token, url, pairs, twilio_signature(token, with_port, pairs)),
            (token, url + "&x=1", pairs, sig),
            (token, url, [*pairs, ("Extra", "1")], sig),
            (token + "x", url, pairs, sig),
            (token, url.replace("https://", "https://h.example:abc@", 1), pairs, sig),
        ]
    return cases


@pytest.mark.parametrize("case", _cases(), ids=lambda c: f"{c[1][:40]}|{c[3][:6]}")
def test_the_same_answer_as_the_sdks_validate(case: tuple[Any, ...]) -> None:
    token, url, pairs, signature = case
    assert verify_twilio_pairs(token, url, pairs, signature) is _sdk(token, url, pairs, signature)


def test_a_status_callback_signed_without_a_port_costs_one_signature(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = fixture("twilio", REQUESTS[0])
    token, url = data["signing"]["auth_token"], data["url"]
    pairs = parse_qsl(data["body"], keep_blank_values=True)
    signature = data["headers"]["X-Twilio-Signature"]
    computed: list[str] = []
    original = RequestValidator.compute_signature

    def counted(self: RequestValidator, uri: str, params: Any, algorithm: Any = None) -> str:
        computed.append(uri)
        return str(original(self, uri, params, algorithm))

    monkeypatch.setattr(RequestValidator, "compute_signature", counted)
    assert verify_twilio_pairs(token, url, pairs, signature)
    assert computed == [url]  # the URL as signed; the port form never built
    computed.clear()
    # Signed over the URL with its default port: the second form is still tried.
    port_url = url.replace(".com/", ".com:443/", 1)
    with_port = twilio_signature(token, port_url, pairs)
    computed.clear()
    assert verify_twilio_pairs(token, url, pairs, with_port)
    assert computed == [url, port_url]
    computed.clear()
    assert not verify_twilio_pairs(token, url, pairs, "d3Jvbmc=")
    assert len(computed) == 2


def test_a_url_with_a_port_signed_as_is_costs_one_signature(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PUBLIC_BASE_URL with a port (the simulator's, a tunnel's): the form with the port is
    the one signed, so it is tried first."""
    url, pairs = "http://localhost:8000/webhooks/twilio/status?outbox=7", [("A", "1")]
    bare = url.replace(":8000", "")
    signature, signed_bare = (
        twilio_signature("tok", url, pairs),
        twilio_signature("tok", bare, pairs),
    )
    computed: list[str] = []
    original = RequestValidator.compute_signature

    def counted(self: RequestValidator, uri: str, params: Any, algorithm: Any = None) -> str:
        computed.append(uri)
        return str(original(self, uri, params, algorithm))

    monkeypatch.setattr(RequestValidator, "compute_signature", counted)
    assert verify_twilio_pairs("tok", url, pairs, signature)
    assert computed == [url]
    computed.clear()
    assert verify_twilio_pairs("tok", url, pairs, signed_bare)
    assert computed == [url, bare]


def test_a_json_body_is_still_the_sdks_body_hash_check() -> None:
    url = ("https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256="
           "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620")  # fmt: skip
    body = '{"property": "value", "boolean": true}'
    assert verify_twilio_signature("12345", url, body, "a9nBmqA0ju/hNViExpshrM61xv4=")
    assert not verify_twilio_signature("12345", url, body + " ", "a9nBmqA0ju/hNViExpshrM61xv4=")
