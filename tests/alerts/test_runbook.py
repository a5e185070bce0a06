"""The runbook (docs/runbook.md) has a section for every alert key the code can raise."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = (ROOT / "docs" / "runbook.md").read_text()
# alerts.raise_alert("literal.key" | f"prefix{...}", ...): the key's text up to the first {
# (the key is the method's first argument: a variable key is not a literal)
_LITERAL_KEY = re.compile(r"raise_alert\(\s*f?\"([^\"{]+)")


def test_every_job_alert_key_is_in_the_runbook() -> None:
    source = (ROOT / "app" / "guardian" / "heartbeats.py").read_text()
    whats = set(re.findall(r'key\(job\.name, "(\w+)"\)', source)) | {"down", "stalled"}
    assert {"late", "failed", "restart_limit", "restart_failed"} <= whats
    for what in whats:
        assert f"### `job.<job>.{what}`" in RUNBOOK, what


def test_every_literal_key_prefix_raised_in_app_is_in_the_runbook() -> None:
    prefixes = {
        match
        for path in (ROOT / "app").rglob("*.py")
        for match in _LITERAL_KEY.findall(path.read_text())
    }
    assert "campaign_paused:" in prefixes  # the scan does find them
    for prefix in prefixes:
        assert f"### `{prefix}" in RUNBOOK, prefix


def test_every_computed_key_is_in_the_runbook() -> None:
    for key in (
        "probe.<target>.auth",
        "probe.<target>.down",
        "database.unreachable",
        "errors.new.<hash>",
        "provider:<code>",
        "alerts.test.<timestamp>",
    ):
        assert f"### `{key}`" in RUNBOOK, key
