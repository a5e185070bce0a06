"""Alert notification text. Every line carries the alert's KEY (the runbook, docs/runbook.md,
is indexed by key) and its ACK code. SMS bodies stay under Twilio's 1,600 characters."""

from __future__ import annotations

import html
from collections.abc import Sequence

from app.db.alerts import Alert, Reason

SMS_LIMIT = 1600
_TAG = {"new": "", "repeat": "REPEAT ", "escalate": "ESCALATED ", "resolved": "RESOLVED "}
_SEVERITY = {"info": "INFO", "warning": "WARN", "critical": "CRIT"}

Item = tuple[Reason, Alert]


def line(reason: Reason, alert: Alert) -> str:
    """`[CRIT] job.drip.down: drip is down (x3) — ACK K7QM`, or a RESOLVED line."""
    head = f"[{_TAG[reason]}{_SEVERITY[alert.severity]}] {alert.key}: {alert.title}"
    if alert.count > 1:
        head += f" (x{alert.count})"
    if reason == "resolved":
        return head
    return f"{head} — reply ACK {alert.code}"


def sms_body(items: Sequence[Item]) -> str:
    """One SMS for a group of notifications, truncated to Twilio's limit."""
    lines = [line(reason, alert) for reason, alert in items]
    body = lines[0] if len(lines) == 1 else f"nightshift: {len(lines)} alerts\n" + "\n".join(lines)
    if len(body) > SMS_LIMIT:
        body = body[: SMS_LIMIT - 1] + "…"
    return body


def subject(items: Sequence[Item]) -> str:
    if len(items) == 1:
        return "[nightshift] " + line(*items[0])
    worst = max(items, key=lambda item: ("info", "warning", "critical").index(item[1].severity))
    return f"[nightshift] {len(items)} alerts, worst: {worst[1].key}"


def email_text(items: Sequence[Item]) -> str:
    blocks = []
    for reason, alert in items:
        details = "\n".join(f"  {k}: {v}" for k, v in sorted(alert.details.items()))
        blocks.append(
            f"{line(reason, alert)}\n  first seen: {alert.first_seen_at:%Y-%m-%d %H:%M} "
            f"UTC\n{details}".rstrip()
        )
    footer = "Runbook: docs/runbook.md (look up the key). Acknowledge: reply ACK <code> by SMS "
    footer += "or run `nightshift alerts ack <code>`."
    return "\n\n".join([*blocks, footer])


def email_html(text: str) -> str:
    return f"<pre>{html.escape(text)}</pre>"


def storm_summary(held_back: int, cap: int) -> str:
    return (
        f"nightshift: SMS storm cap reached ({cap}/h). {held_back} alert notification(s) "
        "held back from SMS this hour and sent by email instead. Check email."
    )
