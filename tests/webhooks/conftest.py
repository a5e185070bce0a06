"""Settings for the webhook tests: the fixtures' secrets and public URL."""

from __future__ import annotations

import pytest

from app.core.settings import Settings
from tests.conftest import make_settings
from tests.webhooks.helpers import PUBLIC, RESEND_SECRET, TWILIO_TOKEN, VAPI_SECRET, Db


@pytest.fixture
def settings() -> Settings:
    return make_settings(
        nightshift_env="development",
        public_base_url=PUBLIC,
        twilio_auth_token=TWILIO_TOKEN,
        resend_webhook_secret=RESEND_SECRET,
        vapi_webhook_secret=VAPI_SECRET,
        vapi_assistant_id="asst-default",
        oncall_phones="+14155550100",
        operator_emails="owner@example.com",
        business_name="Brightside Dental",
        business_timezone="America/Chicago",
    )


@pytest.fixture
def db(database_dsn: str) -> Db:
    return Db(database_dsn)
