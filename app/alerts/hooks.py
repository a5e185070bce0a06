"""Adapters that let other layers raise alerts without knowing the alerts package.

`delivery_alert_hook(ctx)` fits `OutboxDelivery.alert` (app/providers/delivery.py), which
calls `(severity, title, details)` e.g. when Resend's quota is exhausted. The key is derived
from the title's head: "resend quota exhausted: ..." → `provider.resend_quota_exhausted`.
Wire it where the context is built: `ctx.providers.delivery.alert = delivery_alert_hook(ctx)`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, cast

from app.alerts.service import raise_alert
from app.context import Context
from app.db.alerts import Severity

Hook = Callable[[str, str, dict[str, Any]], Awaitable[None]]
_SEVERITIES = {"info", "warning", "critical"}


def provider_alert_key(title: str) -> str:
    head = title.split(":", 1)[0].lower()
    return "provider." + (re.sub(r"[^a-z0-9]+", "_", head).strip("_") or "alert")


def delivery_alert_hook(ctx: Context) -> Hook:
    async def hook(severity: str, title: str, details: dict[str, Any]) -> None:
        level = cast(Severity, severity if severity in _SEVERITIES else "warning")
        await raise_alert(ctx, provider_alert_key(title), level, title, details)

    return hook
