"""Settings for the status tests: a status token and an operator address."""

from __future__ import annotations

import pytest

from app.core.settings import Settings
from tests.conftest import make_settings

TOKEN = "status-test-token-5b1e"


@pytest.fixture
def settings() -> Settings:
    return make_settings(
        nightshift_env="development", status_token=TOKEN, business_name="Brightside Dental",
        business_timezone="America/Chicago", operator_emails="owner@example.com", digest_hour=7,
    )  # fmt: skip
