"""The growth job's training step builds the documents only when what they are built from
changed (issue 19: it rebuilt both from every answered call of 90 days at every hourly run):
an hour in which no call ended reads no call and keeps the version; a call that ends, a
lead erased (its call's words gone, no call ended), calls leaving the 90-day window and new
builder code each give the documents a fresh build, the same one as building every hour."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from app.core.clock import ManualClock
from app.db.console import ConsoleRepository
from app.jobs import growth
from app.jobs.bootstrap import Context
from app.scoring import playbook
from app.scoring.playbook import OBJECTIONS_DOC, training_documents
from tests.agents.test_training import HELLO, _first_week
from tests.agents.training_calls import PRICE, apply, objection, report, transcript
from tests.scoring import helpers as h

PHONE = "+15125550123"  # the customer number of the Vapi fixture's call
CARD_TALK = "Put it on my card, 4111 1111 1111 1111. How much is the visit?"
CARD_ANSWER = "Happy to help, Dana: the visit is eighty-nine dollars, paid on site."


def _spy_reads(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Records each `training_calls` read (the transcripts) of the growth step."""
    reads: list[Any] = []
    read: Callable[..., Awaitable[Any]] = ctx.repos.agents.training_calls

    async def spy(*args: Any) -> Any:
        reads.append(args)
        return await read(*args)

    monkeypatch.setattr(ctx.repos.agents, "training_calls", spy)
    return reads


async def _fresh(ctx: Context) -> dict[str, str]:
    """The documents built from the calls now (what a build at every hour would publish)."""
    documents, _ = await training_documents(
        ctx.repos.agents, ctx.clock.now(), ctx.settings.business_timezone
    )
    return documents


async def _latest(ctx: Context) -> dict[str, str]:
    (build,) = await ctx.repos.agents.training_builds(1)
    return build.documents


async def test_an_hour_without_an_ended_call_reads_no_call_and_keeps_the_version(
    ctx: Context, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _first_week(ctx, clock)
    assert (await growth.training(ctx))["training_version"] == 1
    reads = _spy_reads(ctx, monkeypatch)
    for _ in range(3):  # the quiet hours of the night
        clock.advance(timedelta(hours=1))
        counts = await growth.training(ctx)
        assert counts == {
            "training_version": 1, "training_changed": False, "training_published": None,
        }  # fmt: skip
    assert reads == []
    # the next morning a call ends: read and built into version 2, as every hour would
    await apply(ctx, report(
        started=clock.now() - timedelta(minutes=20), booked=False, stage="offer", score=6,
        transcript=transcript(HELLO, f"User: {PRICE}"),
        objections=[objection(PRICE, "It depends on the system.", False)],
    ))  # fmt: skip
    clock.advance(timedelta(hours=1))
    counts = await growth.training(ctx)
    assert counts["training_version"] == 2 and counts["training_changed"] is True
    assert len(reads) == 1
    assert await _latest(ctx) == await _fresh(ctx)
    assert "Built from 9 answered call(s)" in (await _latest(ctx))[OBJECTIONS_DOC]


async def test_an_erased_lead_leaves_the_documents_at_the_next_hour_though_no_call_ended(
    ctx: Context, clock: ManualClock
) -> None:
    await _first_week(ctx, clock)
    lead = await h.lead(ctx, 1, clock.now() - timedelta(days=10), phone=PHONE)
    await apply(ctx, report(
        started=clock.now() - timedelta(hours=2), booked=False, stage="offer", score=5,
        transcript=transcript(HELLO, f"User: {CARD_TALK}", f"AI: {CARD_ANSWER}"),
        objections=[objection(CARD_TALK, CARD_ANSWER, False)],
    ))  # fmt: skip
    await growth.training(ctx)
    assert CARD_ANSWER in (await _latest(ctx))[OBJECTIONS_DOC]
    clock.advance(timedelta(hours=1))
    assert await ConsoleRepository(ctx.transport).erase(lead, "test", clock.now())
    clock.advance(timedelta(hours=1))
    counts = await growth.training(ctx)
    assert counts["training_changed"] is True and counts["training_version"] == 2
    documents = await _latest(ctx)
    assert CARD_ANSWER not in documents[OBJECTIONS_DOC] and documents == await _fresh(ctx)


async def test_calls_leaving_the_window_leave_the_documents(
    ctx: Context, clock: ManualClock
) -> None:
    await _first_week(ctx, clock)  # 8 calls ended 3 days ago, one an hour
    await growth.training(ctx)
    clock.advance(timedelta(days=87, hours=3, minutes=30))  # 4 of them older than 90 days
    counts = await growth.training(ctx)
    assert counts["training_changed"] is True
    assert "Built from 4 answered call(s)" in (await _latest(ctx))[OBJECTIONS_DOC]
    assert await _latest(ctx) == await _fresh(ctx)
    clock.advance(timedelta(days=1))  # all of them
    await growth.training(ctx)
    assert "Built from 0 answered call(s)" in (await _latest(ctx))[OBJECTIONS_DOC]


async def test_new_builder_code_reads_the_calls_again(
    ctx: Context, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _first_week(ctx, clock)
    await growth.training(ctx)
    reads = _spy_reads(ctx, monkeypatch)
    monkeypatch.setattr(playbook, "builder", lambda: "a deploy with another ranking")
    clock.advance(timedelta(hours=1))
    counts = await growth.training(ctx)
    assert len(reads) == 1  # read and built (the same content: no new version)
    assert counts["training_version"] == 1 and counts["training_changed"] is False
    clock.advance(timedelta(hours=1))
    await growth.training(ctx)
    assert len(reads) == 1  # its key kept with the unchanged build: not read again


async def test_every_hour_the_latest_build_is_what_building_every_hour_gives(
    ctx: Context, clock: ManualClock
) -> None:
    """Two days of hourly runs, calls ending in some hours: at
    every hour the latest build's documents are those of the calls then."""
    await _first_week(ctx, clock)
    versions = []
    for hour in range(48):
        if hour % 7 in (2, 3):
            said = PRICE if hour % 2 else f"{PRICE} My wife decides."
            await apply(ctx, report(
                started=clock.now() - timedelta(minutes=30), booked=hour % 3 == 0,
                stage="booking" if hour % 3 == 0 else "qualification", score=hour % 10,
                transcript=transcript(HELLO, f"User: {said}"),
                objections=[objection(said, f"Answer {hour % 4}.", hour % 3 == 0)],
            ))  # fmt: skip
        await growth.training(ctx)
        assert await _latest(ctx) == await _fresh(ctx), hour
        versions.append((await ctx.repos.agents.training_builds(1))[0].version)
        clock.advance(timedelta(hours=1))
    assert versions[-1] == 1 + sum(1 for hour in range(48) if hour % 7 in (2, 3))
