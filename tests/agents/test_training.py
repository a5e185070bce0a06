"""The training loop (issue 18 item 4): calls end → the growth job builds
objection_responses.md and call_handling_playbook.md → a new knowledge version is uploaded
and swapped into the assistants' query tool (respx) → the old file is deleted."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import respx
from pydantic import SecretStr

from app.agents.definition import load_agents
from app.agents.render import Target
from app.agents.service import AgentDeps, push
from app.agents.training import with_training
from app.console.pages import calls
from app.core.clock import ManualClock
from app.jobs import growth
from app.jobs.bootstrap import Context
from app.providers.vapi_assistants import VapiAssistantsApi
from app.scoring.playbook import OBJECTIONS_DOC, PLAYBOOK_DOC
from app.status.data import console_deps
from tests.agents.test_push import AGENTS, FakeVapi
from tests.agents.training_calls import (
    PRICE,
    PRICE_FEE,
    PRICE_VAGUE,
    TIMING,
    TIMING_SLOTS,
    apply,
    objection,
    report,
    transcript,
)
from tests.conftest import Rebuild
from tests.console.conftest import BEARER, TOKEN, client_for
from tests.webhooks.helpers import PUBLIC, VAPI_SECRET, Db


@pytest.fixture
def vapi() -> Iterator[FakeVapi]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield FakeVapi(router)


HELLO = "AI: Hi Maria, this is Sarah from Comfort Air HVAC. Is now a good time?"


async def _first_week(ctx: Context, clock: ManualClock) -> None:
    """Eight answered calls of the week before: the flat-fee answer to price books 3 of 4."""
    start = clock.now() - timedelta(days=3)
    calls = [
        *[(True, "booking", 9, [objection(PRICE, PRICE_FEE, True)]) for _ in range(3)],
        (False, "offer", 5, [objection(PRICE, PRICE_FEE, False)]),
        *[(False, "offer", 4, [objection(PRICE, PRICE_VAGUE, False)]) for _ in range(2)],
        (True, "booking", 8, [objection(TIMING, TIMING_SLOTS, True)]),
        (False, "greeting", 3, []),
    ]
    for i, (booked, stage, score, said) in enumerate(calls):
        body = report(
            started=start + timedelta(hours=i), booked=booked, stage=stage, score=score,
            transcript=transcript(HELLO, f"User: {said[0]['objection'] if said else 'Bye.'}"),
            objections=said, seconds=240 if booked else 90,
        )  # fmt: skip
        await apply(ctx, body)


async def _second_week(ctx: Context, clock: ManualClock) -> None:
    """Two more calls, one saying contact and card details out loud, one with no structured
    outputs (only its transcript)."""
    said = (
        "Just email the quote to maria.gonzalez@outlook.com or text me at (512) 555-0147, "
        "and I can put the deposit on my card now, 4111 1111 1111 1111, CVV is 123."
    )
    answer = "I'll email it to maria.gonzalez@outlook.com; please keep your card, we take payment on site."  # noqa: E501
    await apply(ctx, report(
        started=clock.now() - timedelta(hours=5), booked=True, stage="booking", score=9,
        transcript=transcript(HELLO, f"User: {said}", f"AI: {answer}"),
        objections=[objection(f"How much? {said}", answer, True)],
    ))  # fmt: skip
    lines = transcript(
        HELLO,
        "User: I already have a guy for that, he's at 512 555 0199 if you need him.",
        "AI: Totally fair. If he is booked up, we have Saturday morning open.",
        "User: Routing number is 021000021, account 123456789012, for the refund.",
        "AI: Thanks, no need for that.",
    )
    await apply(ctx, report(
        started=clock.now() - timedelta(hours=4), booked=False, stage="offer", score=6,
        transcript=lines, objections=None,
    ))  # fmt: skip


def _deps(ctx: Context) -> AgentDeps:
    return AgentDeps(ctx.repos.agents, ctx.clock, Target(PUBLIC, VAPI_SECRET))


def _api(ctx: Context) -> VapiAssistantsApi:
    assert ctx.settings.vapi_api_key is not None
    return VapiAssistantsApi(ctx.settings.vapi_api_key, client=ctx.providers.client,
                             clock=ctx.clock)  # fmt: skip


async def test_the_documents_rank_answers_by_booking_rate_and_say_where_calls_end(
    ctx: Context, clock: ManualClock
) -> None:
    await _first_week(ctx, clock)
    counts = await growth.training(ctx)
    assert counts == {"training_version": 1, "training_changed": True, "training_published": None}
    (build,) = await ctx.repos.agents.training_builds(5)
    objections = build.documents[OBJECTIONS_DOC]
    assert "## price (6 heard, 3 booked: 50%)" in objections
    fee = f'| 3 | 4 | 75% | "{PRICE_FEE}" |'
    vague = f'| 0 | 2 | 0% | "{PRICE_VAGUE}" |'
    assert fee in objections and vague in objections
    assert objections.index(fee) < objections.index(vague)  # ranked by booking rate
    assert f'| 1 | 1 | 100% | "{TIMING_SLOTS}" |' in objections
    playbook = build.documents[PLAYBOOK_DOC]
    assert "Built from 8 answered call(s): 4 booked (50%)." in playbook
    assert "| greeting | 8 | 1 | 12% |" in playbook  # the wrong-number call ended at hello
    assert "| offer | 7 | 3 | 43% |" in playbook
    assert "| booking | 4 | 0 | 0% |" in playbook
    assert "| average length | 4.0 min | 1.5 min |" in playbook
    assert "| average quality (1-10) | 8.8 | 4.0 |" in playbook

    again = await growth.training(ctx)  # nothing new ended: no new version
    assert again["training_changed"] is False and again["training_version"] == 1


async def test_nothing_transcribed_is_published_unredacted(
    ctx: Context, clock: ManualClock
) -> None:
    await _second_week(ctx, clock)
    await growth.training(ctx)
    (build,) = await ctx.repos.agents.training_builds(1)
    text = "\n".join(build.documents.values())
    for secret in ("maria.gonzalez", "555-0147", "555 0199", "4111", "CVV is 123",
                   "021000021", "123456789012"):  # fmt: skip
        assert secret not in text, secret
    assert "[email]" in text and "[phone]" in text and "[card]" in text
    assert "cvv is [code]" in text  # "Heard as" quotes the wording, lower-cased
    # the call without structured outputs: its transcript's objection and the next answer
    assert "## competitor" in text and "we have Saturday morning open" in text


async def test_calls_end_growth_builds_publishes_swaps_and_deletes_the_old_file(
    ctx: Context, clock: ManualClock, rebuild: Rebuild, vapi: FakeVapi, db: Db
) -> None:
    agents = load_agents(AGENTS)
    for agent in agents.values():  # the owner pushed Sarah and John before any call
        await push(agent, _deps(ctx), _api(ctx))
    auto = await rebuild(agents_auto_publish=True, agents_dir=str(AGENTS))

    await _first_week(auto, clock)
    before = len(vapi.sent())
    counts = await growth.training(auto)
    assert counts["training_version"] == 1 and counts["training_published"] == 1
    first = vapi.sent()[before:]
    assert first.count(("POST", "/file")) == 4  # two documents for each agent
    assert ("PATCH", "/tool/tool-q") in first and ("PATCH", "/assistant/asst-sarah") in first
    assert not vapi.deleted
    uploaded = {c.request.content.split(b'filename="')[1].split(b'"')[0]
                for c in vapi.router.calls[before:] if c.request.url.path == "/file"}  # fmt: skip
    assert uploaded == {OBJECTIONS_DOC.encode(), PLAYBOOK_DOC.encode()}
    sarah_v2 = db.one("select definition from agent_versions where agent = 'sarah' and version = 2")
    files = sarah_v2["definition"]["vapi"]["files"]
    old_ids = {files[OBJECTIONS_DOC]["id"], files[PLAYBOOK_DOC]["id"]}

    clock.advance(timedelta(days=7))
    await _second_week(auto, clock)
    before = len(vapi.sent())
    counts = await growth.training(auto)
    assert counts["training_version"] == 2 and counts["training_published"] == 2
    second = vapi.sent()[before:]
    assert second[:4] == [("POST", "/file"), ("POST", "/file"), ("PATCH", "/tool/tool-q"),
                          ("PATCH", f"/assistant/{second[3][1].rsplit('/', 1)[1]}")]  # fmt: skip
    swapped = vapi.body(before + 2)["knowledgeBases"][0]["fileIds"]
    assert not old_ids & set(swapped) and len(swapped) == 6
    assert old_ids <= set(vapi.deleted)  # the old files deleted once nothing used them
    row = db.one("select version, published from training_builds where version = 2")
    assert row["published"] == {"john": 3, "sarah": 3}

    # a later `agents push` carries the published build: nothing to change, nothing deleted
    published = await auto.repos.agents.published_training()
    summary, _ = await push(with_training(agents["sarah"], published), _deps(auto), _api(auto))
    assert summary == "sarah: unchanged (version 3)"


async def test_without_auto_publish_nothing_is_sent_until_publish_knowledge(
    ctx: Context, clock: ManualClock, vapi: FakeVapi
) -> None:
    await _first_week(ctx, clock)
    counts = await growth.training(ctx)
    assert counts["training_published"] is None and vapi.sent() == []
    diff = await ctx.repos.agents.training_diff()
    assert diff[:2] == [f"--- {PLAYBOOK_DOC} (none)", f"+++ {PLAYBOOK_DOC} (version 1)"]
    assert f"+++ {OBJECTIONS_DOC} (version 1)" in diff
    assert "+## price (6 heard, 3 booked: 50%)" in diff

    clock.advance(timedelta(days=1))
    await _second_week(ctx, clock)
    await growth.training(ctx)
    diff = await ctx.repos.agents.training_diff()
    assert f"--- {OBJECTIONS_DOC} (version 1)" in diff
    assert "-## price (6 heard, 3 booked: 50%)" in diff
    assert "+## price (7 heard, 4 booked: 57%)" in diff
    assert vapi.sent() == []


def test_the_published_documents_join_only_agents_with_a_knowledge_base(tmp_path: Path) -> None:
    agents = load_agents(AGENTS)
    assert all(a.knowledge for a in agents.values())
    assert with_training(agents["sarah"], None) is agents["sarah"]


async def test_the_console_calls_page_shows_the_newest_build_as_a_diff(
    ctx: Context, clock: ManualClock, rebuild: Rebuild
) -> None:
    assert (await calls(console_deps(ctx)))["training"] is None
    await _first_week(ctx, clock)
    await growth.training(ctx)
    page = await calls(console_deps(ctx))
    assert page["training"]["version"] == 1 and page["training"]["published_at"] is None
    assert "+## price (6 heard, 3 booked: 50%)" in page["training"]["diff"]
    console = await rebuild(status_token=SecretStr(TOKEN))
    async for http in client_for(console):
        html = (await http.get("/console/calls", headers=BEARER)).text
    assert "Training documents" in html and "+## price (6 heard, 3 booked: 50%)" in html
    assert "not published yet (nightshift agents publish-knowledge)" in html
