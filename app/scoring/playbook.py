"""The training documents: `objection_responses.md` and `call_handling_playbook.md`, built
from ended calls and their structured outputs (docs/agents.md "The training loop"). The one
builder: the growth job publishes them and `nightshift export training` writes them.

Contract:
- `conversation(...)` reads one answered call: booked (the outcome, or the `booked` output),
  the stage reached (`quality.stage_reached`; a booked call reached `booking`), the quality
  score and the objections (`objections.objections[]`: objection, answer, resolved) — or,
  for a call without structured outputs, the caller turns of its transcript that match
  CATEGORIES with the agent's next turn as the answer;
- every word a caller or agent said passes through `redact` before it is in a document;
- `build_documents(calls)` is deterministic (no clock, sorted ties), so the same calls give
  the same bytes and the database keeps a new version only when the content changed;
- `training_documents(repo, now, timezone, window_days)` reads the answered calls that
  ended in the window (None: all of them) and builds both documents;
- `training_inputs(...)` (same arguments) keys what it would read without reading it: the
  same key, the same documents.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from app.db.agents import AgentRepository
from app.scoring import redact as redaction
from app.scoring.redact import redact

OBJECTIONS_DOC = "objection_responses.md"
PLAYBOOK_DOC = "call_handling_playbook.md"
STAGES = ("greeting", "qualification", "offer", "booking")
TOP_ANSWERS = 8
WINDOW_DAYS = 90  # the growth job's builds: the calls of the last 90 days
MAX_CALLS = 5_000
CATEGORIES: dict[str, re.Pattern[str]] = {
    "price": re.compile(r"\b(price|cost|expensive|afford|how much|fee|cheaper)\b", re.I),
    "insurance": re.compile(r"\b(insurance|in[- ]network|covered|coverage|warranty|do you "
                            r"(still )?(take|accept))\b", re.I),
    "timing": re.compile(r"\b(busy|bad time|call (me )?back|later|next (week|month)|no time|"
                         r"timing)\b", re.I),
    "not_interested": re.compile(r"\b(not interested|no thanks|don'?t need|stop calling)\b", re.I),
    "think_about_it": re.compile(r"\b(think about|not sure|ask my|talk to my|let me check|"
                                 r"spouse|wife|husband)\b", re.I),
    "competitor": re.compile(r"\b(already (have|use|go)|another (company|provider|contractor)|"
                             r"other quotes?|my guy)\b", re.I),
    "trust": re.compile(r"\b(who is this|how did you get|is this a scam|what'?s this about)\b",
                        re.I),
}  # fmt: skip
_LINE = re.compile(r"^\s*(AI|User|Assistant|Bot|Customer)\s*:\s*(.*)$", re.I)


@dataclass(frozen=True)
class Exchange:
    category: str
    objection: str  # redacted
    answer: str  # redacted
    resolved: bool | None


@dataclass(frozen=True)
class Conversation:
    call_id: int
    booked: bool
    hour: int
    duration_seconds: float | None
    stage: str | None  # the stage reached; None when nothing says
    quality: int | None  # 1-10 (the `quality` output)
    objections: tuple[Exchange, ...]


def turns(transcript: str) -> list[dict[str, str]]:
    """Vapi's `AI: ...` / `User: ...` transcript as [{role: assistant|user, text}]."""
    out = []
    for line in transcript.splitlines():
        match = _LINE.match(line)
        if match and match.group(2).strip():
            role = "user" if match.group(1).lower() in ("user", "customer") else "assistant"
            out.append({"role": role, "text": match.group(2).strip()})
    return out


def category(objection: str) -> str:
    return next((k for k, rx in CATEGORIES.items() if rx.search(objection)), "other")


