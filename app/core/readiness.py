"""Whether the settings are ready for what they will run: what each provider needs, what
production refuses, which providers would run dry and when a dry run must not start.

Functions of a `Settings` (its methods of the same names call these), so the list of
fields stays in app/core/settings.py and the rules about them here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import SecretStr

from app.core import production
from app.core.placeholders import DEMO_DEFAULTS, is_placeholder

if TYPE_CHECKING:
    from app.core.settings import Settings


def provider_requirements(s: Settings) -> dict[str, list[str]]:
    """Variables each enabled provider needs, by provider name."""
    needs: dict[str, list[str]] = {}
    if s.email_enabled:
        needs["resend"] = ["RESEND_API_KEY", "EMAIL_FROM", "RESEND_WEBHOOK_SECRET"]
    if s.sms_enabled:
        sender = (
            "TWILIO_MESSAGING_SERVICE_SID"
            if s.twilio_messaging_service_sid
            else "TWILIO_FROM_NUMBER"
        )
        needs["twilio"] = ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", sender]
    if s.calls_enabled:
        needs["vapi"] = [
            "VAPI_API_KEY",
            "VAPI_PHONE_NUMBER_ID",
            "VAPI_ASSISTANT_ID",
            "VAPI_WEBHOOK_HMAC_SECRET" if s.vapi_webhook_hmac_secret else "VAPI_WEBHOOK_SECRET",
        ]
    return needs


def unset(s: Settings, names: list[str]) -> list[str]:
    """Names whose value is missing, a placeholder, or still the shipped demo default."""
    return [
        name
        for name in names
        if is_placeholder(value := getattr(s, name.lower())) or DEMO_DEFAULTS.get(name) == value
    ]


def missing_for_production(s: Settings) -> list[str]:
    """Every variable production needs that is missing or a placeholder, in a stable order."""
    missing: list[str] = []
    if s.database_mode() == "embedded":
        missing.append("DATABASE_URL (or SUPABASE_URL + SUPABASE_SERVICE_ROLE_KEY)")
    # Tracked and unsubscribe links in sent mail must outlive a database credential rotation.
    missing += unset(s, [*DEMO_DEFAULTS, "LINK_SIGNING_SECRET", "STATUS_TOKEN"])
    for names in provider_requirements(s).values():
        missing += unset(s, names)
    if not s.oncall_phones and not s.oncall_emails:
        missing.append("ONCALL_PHONES or ONCALL_EMAILS")
    elif not s.oncall_phones and "ONCALL_PHONES" not in s.production_waivers:
        missing.append("ONCALL_PHONES (or PRODUCTION_WAIVERS=ONCALL_PHONES)")
    if is_placeholder(s.heartbeat_url) and "HEARTBEAT_URL" not in s.production_waivers:
        missing.append("HEARTBEAT_URL (or PRODUCTION_WAIVERS=HEARTBEAT_URL)")
    return missing


def refused_for_production(s: Settings) -> list[tuple[str, str]]:
    """(variable, reason) for each set value whose shape production refuses
    (app.core.production); a reason never quotes a secret."""
    values = {"PUBLIC_BASE_URL": s.public_base_url, "STATUS_TOKEN": s.status_token}
    if s.email_enabled:
        values["RESEND_WEBHOOK_SECRET"] = s.resend_webhook_secret
    if s.sms_enabled:
        values["TWILIO_ACCOUNT_SID"] = s.twilio_account_sid
        values["TWILIO_MESSAGING_SERVICE_SID"] = s.twilio_messaging_service_sid
    return production.refusals(
        {name: _raw(value) for name, value in values.items() if not is_placeholder(value)}
    )


def dry_run_providers(s: Settings) -> list[str]:
    """Providers that will run as their dry-run twin (never in production)."""
    return [provider for provider, names in provider_requirements(s).items() if unset(s, names)]


def dry_run_refusal(s: Settings) -> str | None:
    """Why a job or the web app must not start: a configured (non-embedded) database
    holds real customers, and a provider without credentials would record their sends
    as done without sending them. None when no provider is dry, the database is the
    embedded one (`make dev`), or NIGHTSHIFT_DRY_RUN=1 asks for the dry run."""
    dry = dry_run_providers(s)
    if not dry or s.nightshift_dry_run or s.database_mode() == "embedded":
        return None
    needs = provider_requirements(s)
    missing = [name for provider in dry for name in unset(s, needs[provider])]
    return (
        f"a configured database ({s.database_mode()}) but no credentials for "
        f"{', '.join(dry)}: set {', '.join(missing)}, or NIGHTSHIFT_DRY_RUN=1 to run "
        "those providers as dry runs on purpose (nothing is sent; their sends are stored "
        "as dry_run)"
    )


def _raw(value: str | SecretStr | None) -> str | None:
    return value.get_secret_value() if isinstance(value, SecretStr) else value
