"""Simulated assistant versions with different true booking rates, split by the production
choice of a version (issue 18 item 5; docs/agents.md "Version trials").

Contract:
- `SimAssistants(factors, rng)`: two versions, the first the current one, the second the
  candidate; each multiplies an answered call's chance to book (the lead's own chance,
  capped at 1) by its factor — its hidden true quality;
- `install(repo, clock)` records them as the versions of the agent `TRIAL_AGENT` (current
  and candidate, each its own simulated Vapi assistant id) and makes the production
  chooser (`app.agents.versions.call_assistant`) the trial's: the same Thompson draw over
  the same `calls` rows (their recorded version, outcome and end-of-call report) as a
  real call placement, with the draws from the simulator's own generator for it, so
  adding a trial never shifts the leads' draws; `campaign_agent()` is the agent the example
  campaigns name during a trial;
- `choose(request)` is the version of the placed call (its assistant id mapped back);
  `observe` records the outcome the simulator decided, for the report;
- `report()`: per version, the trial's figures (calls, answered, bookings per call,
  P(better)), its factor, and its share of the calls in the last quarter of the calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.agents.figures import summary
from app.agents.trials import VersionStats
from app.agents.versions import VersionDeps, call_assistant
from app.core.clock import Clock
from app.db.agents import AgentRepository
from app.providers.ports import CallRequest
from app.providers.vapi import AssistantLookup

REPORT_DRAWS_SEED = 18
TRIAL_AGENT = "sarah"
ROLES = ("current", "candidate")


def assistant_id(version: str) -> str:
    return f"sim-asst-{version}"


@dataclass
class SimAssistants:
    factors: Mapping[str, float]
    rng: np.random.Generator
    stats: dict[str, VersionStats] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # the version of each placed call
    lookup: AssistantLookup | None = None

    def __post_init__(self) -> None:
        self.stats = {name: VersionStats() for name in self.factors}

    async def install(self, repo: AgentRepository, clock: Clock) -> None:
        for version, role in zip(self.factors, ROLES, strict=True):
            await repo.record_version(
                TRIAL_AGENT, f"sim-{version}", assistant_id(version), None, {}, "simulated",
                clock.now(), role,  # type: ignore[arg-type]
            )  # fmt: skip
        self.lookup = call_assistant(VersionDeps(repo, lambda: self.rng, clock))

    async def choose(self, request: CallRequest) -> str | None:
        assert self.lookup is not None, "install() first"
        chosen = await self.lookup(request)
        version = next((v for v in self.factors if assistant_id(v) == chosen), None)
        if version is not None:
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
    """`current=1.0,candidate=1.5` → {version: factor}, the current version first; "" → {}
    (no trial); raises ValueError when malformed or not exactly two versions."""
    found: dict[str, float] = {}
    if not text.strip():
        return found
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or float(value) <= 0:
            raise ValueError(f"{part!r}: expected NAME=FACTOR with FACTOR > 0")
        found[name.strip()] = float(value)
    if len(found) != 2:
        raise ValueError("a trial is two versions: the current one, then the candidate")
    return found
