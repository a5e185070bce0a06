"""One colour per outcome and per verdict, the same on every install, in /status and in the
console (the call chart, the timeline, the banners).

Contract: `colour(name)` is the fixed colour of a call outcome, message status or verdict
level; a name not listed is slate grey, never a colour borrowed from another outcome.
"""

from __future__ import annotations

OTHER = "#64748b"  # slate: anything not listed

COLOURS: dict[str, str] = {
    # calls
    "booked": "#16a34a",  # green: the goal
    "answered": "#2563eb",  # blue: a conversation
    "voicemail": "#7c3aed",  # violet
    "no_answer": "#f59e0b",  # amber
    "busy": "#d97706",  # dark amber
    "failed": "#dc2626",  # red
    "cancelled": "#94a3b8",  # light slate
    # messages
    "delivered": "#2563eb",
    "opened": "#0891b2",
    "clicked": "#16a34a",
    "sent": "#0f766e",
    "bounced": "#dc2626",
    "complained": "#b91c1c",
    "undelivered": "#dc2626",
    "dry_run": "#94a3b8",
    # appointments
    "confirmed": "#16a34a",
    "completed": "#0f766e",
    "rescheduled": "#7c3aed",
    "no_show": "#dc2626",
    # verdicts
    "green": "#16a34a",
    "amber": "#d97706",
    "red": "#dc2626",
}


def colour(name: str | None) -> str:
    """The fixed colour of an outcome, status or verdict level (see module contract)."""
    return COLOURS.get(name or "", OTHER)
