"""`nightshift export training --out DIR`: learn from the calls that booked.

Writes four files, all generated from the stored booked calls:
- `booked_calls.jsonl`: one object per booked call: ids, summary, turns [{role, text}] and
  the objection -> response pairs found in it;
- `objection_pairs.jsonl`: one object per pair {category, objection, response, call_id};
- `call_handling_playbook.md` and `objection_responses.md`: for the agents' knowledge base.

An objection is a caller turn matching one of the CATEGORIES patterns (price, insurance,
timing, not interested, needs to think, already has a provider, trust); its response is
the assistant's next turn. Transcripts are Vapi's `AI: ...` / `User: ...` lines.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from app.db.scoring import BookedCall, ScoringRepository

CATEGORIES: dict[str, re.Pattern[str]] = {
    "price": re.compile(r"\b(price|cost|expensive|afford|how much|fee|cheaper)\b", re.I),
    "insurance": re.compile(r"\b(insurance|in[- ]network|covered|coverage|do you (still )?"
                            r"(take|accept))\b", re.I),
    "timing": re.compile(r"\b(busy|bad time|call (me )?back|later|next (week|month)|no time)\b",
                         re.I),
    "not_interested": re.compile(r"\b(not interested|no thanks|don'?t need|stop calling)\b", re.I),
    "think_about_it": re.compile(r"\b(think about|not sure|ask my|talk to my|let me check)\b",
                                 re.I),
    "competitor": re.compile(r"\b(already (have|use|go)|another (company|provider|dentist))\b",
                             re.I),
    "trust": re.compile(r"\b(who is this|how did you get|is this a scam|what'?s this about)\b",
                        re.I),
}  # fmt: skip
_LINE = re.compile(r"^\s*(AI|User|Assistant|Bot|Customer)\s*:\s*(.*)$", re.I)


@dataclass(frozen=True)
class Pair:
    category: str
    objection: str
    response: str
    call_id: int


def turns(transcript: str) -> list[dict[str, str]]:
    """The transcript as [{role: assistant|user, text}], consecutive lines of a speaker kept
    as separate turns."""
    out = []
    for line in transcript.splitlines():
        match = _LINE.match(line)
        if match and match.group(2).strip():
            role = "user" if match.group(1).lower() in ("user", "customer") else "assistant"
            out.append({"role": role, "text": match.group(2).strip()})
    return out


def objection_pairs(call_id: int, call_turns: list[dict[str, str]]) -> list[Pair]:
    """Each caller objection and the assistant's next turn."""
    pairs = []
    for i, turn in enumerate(call_turns):
        if turn["role"] != "user":
            continue
        category = next((k for k, rx in CATEGORIES.items() if rx.search(turn["text"])), None)
        reply = next((t for t in call_turns[i + 1 :] if t["role"] == "assistant"), None)
        if category and reply:
            pairs.append(Pair(category, turn["text"], reply["text"], call_id))
    return pairs


def call_record(call: BookedCall) -> dict[str, Any]:
    call_turns = turns(call.transcript)
    return {
        "call_id": call.call_id, "vapi_call_id": call.vapi_call_id,
        "ended_at": call.ended_at.isoformat() if call.ended_at else None,
        "summary": call.summary, "turns": call_turns,
        "objections": [asdict(p) for p in objection_pairs(call.call_id, call_turns)],
    }  # fmt: skip


def playbook(records: list[dict[str, Any]]) -> str:
    """call_handling_playbook.md: openings, closings and summaries of the booked calls."""
    openings = Counter(r["turns"][0]["text"] for r in records if r["turns"])
    closings = Counter(
        next((t["text"] for t in reversed(r["turns"]) if t["role"] == "assistant"), "")
        for r in records
    )
    lines = ["# Call handling playbook", "", f"Generated from {len(records)} booked call(s).",
             "", "## Openings that led to a booking", ""]  # fmt: skip
    lines += [f"- ({n}x) {text}" for text, n in openings.most_common(10)]
    lines += ["", "## How booked calls closed", ""]
    lines += [f"- ({n}x) {text}" for text, n in closings.most_common(10) if text]
    lines += ["", "## What happened on booked calls", ""]
    lines += [f"- {r['summary']}" for r in records if r.get("summary")]
    return "\n".join(lines) + "\n"


def objection_markdown(pairs: list[dict[str, Any]]) -> str:
    """objection_responses.md: per category, the objections heard and the responses that
    were followed by a booking."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in pairs:
        grouped[p["category"]].append(p)
    lines = ["# Objection responses", "", f"{len(pairs)} objection(s) from booked calls.", ""]
    for category in sorted(grouped):
        lines += [f"## {category.replace('_', ' ')}", ""]
        for p in grouped[category]:
            lines += [f'- Caller: "{p["objection"]}"', f'  - Response: "{p["response"]}"']
        lines.append("")
    return "\n".join(lines)


def write_export(records: list[dict[str, Any]], out: Path) -> dict[str, int]:
    """Write the four files into `out` (created when missing)."""
    out.mkdir(parents=True, exist_ok=True)
    pairs = [p for r in records for p in r["objections"]]
    with (out / "booked_calls.jsonl").open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    with (out / "objection_pairs.jsonl").open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs)
    (out / "call_handling_playbook.md").write_text(playbook(records), encoding="utf-8")
    (out / "objection_responses.md").write_text(objection_markdown(pairs), encoding="utf-8")
    return {"calls": len(records), "objections": len(pairs)}


async def export_training(
    repo: ScoringRepository, now: datetime, out: Path, limit: int = 10_000
) -> dict[str, int]:
    """Write the four files of up to `limit` booked calls (as of `now`) into `out`; the
    counts of calls and objections written."""
    calls = await repo.booked_calls(limit, now)
    return write_export([call_record(c) for c in calls], out)
