"""The runbook (docs/oncall.md) covers every alert key the code can raise, and the delivery
layer's alert hook lands in the alerts table under a stable key."""

from __future__ import annotations

import re
from pathlib import Path

from app.alerts.hooks import delivery_alert_hook, provider_alert_key
from tests.alerts.support import MakeCtx, query

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = (ROOT / "docs" / "oncall.md").read_text()


def test_every_job_alert_key_is_in_the_runbook() -> None:
    source = (ROOT / "app" / "guardian" / "heartbeats.py").read_text()
    whats = set(re.findall(r'key\(job\.name, "(\w+)"\)', source)) | {"down", "stalled"}
    assert {"late", "failed", "restart_limit", "restart_failed"} <= whats
    for what in whats:
        assert f"### `job.<job>.{what}`" in RUNBOOK, what


def test_every_other_alert_key_is_in_the_runbook() -> None:
    for key in (
        "probe.<target>.auth",
        "probe.<target>.down",
        "database.unreachable",
        "errors.new.<hash>",
        "alerts.test.<timestamp>",
        "provider.<what>",
    ):
        assert f"### `{key}`" in RUNBOOK, key


async def test_the_delivery_hook_raises_a_keyed_alert(make_ctx: MakeCtx, database_dsn: str) -> None:
    ctx = await make_ctx()
    hook = delivery_alert_hook(ctx)
    title = "resend quota exhausted: sends paused until it resets"
    await hook("warning", title, {"code": "daily_quota_exceeded"})
    await hook("warning", title, {"code": "daily_quota_exceeded"})

    assert provider_alert_key(title) == "provider.resend_quota_exhausted"
    (row,) = query(database_dsn, "select key, severity, count from alerts")
    assert row == {"key": "provider.resend_quota_exhausted", "severity": "warning", "count": 2}
