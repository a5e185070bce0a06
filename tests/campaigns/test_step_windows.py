"""A step's own window holds for every channel: a call step with `window: 10:00-11:00` is
placed only inside that window (intersected with the legal hours of every zone of the
number), even when campaign_manager reaches the queued call later (a full Vapi queue, a
retry, a late tick). The shipped HVAC example relies on it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from app.campaigns import drip, manager
from app.campaigns.definition import load_campaign_yaml
from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from app.jobs.campaign_manager import manager_deps
from app.jobs.drip import drip_deps
from tests.campaigns.helpers import load, query
from tests.consented import consented_lead

NEW_YORK = ZoneInfo("America/New_York")
CALL_STEP = """
slug: callback
name: Callback
timezone: America/New_York
window: {days: [mon, tue, wed, thu, fri, sat, sun], start: "08:00", end: "21:00"}
caps: {new_per_day: 100}
steps:
  - channel: call
    delay: 0m
    window: {days: [mon, tue, wed, thu, fri], start: "10:00", end: "11:00"}
"""


def new_york(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=NEW_YORK).astimezone(UTC)


async def test_call_step_window_is_honoured_when_the_call_is_placed(ctx: Context) -> None:
    clock = ctx.clock
    assert isinstance(clock, ManualClock)
    clock.set(new_york(26, 10, 55))  # Thursday, inside the step's window: drip queues the call
    await load(ctx, CALL_STEP)
    await ctx.repos.leads.upsert(
        [consented_lead(name="Maria Lopez", phone="+12125550147")], clock.now()
    )
    await ctx.repos.campaigns.enroll(clock.now())
    assert await drip.run(drip_deps(ctx)) == {"advance:call_queued": 1}

    clock.set(new_york(26, 14))  # campaign_manager only reaches it at 14:00 New York time
    counts = await manager.run(manager_deps(ctx), ctx.rng)
    assert (counts["calls_placed"], counts["calls_waiting"]) == (0, 1)
    [call] = await query(ctx, "select status, placed_at from calls")
    assert (call["status"], call["placed_at"]) == ("queued", None)

    clock.set(new_york(27, 10, 5))  # the next morning, inside the window again
    assert (await manager.run(manager_deps(ctx), ctx.rng))["calls_placed"] == 1
    [call] = await query(ctx, "select placed_at from calls")
    assert call["placed_at"].astimezone(NEW_YORK).hour == 10


def test_the_hvac_example_gives_its_call_step_a_window() -> None:
    with open("examples/hvac-tune-up-recall.yaml") as f:
        campaign = load_campaign_yaml(f.read())
    [call] = [s for s in campaign.steps if s.channel == "call"]
    assert call.window is not None and call.window.start.hour == 10
    assert timedelta(hours=call.window.end.hour - call.window.start.hour) == timedelta(hours=8)
