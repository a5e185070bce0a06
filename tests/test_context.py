"""The composition root: one graph, built once; tests and the simulator are overrides."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from app.core.clock import ManualClock
from app.core.settings import Settings
from app.db.transport import PostgresTransport
from app.jobs.bootstrap import Context, Overrides, bootstrap
from app.providers.build import Ports, twilio_config
from app.providers.dryrun import DryRunSmsSender


async def test_provider_quota_alert_reaches_the_alert_router(ctx: Context) -> None:
    details = {"code": "daily_quota_exceeded", "retry_after_seconds": 3600}
    await ctx.providers.delivery.alert("warning", "resend quota exhausted", details)
    await ctx.providers.delivery.alert("warning", "resend quota exhausted", details)  # deduped
    alert = await ctx.repos.alerts.by_key("provider:daily_quota_exceeded")
    assert alert is not None
    assert (alert.severity, alert.status, alert.count) == ("warning", "firing", 2)


async def test_a_built_graph_cannot_be_patched(ctx: Context) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.settings = ctx.settings  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.providers = ctx.providers  # type: ignore[misc]


async def test_overrides_are_what_the_graph_uses(
    settings: Settings, clock: ManualClock, transport: PostgresTransport
) -> None:
    sms = DryRunSmsSender(twilio_config(settings))
    rng = np.random.default_rng(7)
    overrides = Overrides(clock=clock, transport=transport, ports=Ports(sms=sms), rng=rng,
                          holder="test-holder")  # fmt: skip
    async with bootstrap(settings, overrides) as graph:
        assert graph.clock is clock and graph.transport is transport
        assert graph.providers.sms is sms and graph.providers.delivery.sms is sms
        assert graph.rng is rng and graph.holder == "test-holder"
        assert graph.alerts.clock is clock  # one clock for every part


async def test_the_random_generator_is_made_only_when_drawn(
    settings: Settings, clock: ManualClock, transport: PostgresTransport
) -> None:
    made: list[int] = []

    def factory() -> np.random.Generator:
        made.append(1)
        return np.random.default_rng(1)

    async with bootstrap(settings, Overrides(clock=clock, transport=transport)) as graph:
        graph = dataclasses.replace(graph, rng_factory=factory)
        assert made == []  # the web app never draws: it never pays for numpy
        first, again = graph.rng, graph.rng
        assert first is again and made == [1]
