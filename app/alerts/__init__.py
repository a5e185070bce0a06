"""Tiered alerts: the single entry point for raising, resolving and acknowledging alerts.

Import from here: `raise_alert`, `resolve_alert`, `acknowledge`, `handle_sms_reply`,
`silence`, `flush_alerts`, `firing_keys`. See docs/runbook.md for every key and what to do about it.
"""

from app.alerts.dispatch import FlushReport, flush_alerts
from app.alerts.service import (
    acknowledge,
    firing_keys,
    handle_sms_reply,
    raise_alert,
    resolve_alert,
    silence,
)

__all__ = [
    "FlushReport",
    "acknowledge",
    "firing_keys",
    "flush_alerts",
    "handle_sms_reply",
    "raise_alert",
    "resolve_alert",
    "silence",
]
