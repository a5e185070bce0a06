"""Simulated leads: where they live and how they behave (hidden from nightshift).

Contract: `make_population(n, rng, days)` is deterministic for a seeded generator. Every
lead has a valid US number whose area code matches its state, its IANA timezone and state,
an email, an industry and a source (the scoring model's inputs), an arrival (`arrives_after`:
when its enquiry comes in, spread over the run's `days`; 0 for all when days is 0), and
hidden propensities:
- `answer_rate(local_hour)`: a bell around its region's true best hour (`Region.best_hour`);
- `book_rate` (per answered call, at the enquiry): higher for referral/web leads and hvac;
  `warmth(age)` cools it with the days since the enquiry (half-life ~1 day: calling the
  fresh ones first matters), `book_chance(age)` is what a call at that age draws;
- `click_chance(age)`, `reply_chance(age)` (per email / per SMS) grow with the lead's intent
  (its book rate, cooled), so clicks and replies carry signal; `stop_rate` (per SMS),
  `bounces` (a hard bounce on every email: the address does not exist); `voice_stop_rate`
  (per answered call: "don't call me again");
- `consents`: the channels it agreed to on the web form (`consent_for`: most leads every
  channel; 1 in 25 none, 1 in 25 no calls, 1 in 25 no texts), recorded with the lead;
- `call_books(local_hour, age)`: the true chance that a call placed now books (the
  simulator's oracle order).
Nothing here touches the database; `lead_in()` is what the importer would hand over.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from app.db.models import ConsentIn, LeadIn

CONSENT_TEXT = ("By submitting this form I agree to receive calls, including by an AI voice, "
                "texts and emails from Acme Home Services about my request.")  # fmt: skip
ALL_CHANNELS = frozenset({"sms", "email", "calls", "ai_voice"})


@dataclass(frozen=True)
class Region:
    state: str
    timezone: str
    area_code: str
    best_hour: int  # the local hour at which its people answer most (the truth to learn)


REGIONS: tuple[Region, ...] = (
    Region("NY", "America/New_York", "212", 10),
    Region("FL", "America/New_York", "305", 17),
    Region("MD", "America/New_York", "410", 12),
    Region("IL", "America/Chicago", "312", 18),
    Region("TX", "America/Chicago", "512", 11),
    Region("OK", "America/Chicago", "405", 16),
    Region("CO", "America/Denver", "303", 13),
    Region("AZ", "America/Phoenix", "602", 10),
    Region("CA", "America/Los_Angeles", "415", 15),
    Region("WA", "America/Los_Angeles", "206", 19),
)
SOURCES = {"referral": 2.0, "web": 1.3, "list": 0.5}  # source → booking multiplier
INDUSTRIES = {"hvac": 1.3, "plumbing": 0.9, "roofing": 0.7}
COOLING_DAYS = 1.5  # intent decays as exp(-days since enquiry / 1.5): half-life ~1 day


@dataclass(frozen=True)
class SimLead:
    index: int
    name: str
    phone: str
    email: str
    region: Region
    industry: str
    source: str
    base_answer: float
    book_rate: float
    click_rate: float
    reply_rate: float
    stop_rate: float
    bounces: bool
    arrives_after: float = 0.0  # days after the run's start
    consents: frozenset[str] = ALL_CHANNELS
    voice_stop_rate: float = 0.03

    def answer_rate(self, local_hour: int) -> float:
        """Chance to pick up a call placed at this local hour (peak at the region's hour)."""
        distance = local_hour - self.region.best_hour
        return self.base_answer * math.exp(-(distance**2) / (2 * 2.5**2))

    @staticmethod
    def warmth(age_days: float) -> float:
        """How much of the lead's intent is left `age_days` after its enquiry."""
        return math.exp(-max(0.0, age_days) / COOLING_DAYS)

    def book_chance(self, age_days: float) -> float:
        """Chance that an answered call books, `age_days` after the enquiry."""
        return self.book_rate * self.warmth(age_days)

    def click_chance(self, age_days: float) -> float:
        return min(0.9, self.click_rate + 0.5 * self.book_chance(age_days))

    def reply_chance(self, age_days: float) -> float:
        return min(0.9, self.reply_rate + 0.3 * self.book_chance(age_days))

    def call_books(self, local_hour: int, age_days: float) -> float:
        """The true chance that a call placed now books (answered, then booked)."""
        return self.answer_rate(local_hour) * self.book_chance(age_days)

    def lead_in(self) -> LeadIn:
        return LeadIn(
            name=self.name, phone=self.phone, email=self.email, industry=self.industry,
            state=self.region.state, timezone=self.region.timezone, source=self.source,
            attributes={"simulated": True},
            consents=[ConsentIn(channel=c, source="web_form", text=CONSENT_TEXT,
                                url="https://sim.example.com/quote")
                      for c in sorted(self.consents)],
        )  # fmt: skip


def consent_for(index: int) -> frozenset[str]:
    """What lead `index` agreed to: by its index, not the generator, so the population's
    other draws (and every figure built on them) are the same with or without consent."""
    kind = index % 25
    if kind == 7:
        return frozenset()
    if kind == 13:
        return ALL_CHANNELS - {"ai_voice", "calls"}
    if kind == 19:
        return ALL_CHANNELS - {"sms"}
    return ALL_CHANNELS


def _lead(index: int, rng: np.random.Generator, days: float) -> SimLead:
    region = REGIONS[int(rng.integers(len(REGIONS)))]
    source = str(rng.choice(list(SOURCES), p=[0.2, 0.5, 0.3]))
    industry = str(rng.choice(list(INDUSTRIES), p=[0.5, 0.3, 0.2]))
    exchange, line = 200 + index // 10_000, index % 10_000
    return SimLead(
        index=index,
        name=f"Sim{index} Lead",
        phone=f"+1{region.area_code}{exchange:03d}{line:04d}",
        email=f"lead{index}@sim.example.com",
        region=region,
        industry=industry,
        source=source,
        base_answer=float(rng.uniform(0.35, 0.85)),
        book_rate=min(0.9, float(rng.beta(2, 8)) * SOURCES[source] * INDUSTRIES[industry]),
        click_rate=float(rng.beta(1, 60)),  # the intent-free part (curious, misclicks)
        reply_rate=float(rng.beta(1, 100)),
        stop_rate=0.02,
        bounces=bool(rng.random() < 0.02),
        arrives_after=float(rng.uniform(0.0, days)) if days > 0 else 0.0,
        consents=consent_for(index),
    )


def make_population(n: int, rng: np.random.Generator, days: float = 0.0) -> list[SimLead]:
    """`n` leads, deterministic for the generator's seed; at most 80,000 (phone plan). With
    `days`, their enquiries arrive uniformly over that many days."""
    if not 0 < n <= 80_000:
        raise ValueError("leads must be between 1 and 80,000")
    return [_lead(i, rng, days) for i in range(n)]
