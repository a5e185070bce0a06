"""The composition root wires the provider layer's alerts into the alert router."""

from __future__ import annotations

from app.jobs.bootstrap import Context


async def test_provider_quota_alert_reaches_the_alert_router(ctx: Context) -> None:
    details = {"code": "daily_quota_exceeded", "retry_after_seconds": 3600}
    await ctx.providers.delivery.alert("warning", "resend quota exhausted", details)
    await ctx.providers.delivery.alert("warning", "resend quota exhausted", details)  # deduped
    alert = await ctx.repos.alerts.by_key("provider:daily_quota_exceeded")
    assert alert is not None
    assert (alert.severity, alert.status, alert.count) == ("warning", "firing", 2)
