"""Settings for the agent tests: the webhook fixtures' secrets and public URL, a Vapi key."""

from __future__ import annotations

import pytest

from app.core.settings import Settings
from tests.conftest import make_settings
from tests.webhooks.helpers import PUBLIC, VAPI_SECRET, Db

VAPI_KEY = "vapi-test-private-key"


@pytest.fixture
def settings() -> Settings:
    return make_settings(
        nightshift_env="development",
        public_base_url=PUBLIC,
        vapi_webhook_secret=VAPI_SECRET,
        vapi_api_key=VAPI_KEY,
        vapi_assistant_id="asst-default",
        business_name="Comfort Air HVAC",
        business_timezone="America/Chicago",
        booking_url="https://example.com/book",
    )


@pytest.fixture
def db(database_dsn: str) -> Db:
    return Db(database_dsn)
