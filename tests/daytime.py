"""For tests whose command reads the real clock (the CLI builds its own SystemClock)."""

from __future__ import annotations

from datetime import UTC, datetime


def zone_at_midday(now: datetime | None = None) -> str:
    """An IANA zone (`Etc/GMT±N`) whose local time is now between 12:00 and 12:59, so a text
    the command sends "at once" is inside the federal window (8:00-21:00 local) whatever hour
    the suite runs: with a fixed zone such a test failed from 21:00 to 8:00 in it."""
    offset = 12 - (now or datetime.now(UTC)).hour  # -11 .. +12 hours from UTC
    if offset == 0:
        return "Etc/UTC"
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"  # the Etc names' sign is inverted
