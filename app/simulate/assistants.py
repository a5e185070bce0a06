"""Simulated assistant versions with different true booking rates, and the Thompson split of
the calls between them (issue 18 item 5; docs/agents.md "Version trials").

Contract:
- `SimAssistants(factors, rng)`: each version multiplies an answered call's chance to book
  (the lead's own chance, capped at 1) by its factor — its hidden true quality;
- `choose()` picks the version of the next call with `app.agents.trials.choose` over what
  the versions' calls have shown so far (`observe`, called when the call's outcome is
  known, as its end-of-call report would tell nightshift); the draws come from the
  simulator's own generator for it, so adding a trial never shifts the leads' draws;
- `report()`: per version, the trial's figures (calls, answered, bookings per call,
  P(better)), its factor, and its share of the calls in the last quarter of the calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.agents.trials import VersionStats, choose, summary

REPORT_DRAWS_SEED = 18


@dataclass
class SimAssistants:
    factors: Mapping[str, float]
    rng: np.random.Generator
    stats: dict[str, VersionStats] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # the version of each placed call

    def __post_init__(self) -> None:
        self.stats = {name: VersionStats() for name in self.factors}

    def choose(self) -> str:
        version = choose(self.stats, self.rng)
        self.order.append(version)
        return version

    def factor(self, version: str | None) -> float:
        return self.factors.get(version, 1.0) if version else 1.0

    def observe(self, version: str | None, answered: bool, booked: bool) -> None:
        if version in self.stats:
            self.stats[version] = self.stats[version].add(answered, booked, None)

    def report(self) -> dict[str, Any]:
        figures = summary(self.stats, np.random.default_rng(REPORT_DRAWS_SEED))
        tail = self.order[len(self.order) * 3 // 4 :]
        for name, row in figures.items():
            row["true_factor"] = self.factors[name]
            row["last_quarter_share"] = round(tail.count(name) / len(tail), 4) if tail else None
        return figures


def parse_assistants(text: str) -> dict[str, float]:
    """`current=1.0,candidate=1.5` → {version: factor}; raises ValueError when malformed."""
    found: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or float(value) <= 0:
            raise ValueError(f"{part!r}: expected NAME=FACTOR with FACTOR > 0")
        found[name.strip()] = float(value)
    if len(found) == 1:
        raise ValueError("a trial needs at least two versions")
    return found
