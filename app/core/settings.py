"""Every setting nightshift reads, validated once (pydantic-settings).

Contract:
- values come from the environment, then an optional `.env` file in the working directory;
- secrets are `SecretStr`, so they never show in a repr, a log line or an error;
- `NIGHTSHIFT_ENV=production` refuses to start when a credential that an enabled feature
  needs is missing or still a placeholder, or has the wrong shape (app.core.production: a
  short STATUS_TOKEN, a malformed provider secret or SID, a local or plain-http
  PUBLIC_BASE_URL), and the error names every such variable — never a secret's value, not
  even pydantic's truncated echo of the input (`SettingsError`, raised by `Settings()`);
- in development a provider without credentials runs as its dry-run ("outbox") twin;
  `dry_run_providers()` says which, and the composition root warns once per provider.

`.env.example` documents every field; `tests/test_settings.py` keeps the two in step.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.core import production, readiness
from app.core.placeholders import DEMO_DEFAULTS, is_placeholder


def _split_csv(value: Any) -> Any:
    """`a, b,c` → ["a", "b", "c"] (environment variables hold lists as comma-separated text)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


CsvList = Annotated[list[str], NoDecode, BeforeValidator(_split_csv)]


WAIVABLE = ("ONCALL_PHONES", "HEARTBEAT_URL")


class Env(StrEnum):
    development = "development"
    production = "production"


