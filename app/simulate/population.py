"""Simulated leads: where they live and how they behave (hidden from nightshift).

Contract: `make_population(n, rng)` is deterministic for a seeded generator. Every lead has
a valid US number whose area code matches its state, its IANA timezone and state, an email,
an industry and a source (the scoring model's inputs), and hidden propensities:
- `answer_rate(local_hour)`: a bell around its region's true best hour (`Region.best_hour`);
- `book_rate` (per answered call): higher for referral/web leads and hvac;
- `click_rate`, `reply_rate` (per email / per SMS), `stop_rate` (per SMS), `bounces` (a hard
  bounce on every email: the address does not exist).
Nothing here touches the database; `lead_in()` is what the importer would hand over.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from app.db.models import LeadIn


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

    def answer_rate(self, local_hour: int) -> float:
        """Chance to pick up a call placed at this local hour (peak at the region's hour)."""
        distance = local_hour - self.region.best_hour
        return self.base_answer * math.exp(-(distance**2) / (2 * 2.5**2))

    def lead_in(self) -> LeadIn:
        return LeadIn(
            name=self.name, phone=self.phone, email=self.email, industry=self.industry,
            state=self.region.state, timezone=self.region.timezone, source=self.source,
            attributes={"simulated": True},
        )  # fmt: skip


def _lead(index: int, rng: np.random.Generator) -> SimLead:
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
        click_rate=float(rng.beta(1, 12)),
        reply_rate=float(rng.beta(1, 20)),
        stop_rate=0.02,
        bounces=bool(rng.random() < 0.02),
    )


def make_population(n: int, rng: np.random.Generator) -> list[SimLead]:
    """`n` leads, deterministic for the generator's seed; at most 80,000 (phone plan)."""
    if not 0 < n <= 80_000:
        raise ValueError("leads must be between 1 and 80,000")
    return [_lead(i, rng) for i in range(n)]
