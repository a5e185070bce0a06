"""Failure patterns: error log lines grouped by fingerprint and counted per UTC day.

A fingerprint is the message with what varies between occurrences masked: URLs, e-mail
addresses, UUIDs, long hex ids, phone numbers and other numbers. The growth job recounts
yesterday and today every run (replacing the stored counts, so reruns are idempotent);
`failure_summary` gives the top patterns of the day, their previous daily average (the
trend) and whether they are new, for the daily digest and `nightshift insights failures`.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from app.db.scoring import ScoringRepository

_MASKS = (
    (re.compile(r"https?://\S+"), "<url>"),
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"), "<email>"),
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
     "<uuid>"),
    (re.compile(r"\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{12,}\b"), "<hex>"),
    (re.compile(r"\+\d{7,15}\b"), "<phone>"),
    (re.compile(r"\d+(\.\d+)?"), "<n>"),
    (re.compile(r"\s+"), " "),
)  # fmt: skip
MAX_LENGTH = 300


def fingerprint(message: str) -> str:
    """The message with ids, numbers, URLs (etc.) masked; equal for repeats of one failure."""
    out = message
    for pattern, replacement in _MASKS:
        out = pattern.sub(replacement, out)
    return out.strip()[:MAX_LENGTH]


def day_counts(lines: list[Any]) -> list[dict[str, Any]]:
    """Rows for failure_record: one per (fingerprint, UTC day), with a sample and source."""
    counts: Counter[tuple[str, str]] = Counter()
    first: dict[tuple[str, str], Any] = {}  # lines come oldest first: the first line per key
    for line in lines:
        key = (fingerprint(line.message), line.at.astimezone(UTC).date().isoformat())
        counts[key] += 1
        first.setdefault(key, line)
    return [
        {"fingerprint": fp, "day": day, "occurrences": n, "source": first[(fp, day)].source,
         "sample": first[(fp, day)].message, "first_at": first[(fp, day)].at.isoformat()}
        for (fp, day), n in sorted(counts.items())
    ]  # fmt: skip


def _day_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


async def record_patterns(repo: ScoringRepository, now: datetime) -> dict[str, int]:
    """Recount the error fingerprints of the UTC day of `now` and the day before (two SQL
    calls)."""
    since = _day_start(now) - timedelta(days=1)
    lines = await repo.failure_lines(since, now)
    rows = day_counts(lines)
    await repo.record_failures(rows, now)
    return {"error_lines": len(lines), "error_patterns": len({r["fingerprint"] for r in rows})}
