"""Learning from calls on the shared Vapi fixtures: quality scores and the training export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.core.clock import ManualClock
from app.db.scoring import PendingCall
from app.jobs.bootstrap import Context
from app.providers.vapi_parse import report_fields
from app.scoring.export import export_training, objection_pairs, turns
from app.scoring.quality import score_call, score_calls
from tests.webhooks.helpers import fixture

REPORTS = (
    "05-end-of-call-report-completed-booked.json",
    "06-end-of-call-report-customer-did-not-answer.json",
    "07-end-of-call-report-voicemail.json",
)


async def _apply_reports(ctx: Context) -> dict[str, Any]:
    """Each fixture report applied as the webhook does it; returns the booked message."""
    for name in REPORTS:
        body = fixture("vapi", name)
        message = body["message"]
        key = f"vapi:{message['call']['id']}:end-of-call-report"
        await ctx.repos.webhooks.apply_vapi_report(
            key, body, report_fields(message), ctx.clock.now()
        )
    return dict(fixture("vapi", REPORTS[0])["message"])


async def test_training_export_on_the_shared_fixtures(
    ctx: Context, clock: ManualClock, tmp_path: Path
) -> None:
    message = await _apply_reports(ctx)
    counts = await export_training(
        ctx.repos.scoring, ctx.repos.agents, ctx.clock.now(), "America/Chicago", tmp_path
    )
    assert counts["calls"] == 1  # only the booked call; no-answer and voicemail are not
    (record,) = [json.loads(x) for x in (tmp_path / "booked_calls.jsonl").read_text().splitlines()]
    assert record["vapi_call_id"] == message["call"]["id"]
    assert record["turns"][0] == {
        "role": "assistant",
        "text": "Hi Dana, this is Ava calling from Brightside Dental. Do you have a quick minute?",
    }
    assert len(record["turns"]) == len(message["artifact"]["transcript"].strip().splitlines())
    pairs = [json.loads(x) for x in (tmp_path / "objection_pairs.jsonl").read_text().splitlines()]
    insurance = [p for p in pairs if p["category"] == "insurance"]
    assert (
        insurance[0]["objection"] == "Yeah, I've been meaning to. Do you still take Delta Dental?"
    )
    assert insurance[0]["response"].startswith("Yes, we're in network with Delta Dental PPO.")
    assert any(p["category"] == "trust" for p in pairs)  # "Uh, sure, what's this about?"
    playbook = (tmp_path / "call_handling_playbook.md").read_text()
    # the growth job's documents (app.scoring.playbook), over every answered call
    assert "Built from 1 answered call(s): 1 booked (100%)." in playbook
    objections = (tmp_path / "objection_responses.md").read_text()
    assert "## insurance" in objections and "Delta Dental PPO" in objections


async def test_quality_scores_every_finished_call_once(ctx: Context, clock: ManualClock) -> None:
    await _apply_reports(ctx)
    below = ctx.settings.call_quality_review_below
    first = await score_calls(ctx.repos.scoring, ctx.clock, below)
    assert first == {"calls_scored": 3, "calls_low_quality": 0}
    again = await score_calls(ctx.repos.scoring, ctx.clock, below)
    assert again == {"calls_scored": 0, "calls_low_quality": 0}
    from tests.scoring.helpers import execute

    rows = await execute(
        ctx,
        "select k.outcome, q.score, q.reasons from call_quality q "
        "join calls k on k.id = q.call_id order by k.id",
    )
    by_outcome = {r["outcome"]: r for r in rows}
    assert by_outcome["booked"]["score"] == 100  # 60 + 25 booked + 15 success + 5 normal end
    assert by_outcome["booked"]["reasons"][:2] == [
        "booked an appointment",
        "success evaluation true",
    ]
    assert by_outcome["no_answer"]["score"] == 50 and by_outcome["voicemail"]["score"] == 50


@pytest.mark.parametrize(
    ("fields", "expected", "reason"),
    [
        (
            {"outcome": "failed", "ended_reason": "pipeline-error-openai-llm-failed"},
            20,
            "platform error: pipeline-error-openai-llm-failed",
        ),
        (
            {"outcome": "answered", "ended_reason": "customer-ended-call", "duration_seconds": 8},
            45,
            "over within 15 seconds",
        ),
        (
            {
                "outcome": "answered",
                "ended_reason": "silence-timed-out",
                "duration_seconds": 90,
                "analysis": {"successEvaluation": "false"},
            },
            30,
            "silence timed out",
        ),
    ],
)
def test_quality_penalises_what_went_wrong(
    fields: dict[str, Any], expected: int, reason: str
) -> None:
    score, reasons = score_call(PendingCall(call_id=1, **fields))
    assert score == expected and reason in reasons


def test_tool_errors_lower_the_score() -> None:
    messages = [
        {"role": "tool_call_result", "name": "bookAppointment", "result": '{"error": "slot taken"}'}
    ]
    call = PendingCall(
        call_id=1,
        outcome="answered",
        ended_reason="assistant-ended-call",
        duration_seconds=120,
        messages=messages,
    )
    assert score_call(call) == (50, ["tool error: bookAppointment"])


def test_objections_pair_with_the_next_assistant_turn() -> None:
    call = turns("AI: Hello!\nUser: How much does it cost?\nUser: I'm busy.\nAI: It is $89.")
    pairs = objection_pairs(9, call)
    assert [(p.category, p.response) for p in pairs] == [
        ("price", "It is $89."),
        ("timing", "It is $89."),
    ]
