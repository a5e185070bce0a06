"""Settings for the appointments tests: a booking secret and a status token, no provider keys
(every send goes to the dry-run twins, which record the exact would-be request)."""

from __future__ import annotations

import pytest

from app.core.settings import Settings
from tests.conftest import make_settings

BOOKING_SECRET = "bk-test-secret-7d1f"


@pytest.fixture
def settings() -> Settings:
    return make_settings(
        nightshift_env="development",
        booking_webhook_secret=BOOKING_SECRET,
        status_token="status-test-token",
        business_name="Brightside Dental",
        booking_url="https://cal.example.com/brightside",
        operator_emails="owner@example.com",
    )
