"""Tiered alerts: the single entry point for raising, resolving and acknowledging alerts.

`Alerts` (built once by the composition root) raises, resolves, acknowledges and silences;
`flush_alerts(dispatch)` sends what is due (`AlertDispatch`: the collaborators it uses;
`flush_params(policy, hold=...)`: what it reads with, for a caller that reads it beforehand).
See docs/runbook.md for every key and what to do about it.
"""

from app.alerts.dispatch import AlertDispatch, FlushReport, flush_alerts, flush_params
from app.alerts.service import Alerts

__all__ = ["AlertDispatch", "Alerts", "FlushReport", "flush_alerts", "flush_params"]
