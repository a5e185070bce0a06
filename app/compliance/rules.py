"""Contact-hour and attempt rules as data: federal, per state, and where a phone number is.

Keep this table current: every row cites its source (see docs/notes/compliance.md).
All windows are in the called party's local wall-clock time; a state's row narrows the
federal window, it never widens it. Not legal advice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time


@dataclass(frozen=True)
class HoursRule:
    """A daily window [start, end) with optional weekday limits and an attempt cap."""

    start: time
    end: time
    sunday_start: time | None = None  # a later start on Sundays
    no_sunday: bool = False
    weekdays_only: bool = False
    attempts_per_24h: int | None = None  # calls and texts counted together
    source: str = ""
    days: frozenset[int] | None = None  # allowed weekdays (0 = Monday), for campaign windows

    def allows(self, local: datetime) -> bool:
        """Whether the local wall-clock instant `local` is inside this window."""
        day = local.weekday()
        if (self.days is not None and day not in self.days) or (
            (self.weekdays_only and day >= 5) or (self.no_sunday and day == 6)
        ):
            return False
        return self.start_on(day) <= local.time() < self.end

    def start_on(self, day: int) -> time:
        return self.sunday_start if day == 6 and self.sunday_start else self.start


# 47 CFR § 64.1200(c)(1); 16 CFR § 310.4(c): no solicitation before 8 a.m. or after 9 p.m.
FEDERAL = HoursRule(time(8), time(21), source="47 CFR 64.1200(c)(1); 16 CFR 310.4(c)")

STATE_RULES: dict[str, HoursRule] = {
    # Fla. Stat. § 501.616(6) (SB 1120, 2021): 8-20, <= 3 calls per 24 h on the same subject
    "FL": HoursRule(time(8), time(20), attempts_per_24h=3, source="Fla. Stat. 501.616(6)"),
    # 15 O.S. § 775C (HB 3168, Telephone Solicitation Act of 2022): 8-20, <= 3 per 24 h
    "OK": HoursRule(time(8), time(20), attempts_per_24h=3, source="15 O.S. 775C (HB 3168)"),
    # Md. Code Com. Law § 14-4502 (SB 90, Stop the Spam Calls Act, 2024): 8-20, <= 3 per 24 h
    "MD": HoursRule(time(8), time(20), attempts_per_24h=3, source="Md. Com. Law 14-4502"),
    # RCW 19.158.040
    "WA": HoursRule(time(8), time(20), source="RCW 19.158.040"),
    # Conn. PA 23-98 (SB 1058, 2023)
    "CT": HoursRule(time(9), time(20), source="Conn. PA 23-98"),
    # Tex. Bus. & Com. Code § 301.051: 9-21 Mon-Sat, 12-21 Sunday
    "TX": HoursRule(time(9), time(21), sunday_start=time(12), source="Tex. Bus. & Com. 301.051"),
    # SDCL 37-30-28: autodialed solicitations weekdays only, 9-21
    "SD": HoursRule(time(9), time(21), weekdays_only=True, source="SDCL 37-30-28"),
    # D.C. Code § 22-3226.08
    "DC": HoursRule(time(8), time(21), source="D.C. Code 22-3226.08"),
    # R.I. Gen. Laws § 5-61-3.6 (weekends further limited: we skip them)
    "RI": HoursRule(time(9), time(18), weekdays_only=True, source="R.I. Gen. Laws 5-61-3.6"),
    # From third-party summaries (docs/notes/compliance.md §3): a conservative reading.
    "KY": HoursRule(time(10), time(21), source="3p summary (KRS 367.46955)"),
    "AL": HoursRule(time(8), time(20), no_sunday=True, source="3p summary"),
    "LA": HoursRule(time(8), time(20), no_sunday=True, source="3p summary"),
    "MS": HoursRule(time(8), time(20), no_sunday=True, source="3p summary"),
    "PA": HoursRule(time(8), time(21), source="3p summary"),
    "MA": HoursRule(time(8), time(20), source="3p summary"),
    "MI": HoursRule(time(9), time(21), source="3p summary"),
    "MN": HoursRule(time(9), time(21), source="3p summary"),
    "NM": HoursRule(time(9), time(21), source="3p summary"),
    "NV": HoursRule(time(9), time(20), source="3p summary"),
}

US_STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "Florida": "FL", "Georgia": "GA",
    "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA",
    "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD",
    "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS",
    "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH",
    "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY", "North Carolina": "NC",
    "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA",
    "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN",
    "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA", "Washington": "WA",
    "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY", "Washington D.C.": "DC",
    "Washington State": "WA",  # phonenumbers' geocoder says so for 206, 253, ...
}  # fmt: skip


def state_from_description(text: str) -> str | None:
    """'Pensacola, FL' → FL; 'Florida' → FL; otherwise None."""
    if "," in text:
        code = text.rsplit(",", 1)[1].strip()
        return code if code in US_STATES.values() else None
    return US_STATES.get(text.strip())
