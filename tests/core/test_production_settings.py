"""What an operator sees when production is configured weakly: `nightshift` refuses to start,
exit 2, one line per variable saying what it must look like — and never any part of a
secret (pydantic's own message used to end with the last characters of one)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.settings import Settings, SettingsError
from tests.conftest import make_settings
from tests.test_settings import PRODUCTION

ROOT = Path(__file__).resolve().parents[2]
NAMES = {name.upper() for name in Settings.model_fields}
MAKE_ONE = "(make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
RESEND_SHAPE = "(copy it from the webhook's page in Resend)"


def refusal(**values: str) -> str:
    with pytest.raises(SettingsError) as info:
        make_settings(**{**PRODUCTION, **values})
    return str(info.value)


@pytest.mark.parametrize(
    ("values", "line"),
    [
        ({"status_token": "a"}, f"STATUS_TOKEN must be at least 32 characters {MAKE_ONE}"),
        ({"resend_webhook_secret": "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
         f"RESEND_WEBHOOK_SECRET must be whsec_ followed by base64 {RESEND_SHAPE}"),
        ({"resend_webhook_secret": "whsec_not base64!"},
         f"RESEND_WEBHOOK_SECRET is not whsec_ followed by base64 {RESEND_SHAPE}"),
        ({"twilio_account_sid": "MG0123456789abcdef0123456789abcdef"},
         "TWILIO_ACCOUNT_SID must be an Account SID: AC followed by 32 hex digits"),
        ({"twilio_messaging_service_sid": "MG123"},
         "TWILIO_MESSAGING_SERVICE_SID must be a Messaging Service SID: MG followed by 32 hex"
         " digits"),
        ({"public_base_url": "http://localhost:8000"},
         "PUBLIC_BASE_URL must be an https:// URL (got 'http://localhost:8000')"),
        ({"public_base_url": "https://localhost"},
         "PUBLIC_BASE_URL must be a public address, not a local one (got 'https://localhost')"),
        ({"public_base_url": "https://127.0.0.1:8443"}, "PUBLIC_BASE_URL must be a public "
         "address, not a private or loopback one (got 'https://127.0.0.1:8443')"),
        ({"public_base_url": "https://10.0.4.2"}, "PUBLIC_BASE_URL must be a public address,"
         " not a private or loopback one (got 'https://10.0.4.2')"),
        ({"public_base_url": "https://nightshift.local"}, "PUBLIC_BASE_URL must be a public "
         "address, not a local one (got 'https://nightshift.local')"),
    ],
)  # fmt: skip
def test_each_weak_setting_is_refused_by_name(values: dict[str, str], line: str) -> None:
    assert refusal(**values) == f"NIGHTSHIFT_ENV=production refuses to start.\n{line}"


def test_an_on_call_phone_and_a_heartbeat_are_needed_unless_waived() -> None:
    text = refusal(oncall_phones="", oncall_emails="ops@acme.test", heartbeat_url="")
    assert text == (
        "NIGHTSHIFT_ENV=production but these settings are missing or placeholders: "
        "ONCALL_PHONES (or PRODUCTION_WAIVERS=ONCALL_PHONES), "
        "HEARTBEAT_URL (or PRODUCTION_WAIVERS=HEARTBEAT_URL)"
    )
    without = {"oncall_phones": "", "oncall_emails": "ops@acme.test", "heartbeat_url": ""}
    waived = make_settings(
        **{**PRODUCTION, **without, "production_waivers": "oncall_phones, HEARTBEAT_URL"}
    )
    assert waived.production_waivers == ["ONCALL_PHONES", "HEARTBEAT_URL"]
    with pytest.raises(
        SettingsError, match=r"PRODUCTION_WAIVERS: unknown waiver\(s\) \['TWILIO'\]"
    ):
        make_settings(production_waivers="twilio")


def test_a_malformed_value_is_named_without_echoing_it() -> None:
    with pytest.raises(SettingsError) as info:
        make_settings(db_pool_max_size="lots-of-9f8e7d6c")
    assert str(info.value) == (
        "DB_POOL_MAX_SIZE: Input should be a valid integer, unable to parse string as an integer"
    )


def test_development_still_starts_with_nothing_set() -> None:
    settings = make_settings()
    assert settings.status_token is None and settings.public_base_url.startswith("http://")


def test_the_refusal_an_operator_sees_names_variables_never_secrets(tmp_path: Path) -> None:
    token = "Zq8wLp3VnT6yHs2KdR9m"  # too short: refused
    env = {k: v for k, v in os.environ.items() if k.upper() not in NAMES}
    env.update({k.upper(): v for k, v in PRODUCTION.items()})
    env.update(STATUS_TOKEN=token, RESEND_WEBHOOK_SECRET="whsec_!!", PYTHONPATH=str(ROOT),
               PUBLIC_BASE_URL="http://192.168.1.20:8000")  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "status"], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    # One line (the CLI's configuration error), naming every variable to fix and how.
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: configuration: NIGHTSHIFT_ENV=production refuses to start")
    for reason in (
        "PUBLIC_BASE_URL must be an https:// URL (got 'http://192.168.1.20:8000')",
        f"STATUS_TOKEN must be at least 32 characters {MAKE_ONE}",
        f"RESEND_WEBHOOK_SECRET is not whsec_ followed by base64 {RESEND_SHAPE}",
    ):
        assert reason in line
    output = result.stdout + result.stderr
    secrets = [token, *(v for k, v in PRODUCTION.items() if "secret" in k or "token" in k
                        or k.endswith("key"))]  # fmt: skip
    for secret in (s.removeprefix("whsec_") for s in secrets):  # no 6-character piece of it
        assert not any(secret[i : i + 6] in output for i in range(len(secret) - 5)), secret
