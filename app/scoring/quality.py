"""Call quality: a 0-100 score for every finished call, with its reasons.

Starts at 60 and moves with what the end-of-call report says about the conversation:

| signal                                                  | points |
|---------------------------------------------------------|--------|
| booked an appointment                                   | +25    |
| successEvaluation "true" / "false" (numeric 0-10 scaled)| +15 / -15 |
| ended normally (customer or assistant ended the call)   | +5     |
| silence timed out / hit the max duration                | -15    |
| platform or pipeline error mid-call                     | -40    |
| answered but over within 15 s                           | -20    |
| each tool call that returned an error                   | -15    |

Calls that never connected (no answer, busy, voicemail) score a neutral 50: there was no
conversation to judge. Scores below CALL_QUALITY_REVIEW_BELOW are listed for review.
`quality_drop` words the week's drop (the connected calls' average of the last 7 days
against the 7 before) when it reaches CALL_QUALITY_DROP_MARGIN points: the growth run
raises a warning alert with it.
"""

from __future__ import annotations

import json
from typing import Any

from app.core.clock import Clock
from app.db.scoring import PendingCall, QualityWeek, ScoringRepository

NOT_CONNECTED = {"no_answer", "busy", "voicemail"}
NORMAL_END = ("customer-ended-call", "assistant-ended-call", "assistant-said-end-call-phrase")
ERROR_PREFIXES = ("pipeline-error", "call.in-progress.error", "call.ringing.", "call.ending.")
BATCH = 500


def tool_errors(messages: list[Any]) -> list[str]:
    """Names (or ids) of tool calls whose result was an error, from artifact.messages."""
    out = []
    for m in messages:
        if not isinstance(m, dict) or m.get("role") != "tool_call_result":
            continue
        result = m.get("result")
        text = result if isinstance(result, str) else json.dumps(result)
        if m.get("error") or '"error"' in text.lower() or text.lower().startswith("error"):
            out.append(str(m.get("name") or m.get("toolCallId") or "tool"))
    return out


def _evaluation(value: Any) -> float | None:
    """successEvaluation as -1..1: 'true'/'false', or a 0-10 number."""
    text = str(value).strip().lower() if value is not None else ""
    if text in ("true", "pass", "good"):
        return 1.0
    if text in ("false", "fail", "bad", "poor"):
        return -1.0
    try:
        return max(-1.0, min(1.0, (float(text) - 5.0) / 5.0))
    except ValueError:
        return None


def score_call(call: PendingCall) -> tuple[int, list[str]]:
    """The quality score of one call and the reasons, strongest signals first."""
    if call.outcome in NOT_CONNECTED:
        return 50, [f"not connected ({call.outcome}): no conversation to judge"]
    points, reasons = 60.0, list[str]()
    reason = call.ended_reason or ""
    if call.outcome == "booked":
        points, reasons = points + 25, [*reasons, "booked an appointment"]
    evaluation = _evaluation(call.analysis.get("successEvaluation"))
    if evaluation is not None:
        points += 15 * evaluation
        reasons.append(f"success evaluation {call.analysis.get('successEvaluation')}")
    if reason.startswith(ERROR_PREFIXES):
        points, reasons = points - 40, [*reasons, f"platform error: {reason}"]
    elif reason in ("silence-timed-out", "exceeded-max-duration"):
        points, reasons = points - 15, [*reasons, reason.replace("-", " ")]
    elif reason.startswith(NORMAL_END):
        points += 5
    if (call.duration_seconds or 0) < 15 and call.outcome in ("answered", "booked"):
        points, reasons = points - 20, [*reasons, "over within 15 seconds"]
    for name in tool_errors(call.messages):
        points, reasons = points - 15, [*reasons, f"tool error: {name}"]
    return round(max(0.0, min(100.0, points))), reasons


async def score_calls(repo: ScoringRepository, clock: Clock, review_below: int) -> dict[str, int]:
    """Score the finished calls not scored yet, a batch per call pair (read, write); a score
    below `review_below` (CALL_QUALITY_REVIEW_BELOW) counts as low quality."""
    pending = await repo.quality_pending(BATCH, clock.now())
    scored = [(call.call_id, *score_call(call)) for call in pending]
    rows = [{"call_id": i, "score": score, "reasons": why} for i, score, why in scored]
    await repo.record_quality(rows, clock.now())
    low = sum(1 for _, score, _ in scored if score < review_below)
    return {"calls_scored": len(rows), "calls_low_quality": low}


MIN_WEEK_CALLS = 20  # fewer connected calls in either week: too few to call it a drop


def quality_drop(week: QualityWeek, margin: float) -> str | None:
    """The alert's title when this week's average fell `margin` points or more below the
    week before (both weeks with at least MIN_WEEK_CALLS connected calls); else None."""
    if week.week_avg is None or week.previous_avg is None:
        return None
    if min(week.week_calls, week.previous_calls) < MIN_WEEK_CALLS:
        return None
    fall = week.previous_avg - week.week_avg
    if fall < margin:
        return None
    return (f"Call quality dropped {fall:.0f} points this week: {week.week_avg:.0f} over "
            f"{week.week_calls} calls against {week.previous_avg:.0f} the week before "
            f"({week.week_low} calls below review level)")  # fmt: skip