class SettingsError(ValueError):
    """Raised at startup when the configuration cannot work; the message names the variables."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    nightshift_env: Env = Env.development
    # Run providers without credentials as their dry-run twins against a configured database
    # (a job or the web app refuses to start otherwise: `dry_run_refusal`).
    nightshift_dry_run: bool = False
    log_level: str = "INFO"

    # --- database ---------------------------------------------------------------------------
    database_url: SecretStr | None = None
    supabase_url: str | None = None
    supabase_service_role_key: SecretStr | None = None
    embedded_pg_dir: str = ".nightshift/pg"
    db_pool_max_size: int = Field(default=10, ge=1, le=100)
    # A request never waits longer than this for a pooled connection, nor longer than the
    # connect timeout (libpq, whole seconds, at least 2) for a new one: with the database down
    # a webhook used to wait 30 s, past Twilio's 15 s (issue 15; docs/webhooks.md).
    db_acquire_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    db_connect_timeout_seconds: int = Field(default=2, ge=2, le=30)

    # --- the webhook spool: verified events the database could not take (docs/webhooks.md) --
    spool_backend: Literal["auto", "directory", "modal"] = "auto"
    spool_dir: str = ".nightshift/spool"
    spool_modal_dict: str = "nightshift-spool"
    spool_drain_batch: int = Field(default=500, ge=1, le=10000)
    spool_drain_interval_seconds: float = Field(default=30.0, gt=0)
    spool_alert_after_seconds: int = Field(default=300, ge=60)

    # --- public face ------------------------------------------------------------------------
    public_base_url: str = "http://127.0.0.1:8000"
    business_name: str = DEMO_DEFAULTS["BUSINESS_NAME"]
    business_postal_address: str = DEMO_DEFAULTS["BUSINESS_POSTAL_ADDRESS"]
    booking_url: str = DEMO_DEFAULTS["BOOKING_URL"]

    # --- features (a disabled feature needs no credentials) ---------------------------------
    email_enabled: bool = True
    sms_enabled: bool = True
    calls_enabled: bool = True

    # --- provider calls: one retry policy and timeout for Resend, Twilio and Vapi ---------
    provider_retry_max_attempts: int = Field(default=4, ge=1, le=10)
    provider_retry_max_seconds: float = Field(default=120.0, gt=0)
    provider_timeout_seconds: float = Field(default=15.0, gt=0)

    # --- Resend (email) ---------------------------------------------------------------------
    resend_api_key: SecretStr | None = None
    email_from: str | None = None
    resend_webhook_secret: SecretStr | None = None
    resend_rate_per_second: float = Field(default=10.0, gt=0)
    # Receiving domain for replies (`<id>.resend.app` or a custom one with Resend's MX):
    # marketing email gets `Reply-To: reply+<token>@<domain>`; unset = no Reply-To.
    resend_inbound_domain: str | None = None

    # --- Twilio (SMS) -----------------------------------------------------------------------
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_rate_per_second_per_sender: float = Field(default=1.0, gt=0)

    # --- Vapi (calls) -----------------------------------------------------------------------
    vapi_api_key: SecretStr | None = None
    vapi_phone_number_id: str | None = None
    vapi_assistant_id: str | None = None
    vapi_webhook_secret: SecretStr | None = None
    vapi_webhook_hmac_secret: SecretStr | None = None
    vapi_max_concurrent_calls: int = Field(default=10, ge=1)
    # Lost end-of-call reports: a call with no report this long after Vapi's maximum call
    # duration (the assistant's maxDurationSeconds, Vapi's default 600, 10-43200) plus the
    # margin is fetched with GET /call/{id}; at most the batch per campaign_manager run.
    vapi_max_call_seconds: int = Field(default=600, ge=10, le=43200)
    vapi_reconcile_after_seconds: int = Field(default=900, ge=60)
    vapi_reconcile_batch: int = Field(default=20, ge=0, le=500)

    # --- on-call and watchdog ---------------------------------------------------------------
    oncall_phones: CsvList = Field(default_factory=list)
    oncall_emails: CsvList = Field(default_factory=list)
    heartbeat_url: str | None = None
    # Production needs an on-call phone and HEARTBEAT_URL; list here what you knowingly run
    # without (docs/configuration.md).
    production_waivers: CsvList = Field(default_factory=list)

    # --- alerts and guardian (docs/runbook.md) -----------------------------------------------
    oncall_escalation_phones: CsvList = Field(default_factory=list)
    alert_routes_warning: CsvList = Field(default_factory=lambda: ["email"])
    alert_routes_critical: CsvList = Field(default_factory=lambda: ["sms", "email"])
    alert_group_window_seconds: int = Field(default=30, ge=0)
    alert_repeat_warning_minutes: int = Field(default=240, ge=1)
    alert_repeat_critical_minutes: int = Field(default=30, ge=1)
    alert_escalate_after_minutes: int = Field(default=15, ge=0)
    alert_sms_per_hour: int = Field(default=10, ge=1)
    guardian_probe_failures: int = Field(default=2, ge=1)
    guardian_probe_timeout_seconds: float = Field(default=10.0, gt=0)
    guardian_max_restarts_per_hour: int = Field(default=3, ge=0)
    guardian_error_fingerprint_threshold: int = Field(default=20, ge=1)
    guardian_callback_silence_hours: float = Field(default=3.0, gt=0, le=168)

    @field_validator("alert_routes_warning", "alert_routes_critical")
    @classmethod
    def _known_channels(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - {"sms", "email"})
        if unknown:
            raise ValueError(f"unknown alert channel(s) {unknown}; use sms and/or email")
        return value

    # --- webhooks, tracked links, the Vapi assistant and booking tools (docs/webhooks.md) ---
    webhook_max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    link_signing_secret: SecretStr | None = None
    operator_emails: CsvList = Field(default_factory=list)
    vapi_assistant_rules: dict[str, str] = Field(default_factory=dict)
    vapi_assistant_request_timeout_seconds: float = Field(default=3.0, gt=0, le=7)
    business_timezone: str = "America/New_York"
    booking_hours: str = Field(default="09:00-17:00", pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$")
    appointment_minutes: int = Field(default=60, ge=5, le=480)

    # --- the agents' calendar and definitions (docs/appointments.md, docs/agents.md) ---------
    # native: nightshift's appointments table only; calcom / gohighlevel: the agent's
    # bookings are made in that calendar first (its free slots are what the agent offers)
    calendar_provider: Literal["native", "calcom", "gohighlevel"] = "native"
    calcom_api_key: SecretStr | None = None
    calcom_event_type_id: int | None = None
    ghl_api_token: SecretStr | None = None
    ghl_location_id: str | None = None
    ghl_calendar_id: str | None = None
    agents_dir: str = "agents"
    # the growth job uploads each new training build into the agents' knowledge base;
    # off: `nightshift agents publish-knowledge` does it after the owner's review
    agents_auto_publish: bool = False

    @model_validator(mode="after")
    def _calendar_configured(self) -> Settings:
        needs = {
            "calcom": ("calcom_api_key", "calcom_event_type_id"),
            "gohighlevel": ("ghl_api_token", "ghl_location_id", "ghl_calendar_id"),
        }
        missing = [n.upper() for n in needs.get(self.calendar_provider, ()) if not getattr(self, n)]
        if missing:
            raise ValueError(
                f"CALENDAR_PROVIDER={self.calendar_provider} needs {', '.join(missing)}"
            )
        return self

    # --- jobs -------------------------------------------------------------------------------
    # a run's lease: short, renewed by a heartbeat while the run lives (app/jobs/runner.py)
    job_lease_seconds: int = Field(default=90, ge=10, le=600)
    job_heartbeat_seconds: float = Field(default=20.0, gt=0, le=200)

    @model_validator(mode="after")
    def _heartbeat_inside_lease(self) -> Settings:
        if self.job_heartbeat_seconds * 3 > self.job_lease_seconds:
            raise ValueError("JOB_HEARTBEAT_SECONDS must be at most a third of JOB_LEASE_SECONDS")
        return self

    # --- campaigns: drip and campaign_manager (docs/campaigns.md) ----------------------------
    drip_batch_size: int = Field(default=500, ge=1, le=5000)
    drip_max_batches: int = Field(default=20, ge=1)
    drip_lease_seconds: int = Field(default=600, ge=30)
    drip_concurrency: int = Field(default=20, ge=1, le=500)
    call_max_attempts: int = Field(default=3, ge=1, le=10)
    call_retry_spacing_hours: float = Field(default=4.0, ge=4.0)

    # --- scoring and growth (docs/scoring.md) ------------------------------------------------
    scoring_horizon_days: int = Field(default=7, ge=1, le=365)
    scoring_snapshot_hours: float = Field(default=24.0, ge=1)
    scoring_train_window_days: int = Field(default=180, ge=7)
    # The newest snapshots are read until this many training rows are held (memory bound: a
    # 180-day window of daily snapshots over 100k leads would be ~17M rows in one call).
    scoring_max_training_rows: int = Field(default=200_000, ge=1_000)
    scoring_min_outcomes: int = Field(default=200, ge=10)
    scoring_min_bookings: int = Field(default=20, ge=2)
    scoring_retrain_hours: float = Field(default=24.0, gt=0)
    scoring_regularization_c: float = Field(default=1.0, gt=0)
    scoring_hot_threshold: float = Field(default=40.0, ge=0, le=100)
    call_order_random_share: float = Field(default=0.1, ge=0, le=1)
    timing_window_days: int = Field(default=90, ge=1)
    timing_prior_strength: float = Field(default=10.0, gt=0)
    ab_goal_email: Literal["click", "booking"] = "click"
    ab_goal_sms: Literal["reply", "click", "booking"] = "reply"  # click: /l/ short links
    ab_min_sample: int = Field(default=100, ge=1)
    ab_promote_probability: float = Field(default=0.95, gt=0.5, lt=1)
    call_quality_review_below: int = Field(default=40, ge=0, le=100)
    call_quality_drop_margin: float = Field(default=10.0, gt=0, le=100)

    # --- appointments and status (docs/appointments.md) --------------------------------------
    status_token: SecretStr | None = None
    booking_webhook_secret: SecretStr | None = None
    digest_hour: int = Field(default=7, ge=0, le=23)
    no_show_grace_minutes: int = Field(default=30, ge=1, le=1440)

    @field_validator("public_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("production_waivers")
    @classmethod
    def _known_waivers(cls, value: list[str]) -> list[str]:
        names = [name.upper() for name in value]
        unknown = sorted(set(names) - set(WAIVABLE))
        if unknown:
            raise ValueError(f"unknown waiver(s) {unknown}; use {' and/or '.join(WAIVABLE)}")
        return names

    def __init__(self, **values: Any) -> None:
        """pydantic's own error text quotes the input (for a model check: every value, secrets
        included, truncated to its last characters); this one names variables only."""
        try:
            super().__init__(**values)
        except ValidationError as exc:
            # `from None`: no chained pydantic text either
            raise SettingsError(production.describe(exc, SettingsError)) from None

    @model_validator(mode="after")
    def _production_needs_credentials(self) -> Settings:
        if self.nightshift_env is Env.production:
            missing, refused = self.missing_for_production(), self.refused_for_production()
            lines = ["NIGHTSHIFT_ENV=production refuses to start."] if refused else []
            if missing:
                lines.append(
                    "NIGHTSHIFT_ENV=production but these settings are missing or placeholders: "
                    + ", ".join(missing)
                )
            lines += [f"{name} {reason}" for name, reason in refused]
            if lines:
                raise SettingsError("\n".join(lines))
        return self

    # --- derived ----------------------------------------------------------------------------
    @property
    def is_production(self) -> bool:
        return self.nightshift_env is Env.production

    def database_mode(self) -> str:
        """`postgres` (DATABASE_URL), `supabase` (URL + service key) or `embedded`."""
        if not is_placeholder(self.database_url):
            return "postgres"
        if not is_placeholder(self.supabase_url) and not is_placeholder(
            self.supabase_service_role_key
        ):
            return "supabase"
        return "embedded"

    def provider_requirements(self) -> dict[str, list[str]]:
        """Variables each enabled provider needs, by provider name."""
        return readiness.provider_requirements(self)

    def missing_for_production(self) -> list[str]:
        """Every variable production needs that is missing or a placeholder."""
        return readiness.missing_for_production(self)

    def refused_for_production(self) -> list[tuple[str, str]]:
        """(variable, reason) for each set value whose shape production refuses."""
        return readiness.refused_for_production(self)

    def dry_run_providers(self) -> list[str]:
        """Providers that will run as their dry-run twin (never in production)."""
        return readiness.dry_run_providers(self)

    def dry_run_refusal(self) -> str | None:
        """Why a job or the web app must not start with a dry provider; None when it may."""
        return readiness.dry_run_refusal(self)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