def transcript_objections(call_turns: list[dict[str, str]]) -> list[tuple[str, str, str]]:
    """(category, caller turn, agent's next turn) for each caller turn matching CATEGORIES."""
    found = []
    for i, turn in enumerate(call_turns):
        if turn["role"] != "user":
            continue
        kind = category(turn["text"])
        reply = next((t for t in call_turns[i + 1 :] if t["role"] == "assistant"), None)
        if kind != "other" and reply:
            found.append((kind, turn["text"], reply["text"]))
    return found


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _exchanges(outputs: Mapping[str, Any], transcript: str | None) -> tuple[Exchange, ...]:
    listed = _obj(outputs.get("objections")).get("objections")
    if isinstance(listed, list):
        return tuple(
            Exchange(category(str(o.get("objection") or "")), redact(str(o["objection"])),
                     redact(str(o.get("answer") or "")),
                     o.get("resolved") if isinstance(o.get("resolved"), bool) else None)
            for o in map(_obj, listed) if o.get("objection")
        )  # fmt: skip
    return tuple(
        Exchange(kind, redact(said), redact(answer), None)
        for kind, said, answer in transcript_objections(turns(transcript or ""))
    )


def conversation(
    call_id: int, outcome: str, hour: int, duration_seconds: float | None,
    transcript: str | None, analysis: Mapping[str, Any],
) -> Conversation:  # fmt: skip
    """One answered call as the documents read it (see the module contract)."""
    outputs = _obj(analysis.get("structuredOutputs"))
    booked = outcome == "booked" or _obj(outputs.get("booked")).get("booked") is True
    quality = _obj(outputs.get("quality"))
    stage = quality.get("stage_reached") if quality.get("stage_reached") in STAGES else None
    score = quality.get("score")
    return Conversation(
        call_id, booked, hour, duration_seconds, "booking" if booked else stage,
        score if isinstance(score, int) and not isinstance(score, bool) else None,
        _exchanges(outputs, transcript),
    )  # fmt: skip


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().rstrip(".!").lower()


def _answers(items: list[tuple[Exchange, bool]]) -> list[str]:
    """The answers to one objection, ranked by the booking rate of their calls, then count."""
    stats: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    wording: dict[str, str] = {}
    for exchange, booked in items:
        key = _normal(exchange.answer)
        wording.setdefault(key, exchange.answer)
        stats[key][0] += 1
        stats[key][1] += booked
    ranked = sorted(stats.items(), key=lambda kv: (-kv[1][1] / kv[1][0], -kv[1][0], kv[0]))
    rows = ["| booked | calls | booking rate | answer |", "| --- | --- | --- | --- |"]
    rows += [f'| {b} | {n} | {_pct(b, n)} | "{wording[k]}" |' for k, (n, b) in ranked[:TOP_ANSWERS]]
    return rows


def objections_document(calls: list[Conversation]) -> str:
    by_kind: dict[str, list[tuple[Exchange, bool]]] = defaultdict(list)
    for c in calls:
        for e in c.objections:
            by_kind[e.category].append((e, c.booked))
    lines = [
        "# Objection responses", "",
        f"Built from {len(calls)} answered call(s); "
        f"{sum(1 for c in calls if c.objections)} raised an objection. For each objection, the "
        "answers the agent gave, ranked by how often the call then booked (with counts). "
        "Phone numbers, emails and payment details are redacted.", "",
    ]  # fmt: skip
    for kind in sorted(by_kind, key=lambda k: (-len(by_kind[k]), k)):
        items = by_kind[kind]
        booked = sum(b for _, b in items)
        lines += [f"## {kind.replace('_', ' ')} ({len(items)} heard, {booked} booked: "
                  f"{_pct(booked, len(items))})", ""]  # fmt: skip
        heard = Counter(_normal(e.objection) for e, _ in items).most_common(3)
        lines += ["Heard as: " + "; ".join(f'"{w}" ({n}x)' for w, n in heard), ""]
        lines += [*_answers(items), ""]
    return "\n".join(lines)


def _stage_rows(calls: list[Conversation]) -> list[str]:
    known = [c for c in calls if c.stage]
    rows = ["| stage | reached | ended here without a booking | drop-off |",
            "| --- | --- | --- | --- |"]  # fmt: skip
    for i, stage in enumerate(STAGES):
        reached = sum(1 for c in known if STAGES.index(c.stage or "") >= i)
        ended = sum(1 for c in known if c.stage == stage and not c.booked)
        rows.append(f"| {stage} | {reached} | {ended} | {_pct(ended, reached)} |")
    unknown = len(calls) - len(known)
    return rows + (["", f"{unknown} call(s) did not say which stage they reached."]
                   if unknown else [])  # fmt: skip


