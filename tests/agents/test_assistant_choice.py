"""A campaign chooses its agent (`assistant: sarah | john`): its outbound calls and the
inbound answers to its leads use that agent's Vapi id, as the last push recorded it."""

from __future__ import annotations

from typing import Any

from app.campaigns.definition import load_campaign_yaml
from app.jobs.bootstrap import Context
from app.providers.ports import CallRequest
from tests.conftest import Rebuild
from tests.webhooks.helpers import Db, client, post_vapi, seed_lead

CAMPAIGN = """
slug: furnace-season
name: Furnace season
assistant: john
steps:
  - channel: call
"""


async def _pushed(ctx: Context, agent: str, assistant_id: str) -> None:
    await ctx.repos.agents.record_version(agent, f"hash-{agent}", assistant_id, None,
                                          {"assistant": {}}, "push", ctx.clock.now())  # fmt: skip


def test_a_campaign_names_its_agent() -> None:
    campaign = load_campaign_yaml(CAMPAIGN)
    assert campaign.assistant == "john"
    assert campaign.to_row()["definition"]["assistant"] == "john"


async def _placed(ctx: Context, assistant: str | None) -> Any:
    request = CallRequest(outbox_id=3, idempotency_key="drip:1:0", to="+15125550123",
                          claimed_at=ctx.clock.now(), assistant=assistant)  # fmt: skip
    result = await ctx.providers.calls.place(request)  # the dry-run twin: the exact body
    assert result.request is not None
    return result.request["json"]["assistantId"]


async def test_outbound_calls_use_the_campaign_agents_pushed_id(ctx: Context) -> None:
    await _pushed(ctx, "john", "asst-john-42")
    assert await _placed(ctx, "john") == "asst-john-42"
    assert await _placed(ctx, "sarah") == "asst-default"  # never pushed: VAPI_ASSISTANT_ID
    assert await _placed(ctx, None) == "asst-default"


async def _answer(ctx: Context) -> dict[str, Any]:
    body = {"message": {"type": "assistant-request", "call": {"type": "inboundPhoneCall"},
                        "customer": {"number": "+15125550187"}}}  # fmt: skip
    async with client(ctx) as http:
        return dict((await post_vapi(http, body)).json())


async def test_inbound_answers_use_the_callers_campaign_agent_and_named_rules(
    ctx: Context, db: Db, rebuild: Rebuild
) -> None:
    await seed_lead(ctx, db, phone="+15125550187", name="Lee Park")
    row = load_campaign_yaml(CAMPAIGN).to_row()
    await ctx.transport.call("upsert_campaign", {"p_campaign": row, "p_now": ctx.clock.now()})
    await ctx.transport.call("enroll_leads", {"p_now": ctx.clock.now()})
    await _pushed(ctx, "john", "asst-john-42")
    await _pushed(ctx, "sarah", "asst-sarah-7")
    assert (await _answer(ctx))["assistantId"] == "asst-john-42"
    # a campaign rule still wins, and a rule may name an agent instead of a Vapi id
    ruled = await rebuild(vapi_assistant_rules={"campaign:furnace-season": "sarah"})
    assert (await _answer(ruled))["assistantId"] == "asst-sarah-7"
