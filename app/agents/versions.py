"""Assistant versions in production: which live version of an agent takes a call, and the
figures per version (issue 18 item 5; docs/agents.md "Version trials").

Contract:
- an agent has at most one `current` and one `candidate` version live, each its own Vapi
  assistant (app.db.agents); without a candidate every call goes to the current version
  and no random draw is made;
- with both, `choose_version` makes one Thompson draw (`app.agents.trials.choose`, the
  simulator's and the A/B tests' posteriors) over the versions' ended calls and bookings;
  the generator comes from the caller (`rng`), seeded in tests;
- `call_assistant(deps)` is the call placer's `AssistantLookup`: for a call whose campaign
  names an agent it chooses the version, records agent and version on the call's row
  (`calls.agent`, `calls.agent_version`) and
  returns that version's Vapi assistant id; None (→ VAPI_ASSISTANT_ID) when no agent was
  named or it was never pushed. A row claimed again (a retry after an ambiguous failure)
  keeps the version chosen first while it is live: the call Vapi may have made already is
  counted for the assistant that made it;
- `inbound_assistant` does the same for an inbound `assistant-request` (recorded by Vapi
  call id: the row is made by the call's first event);
- numpy is not imported here (the web app's cold start): the figures are app.agents.figures.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.agents.trials import VersionStats, choose
from app.core.clock import Clock
from app.db.agents import AgentRepository, VersionCalls
from app.providers.ports import CallRequest

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class VersionDeps:
    repo: AgentRepository
    rng: Callable[[], np.random.Generator]
    clock: Clock


def _stats(row: VersionCalls) -> VersionStats:
    return VersionStats(row.calls, row.answered, row.booked, row.quality_sum, row.quality_n)


def _draw(live: list[VersionCalls], rng: Callable[[], np.random.Generator]) -> VersionCalls | None:
    if len(live) < 2:
        return live[0] if live else None
    by_role: dict[str, VersionCalls] = {row.role: row for row in live}
    return by_role[choose({role: _stats(row) for role, row in by_role.items()}, rng())]


async def choose_version(
    repo: AgentRepository,
    rng: Callable[[], np.random.Generator],
    agent: str | None,
    campaign: str | None = None,
) -> VersionCalls | None:
    """The live version that takes the next call of `agent` (or of `campaign`'s agent);
    None when it has no live version."""
    return _draw(await repo.live_versions(agent, campaign), rng)


def call_assistant(deps: VersionDeps) -> Callable[[CallRequest], Awaitable[str | None]]:
    """The outbound call placer's assistant lookup (app.providers.vapi.AssistantLookup)."""

    async def lookup(request: CallRequest) -> str | None:
        if not request.assistant:
            return None
        live = await deps.repo.live_versions(request.assistant)
        chosen = _draw(live, deps.rng)
        if chosen is None:
            return None
        kept = await deps.repo.assign_call(request.outbox_id, chosen.agent, chosen.version)
        return next(
            (v.vapi_assistant_id for v in live if v.version == kept), chosen.vapi_assistant_id
        )

    return lookup


async def inbound_assistant(
    deps: VersionDeps, agent: str | None, campaign: str | None, vapi_call_id: str | None
) -> str | None:
    """The Vapi id that answers an inbound call for `agent` (or `campaign`'s agent), its
    version recorded against `vapi_call_id`; None when the agent was never pushed."""
    chosen = await choose_version(deps.repo, deps.rng, agent, campaign)
    if chosen is None:
        return None
    if vapi_call_id:
        await deps.repo.choose_inbound(vapi_call_id, chosen.agent, chosen.version, deps.clock.now())
    return chosen.vapi_assistant_id
