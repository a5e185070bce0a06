"""Tiered alerts: the single entry point for raising, resolving and acknowledging alerts.

`Alerts` (built once by the composition root) raises, resolves, acknowledges and silences;
`flush_alerts` sends what is due. See docs/runbook.md for every key and what to do about it.
"""

from app.alerts.dispatch import FlushReport, flush_alerts
from app.alerts.service import Alerts

__all__ = ["Alerts", "FlushReport", "flush_alerts"]
