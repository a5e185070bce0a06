"""The calendar CALENDAR_PROVIDER chooses (docs/appointments.md "The calendar")."""

from __future__ import annotations

import httpx

from app.core.clock import Clock
from app.core.settings import Settings
from app.providers.calendar_ghl import GoHighLevelCalendar
from app.providers.calendars import CalComCalendar, Calendar


def external_calendar(
    settings: Settings, client: httpx.AsyncClient, clock: Clock
) -> Calendar | None:
    """The calendar CALENDAR_PROVIDER chooses; None for the native appointments table."""
    if settings.calendar_provider == "calcom":
        assert settings.calcom_api_key and settings.calcom_event_type_id  # settings checked
        return CalComCalendar(
            settings.calcom_api_key, settings.calcom_event_type_id, client=client, clock=clock
        )
    if settings.calendar_provider == "gohighlevel":
        assert settings.ghl_api_token and settings.ghl_location_id and settings.ghl_calendar_id
        return GoHighLevelCalendar(
            settings.ghl_api_token,
            settings.ghl_location_id,
            settings.ghl_calendar_id,
            client=client,
            clock=clock,
        )
    return None