def _hour_rows(calls: list[Conversation]) -> list[str]:
    rows = ["| hour | calls | booked | booking rate | ended before the offer |",
            "| --- | --- | --- | --- | --- |"]  # fmt: skip
    for hour in sorted({c.hour for c in calls}):
        at = [c for c in calls if c.hour == hour]
        booked = sum(c.booked for c in at)
        early = sum(1 for c in at if c.stage in ("greeting", "qualification"))
        rows.append(f"| {hour:02d}:00 | {len(at)} | {booked} | {_pct(booked, len(at))} | "
                    f"{_pct(early, len(at))} |")  # fmt: skip
    return rows


def _mean(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def _profile(calls: list[Conversation]) -> list[str]:
    length = _mean(c.duration_seconds for c in calls)
    objections = [e for c in calls for e in c.objections]
    resolved = [e for e in objections if e.resolved is not None]
    quality = _mean(c.quality for c in calls)
    reached = sum(1 for c in calls if c.stage in ("offer", "booking"))
    return [
        str(len(calls)),
        f"{length / 60:.1f} min" if length is not None else "-",
        f"{len(objections) / len(calls):.2f}" if calls else "-",
        _pct(sum(1 for e in resolved if e.resolved), len(resolved)),
        f"{quality:.1f}" if quality is not None else "-",
        _pct(reached, len(calls)),
    ]


def playbook_document(calls: list[Conversation]) -> str:
    booked = [c for c in calls if c.booked]
    others = [c for c in calls if not c.booked]
    lines = [
        "# Call handling playbook", "",
        f"Built from {len(calls)} answered call(s): {len(booked)} booked "
        f"({_pct(len(booked), len(calls))}).", "",
        "## Where calls end", "", *_stage_rows(calls), "",
        "## By hour (business time)", "", *_hour_rows(calls), "",
        "## What booked calls did differently", "",
        "| | booked | not booked |", "| --- | --- | --- |",
    ]  # fmt: skip
    labels = ("calls", "average length", "objections per call", "objections resolved",
              "average quality (1-10)", "reached the offer")  # fmt: skip
    for label, a, b in zip(labels, _profile(booked), _profile(others), strict=True):
        lines.append(f"| {label} | {a} | {b} |")
    return "\n".join(lines) + "\n"


def build_documents(calls: list[Conversation]) -> dict[str, str]:
    """Both documents, by file name (deterministic: see the module contract)."""
    ordered = sorted(calls, key=lambda c: c.call_id)
    return {OBJECTIONS_DOC: objections_document(ordered), PLAYBOOK_DOC: playbook_document(ordered)}


@cache
def builder() -> str:
    """A hash of this builder's code (this module and the redaction): new code may build
    other documents from the same calls, so it is part of `training_inputs`' key. Read once,
    at the first hourly run that needs it (not at import: every process imports this)."""
    return hashlib.sha256(
        Path(__file__).read_bytes() + Path(str(redaction.__file__)).read_bytes()
    ).hexdigest()


def _since(now: datetime, window_days: int | None) -> datetime:
    return now - timedelta(days=window_days) if window_days else datetime(1970, 1, 1, tzinfo=UTC)


async def training_inputs(
    repo: AgentRepository, now: datetime, timezone: str, window_days: int | None = WINDOW_DAYS
) -> tuple[str, str | None]:
    """The key of what `training_documents(repo, now, timezone, window_days)` reads: the
    calls (ids and row versions: any update of a call changes it), the zone and this
    builder's code (`builder()`); and the key the latest build recorded (None: none). The same
    key gives the same documents, so the growth job need not rebuild them."""
    calls, latest = await repo.training_inputs(_since(now, window_days), now, MAX_CALLS)
    key = f"{builder()}|{timezone}|{window_days}|{MAX_CALLS}|{calls}"
    return hashlib.sha256(key.encode()).hexdigest(), latest


async def training_documents(
    repo: AgentRepository, now: datetime, timezone: str, window_days: int | None = WINDOW_DAYS
) -> tuple[dict[str, str], int]:
    """Both documents as of `now`, and how many answered calls they were built from."""
    calls = await repo.training_calls(_since(now, window_days), now, timezone, MAX_CALLS)
    found = [conversation(c.call_id, c.outcome, c.hour, c.duration_seconds, c.transcript,
                          c.analysis) for c in calls]  # fmt: skip
    return build_documents(found), len(calls)
