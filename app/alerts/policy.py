"""Alert routing policy, read from settings once per use.

Routes: info → system_logs only; warning → ALERT_ROUTES_WARNING (default email);
critical → ALERT_ROUTES_CRITICAL (default SMS + email). `escalation` is the channel of
ONCALL_ESCALATION_PHONES (SMS). Intervals are in seconds here.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.settings import Settings
from app.db.alerts import Alert, Reason

SMS, EMAIL, ESCALATION = "sms", "email", "escalation"


@dataclass(frozen=True)
class AlertPolicy:
    routes: dict[str, tuple[str, ...]]
    phones: tuple[str, ...]
    emails: tuple[str, ...]
    escalation_phones: tuple[str, ...]
    hold_seconds: int
    repeat_warning_seconds: int
    repeat_critical_seconds: int
    escalate_after_seconds: int
    sms_per_hour: int

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertPolicy:
        return cls(
            routes={
                "info": (),
                "warning": tuple(settings.alert_routes_warning),
                "critical": tuple(settings.alert_routes_critical),
            },
            phones=tuple(settings.oncall_phones),
            emails=tuple(settings.oncall_emails),
            escalation_phones=tuple(settings.oncall_escalation_phones),
            hold_seconds=settings.alert_group_window_seconds,
            repeat_warning_seconds=settings.alert_repeat_warning_minutes * 60,
            repeat_critical_seconds=settings.alert_repeat_critical_minutes * 60,
            escalate_after_seconds=settings.alert_escalate_after_minutes * 60,
            sms_per_hour=settings.alert_sms_per_hour,
        )

    def channels_for(self, reason: Reason, alert: Alert) -> tuple[str, ...]:
        """The channels one notification goes to: the severity's route; an escalation goes
        to the escalation phones; a resolution to the channels that were notified."""
        if reason == "escalate":
            return (ESCALATION,)
        if reason == "resolved":
            return tuple(c for c in (SMS, EMAIL, ESCALATION) if c in alert.notified_channels)
        return self.routes[alert.severity]

    def recipients(self, channel: str) -> tuple[str, ...]:
        if channel == SMS:
            return self.phones
        if channel == EMAIL:
            return self.emails
        return self.escalation_phones

    def is_oncall_number(self, number: str) -> bool:
        return number in self.phones or number in self.escalation_phones
