"""Settings: production refuses missing or placeholder secrets by name; development falls
back to dry-run providers with a warning; `.env.example` documents every field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import structlog

from app.core.placeholders import is_placeholder
from app.core.settings import Settings, SettingsError
from app.jobs.bootstrap import warn_dry_run
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[1]

PRODUCTION = {
    "nightshift_env": "production",
    "database_url": "postgresql://u:p@db.internal:6543/postgres",
    "public_base_url": "https://acme--nightshift-web.modal.run",
    "business_name": "Acme HVAC",
    "business_postal_address": "1 Elm St, Dayton, OH 45402",
    "booking_url": "https://cal.example.org/acme",
    "resend_api_key": "re_4f8Qa9_live",
    "email_from": "Acme <hi@mail.acme.test>",
    "resend_webhook_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "twilio_account_sid": "AC0123456789abcdef0123456789abcdef",
    "twilio_auth_token": "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
    "twilio_from_number": "+15005550006",
    "vapi_api_key": "8c1d4a9e-2f3b-4c5d-9e8f-7a6b5c4d3e2f",
    "vapi_phone_number_id": "pn_1",
    "vapi_assistant_id": "asst_1",
    "vapi_webhook_secret": "s3cr3t-vapi-hook",
    "oncall_phones": "+15551230001,+15551230002",
    "link_signing_secret": "k3y-for-links-5f1c9a7e2d",
    "status_token": "st-9c2e7f1a4b6d8e0f-4c1b7a2e9d3f6b80",
    "heartbeat_url": "https://hc-ping.com/5f1c2d3e-acme",
}


def test_complete_production_settings_load() -> None:
    settings = make_settings(**PRODUCTION)
    assert settings.is_production
    assert settings.oncall_phones == ["+15551230001", "+15551230002"]
    assert settings.dry_run_providers() == []


@pytest.mark.parametrize(
    "missing", ["resend_api_key", "twilio_auth_token", "vapi_api_key", "link_signing_secret"]
)
def test_production_refuses_a_missing_secret_and_names_it(missing: str) -> None:
    values = {k: v for k, v in PRODUCTION.items() if k != missing}
    with pytest.raises(SettingsError, match=missing.upper()):
        make_settings(**values)


@pytest.mark.parametrize("placeholder", ["changeme", "your-api-key", "<secret>", "xxxx", "re_xxx"])
def test_production_refuses_a_placeholder(placeholder: str) -> None:
    with pytest.raises(SettingsError, match="RESEND_API_KEY"):
        make_settings(**{**PRODUCTION, "resend_api_key": placeholder})


def test_production_refuses_demo_business_details_and_no_database() -> None:
    values = {
        k: v
        for k, v in PRODUCTION.items()
        if k not in {"business_name", "database_url", "oncall_phones"}
    }
    with pytest.raises(SettingsError) as info:
        make_settings(**values)
    text = str(info.value)
    assert "BUSINESS_NAME" in text and "DATABASE_URL" in text and "ONCALL_PHONES" in text


def test_production_needs_no_credentials_for_a_disabled_feature() -> None:
    values = {k: v for k, v in PRODUCTION.items() if not k.startswith("vapi_")}
    settings = make_settings(**values, calls_enabled=False)
    assert "vapi" not in settings.provider_requirements()


def test_secrets_never_show_in_repr() -> None:
    settings = make_settings(**PRODUCTION)
    text = repr(settings) + str(settings.model_dump())
    assert "9f8e7d6c5b4a39281706f5e4d3c2b1a0" not in text
    assert "re_4f8Qa9_live" not in text


def test_development_falls_back_to_dry_run_with_one_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("app.jobs.bootstrap._warned", set())  # "once" is per process
    settings = make_settings(nightshift_env="development", resend_api_key="re_live_abc")
    assert settings.dry_run_providers() == ["resend", "twilio", "vapi"]  # EMAIL_FROM missing too
    with structlog.testing.capture_logs() as logs:
        warn_dry_run(settings)
        warn_dry_run(settings)
    warnings = [entry for entry in logs if entry["log_level"] == "warning"]
    assert sorted(w["provider"] for w in warnings) == ["resend", "twilio", "vapi"]


def test_database_mode_follows_settings() -> None:
    assert make_settings().database_mode() == "embedded"
    assert make_settings(database_url="postgresql://x@h/db").database_mode() == "postgres"
    supa = make_settings(supabase_url="https://p.supabase.co", supabase_service_role_key="eyJh.k")
    assert supa.database_mode() == "supabase"


def test_placeholder_detection() -> None:
    assert is_placeholder(None) and is_placeholder("") and is_placeholder("  ")
    assert not is_placeholder("AC0123456789abcdef")


def test_env_example_documents_every_setting_and_nothing_else() -> None:
    text = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))
    fields = {name.upper() for name in Settings.model_fields}
    assert documented == fields
    for name in fields:  # each one carries a comment somewhere above it
        block = text.split(f"\n{name}=")[0].rsplit("\n\n", 1)[-1]
        assert "#" in block, f"{name} has no comment in .env.example"
