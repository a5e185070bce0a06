"""agents/: Sarah and John load, and their prompts use only the variables every call supplies
(the outbound `POST /call` and the inbound assistant-request answer send the same keys)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.agents.definition import AgentError, load_agents, template_variables
from app.campaigns.steps import outbox_item
from app.core.call_variables import CALL_VARIABLES, VAPI_BUILTINS
from app.db.campaigns import ClaimedStep
from app.jobs.bootstrap import Context
from tests.conftest import make_settings
from tests.webhooks.helpers import Db, client, post_vapi, seed_lead

ROOT = Path(__file__).resolve().parents[2]
AGENTS = ROOT / "agents"


def test_sarah_and_john_load_with_their_tools_outputs_and_knowledge() -> None:
    agents = load_agents(AGENTS)
    assert {"sarah", "john"} <= set(agents)
    for agent in agents.values():
        assert {"checkAvailability", "bookAppointment", "optOut", "endCall"} <= set(agent.tools)
        assert set(agent.outputs) == {"booked", "objections", "do_not_contact", "quality"}
        assert {f.name for f in agent.knowledge} == {
            "services.md", "seasonal-maintenance.md", "common-questions.md", "never-promise.md",
        }  # fmt: skip
        assert agent.spec.max_duration_seconds <= 600  # VAPI_MAX_CALL_SECONDS' default


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "agents"
    shutil.copytree(AGENTS, folder)
    return folder


def test_a_prompt_variable_no_call_supplies_is_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    sarah = folder / "sarah.yaml"
    # the old inbound name: outbound calls never sent it, so it would be heard as a blank
    sarah.write_text(sarah.read_text().replace("{{first_name}},", "{{customerName}},", 1))
    with pytest.raises(AgentError) as error:
        load_agents(folder)
    assert "sarah.yaml: first_message: {{customerName}} is not a call variable" in str(error.value)


def test_unknown_tools_outputs_and_missing_knowledge_are_named(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    john = folder / "john.yaml"
    text = john.read_text().replace("optOut, endCall]", "optOut, endCall, transferToBob]")
    text = text.replace("never-promise.md]", "never-promise.md, prices.md]")
    john.write_text(text.replace("quality]", "quality, mood]"))
    with pytest.raises(AgentError) as error:
        load_agents(folder)
    assert str(error.value).splitlines() == [
        "john.yaml: tools: transferToBob is not defined in tools.yaml",
        "john.yaml: structured_outputs: mood is not defined in outputs.yaml",
        "john.yaml: knowledge: prices.md is not in agents/knowledge/",
    ]


def _outbound_keys() -> set[str]:
    step = ClaimedStep.model_validate({
        "enrollment_id": 1, "position": 0,
        "campaign": {"id": 1, "slug": "hvac", "definition": {"assistant": "sarah"}},
        "step": {"id": 1, "channel": "call", "template": {}, "position": 0},
        "lead": {"id": 7, "name": "Dana Whitfield", "phone": "+15125550123", "status": "new"},
    })  # fmt: skip
    item = outbox_item(step, "+15125550123", make_settings(), "vapi")
    assert item["payload"]["assistant"] == "sarah"
    values = item["payload"]["variable_values"]
    assert values["first_name"] == "Dana" and values["direction"] == "outbound"
    return set(values)


async def _inbound_keys(ctx: Context, db: Db) -> set[str]:
    await seed_lead(ctx, db, phone="+15125550187", name="Lee Park")
    body = {"message": {"type": "assistant-request", "call": {"type": "inboundPhoneCall"},
                        "customer": {"number": "+15125550187"}}}  # fmt: skip
    async with client(ctx) as http:
        answer = (await post_vapi(http, body)).json()
    values = answer["assistantOverrides"]["variableValues"]
    assert values["first_name"] == "Lee" and values["direction"] == "inbound"
    return set(values)


async def test_both_paths_supply_every_variable_the_prompts_use(ctx: Context, db: Db) -> None:
    outbound, inbound = _outbound_keys(), await _inbound_keys(ctx, db)
    assert outbound == inbound == set(CALL_VARIABLES)
    for agent in load_agents(AGENTS).values():
        texts = [agent.spec.prompt, agent.spec.first_message, agent.spec.end_call_message or ""]
        used = set().union(*(template_variables(t) for t in texts))
        assert used - VAPI_BUILTINS <= outbound & inbound, agent.key
