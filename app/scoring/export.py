"""`nightshift export training --out DIR`: what the calls taught, on disk for review.

Writes four files:
- `booked_calls.jsonl`: one object per booked call: ids, summary, turns [{role, text}] and
  the objection -> response pairs found in it;
- `objection_pairs.jsonl`: one object per pair {category, objection, response, call_id};
- `call_handling_playbook.md` and `objection_responses.md`: the documents the growth job
  publishes into the agents' knowledge base, from the one builder (app.scoring.playbook),
  here over every answered call rather than the last 90 days.

An objection is a caller turn matching one of playbook.CATEGORIES; its response is the
assistant's next turn. Transcripts are Vapi's `AI: ...` / `User: ...` lines. Every text
written passes through `redact` (phone numbers, emails, payment details).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from app.db.agents import AgentRepository
from app.db.scoring import BookedCall, ScoringRepository
from app.scoring.playbook import training_documents, transcript_objections, turns
from app.scoring.redact import redact


@dataclass(frozen=True)
class Pair:
    category: str
    objection: str
    response: str
    call_id: int


def objection_pairs(call_id: int, call_turns: list[dict[str, str]]) -> list[Pair]:
    """Each caller objection and the assistant's next turn."""
    return [Pair(kind, said, answer, call_id)
            for kind, said, answer in transcript_objections(call_turns)]  # fmt: skip


def call_record(call: BookedCall) -> dict[str, Any]:
    call_turns = [{**t, "text": redact(t["text"])} for t in turns(call.transcript)]
    return {
        "call_id": call.call_id, "vapi_call_id": call.vapi_call_id,
        "ended_at": call.ended_at.isoformat() if call.ended_at else None,
        "summary": redact(call.summary) if call.summary else None, "turns": call_turns,
        "objections": [asdict(p) for p in objection_pairs(call.call_id, call_turns)],
    }  # fmt: skip


def write_export(
    records: list[dict[str, Any]], documents: dict[str, str], out: Path
) -> dict[str, int]:
    """Write the four files into `out` (created when missing)."""
    out.mkdir(parents=True, exist_ok=True)
    pairs = [p for r in records for p in r["objections"]]
    with (out / "booked_calls.jsonl").open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    with (out / "objection_pairs.jsonl").open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs)
    for name, text in documents.items():
        (out / name).write_text(text, encoding="utf-8")
    return {"calls": len(records), "objections": len(pairs)}


async def export_training(
    repo: ScoringRepository, agents: AgentRepository, now: datetime, timezone: str, out: Path,
    limit: int = 10_000,
) -> dict[str, int]:  # fmt: skip
    """Write the four files (up to `limit` booked calls, as of `now`; the documents' hours
    in `timezone`) into `out`; the counts of calls and objections written."""
    calls = await repo.booked_calls(limit, now)
    documents, _ = await training_documents(agents, now, timezone, window_days=None)
    return write_export([call_record(c) for c in calls], documents, out)
