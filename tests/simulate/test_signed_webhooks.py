"""The simulator's webhooks are signed and verified as in production: no unsigned shortcut
(issue 19: "the same jobs and webhooks as production")."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from app.core.clock import ManualClock
from app.core.settings import Settings
from app.simulate.engine import sim_settings
from app.simulate.events import Signer, twilio_status
from app.webhooks.common import secret_value, unverified_allowed
from app.webhooks.signatures import (
    verify_svix_signature,
    verify_twilio_signature,
    verify_vapi_request,
)

AT = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


def test_the_simulated_app_refuses_unsigned_webhooks() -> None:
    settings = sim_settings(Settings(_env_file=None))
    for secret in (settings.twilio_auth_token, settings.resend_webhook_secret,
                   settings.vapi_webhook_secret):  # fmt: skip
        assert not unverified_allowed(settings, secret)


def test_each_simulated_provider_signs_as_the_real_one() -> None:
    settings = sim_settings(Settings(_env_file=None))
    signer = Signer(ManualClock(AT), settings.public_base_url)
    path = "/webhooks/twilio/status?outbox=7"
    form = twilio_status("SM1", "delivered", "+13125550101")
    twilio = signer.headers(path, urlencode(form).encode(), form, {})
    assert verify_twilio_signature(
        secret_value(settings.twilio_auth_token) or "", settings.public_base_url + path, form,
        twilio["X-Twilio-Signature"],
    )  # fmt: skip
    body = b'{"type":"email.delivered"}'
    resend = signer.headers("/webhooks/resend", body, None, {"svix-id": "msg_kept"})
    assert resend["svix-id"] == "msg_kept"  # the event's own id: Resend retries carry it
    assert verify_svix_signature(
        secret_value(settings.resend_webhook_secret) or "", resend, body, AT
    )
    vapi = signer.headers("/webhooks/vapi", b"{}", None, {})
    assert verify_vapi_request(
        vapi, b"{}", secret=secret_value(settings.vapi_webhook_secret), hmac_secret=None, now=AT
    )
