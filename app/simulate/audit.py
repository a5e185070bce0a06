"""The independent audit of what the simulated providers actually received.

Contract: `audit(world)` reads only `World.sent` (every accepted send, in order) and
`World.opt_outs` (when each STOP / hard bounce was accepted by the webhook endpoint), plus
the leads' true facts; it never asks nightshift what it did. For each send to a simulated
lead it counts:
- `after_opt_out`: an SMS after that number's STOP, an email after that address's hard bounce;
- `outside_hours`: a text or call the compliance rules (federal ∩ state, no campaign window)
  refuse at that instant in the lead's timezone (`app.compliance.gate.evaluate`);
- `over_state_cap`: a sales text or call beyond a state's rolling 24 h attempt cap (FL/OK/MD
  style), counting this lead's earlier sales texts and calls as the attempts. Appointment
  texts (outbox keys `appt:...`: confirmation, reminders, no-show) are transactional, not
  solicitation: they must respect the hours but neither count toward nor hit the cap;
and over all sends: `duplicate_keys` (a second send under one outbox idempotency key, i.e.
the same enrollment and step) and `duplicate_rows` (a second send of one outbox row).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from app.compliance.gate import LeadFacts, evaluate
from app.simulate.population import SimLead
from app.simulate.providers import Sent, World

DAY = timedelta(hours=24)
MAX_EXAMPLES = 5
TRANSACTIONAL = "appt:"


@dataclass
class Audit:
    outside_hours: int = 0
    after_opt_out: int = 0
    over_state_cap: int = 0
    duplicate_keys: int = 0
    duplicate_rows: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def violations(self) -> int:
        return self.outside_hours + self.after_opt_out + self.over_state_cap

    def note(self, what: str, sent: Sent) -> None:
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(f"{what}: {sent.channel} to {sent.to} at {sent.at.isoformat()}")


def _extra(counter: Counter[tuple[str, str]]) -> int:
    return sum(n - 1 for n in counter.values() if n > 1)


def duplicates(sent: list[Sent]) -> tuple[int, int]:
    """(extra sends per idempotency key, extra sends per outbox row); calls and messages
    are separate outbox tables, so each is keyed by its kind."""
    kind = {"email": "message", "sms": "message", "call": "call"}
    keys = Counter((kind[s.channel], s.key) for s in sent)
    rows = Counter((kind[s.channel], str(s.outbox_id)) for s in sent)
    return _extra(keys), _extra(rows)


def sales(sent: Sent) -> bool:
    """A solicitation (campaign step, rescue text, call), not an appointment message."""
    return not sent.key.startswith(TRANSACTIONAL)


def _check_phone(result: Audit, sent: Sent, lead: SimLead, attempts: list[datetime]) -> None:
    channel: Literal["sms", "call"] = "sms" if sent.channel == "sms" else "call"
    facts = LeadFacts(phone=lead.phone, state=lead.region.state, timezone=lead.region.timezone)
    recent = [a for a in attempts if sent.at - DAY < a <= sent.at] if sales(sent) else []
    decision = evaluate(channel, facts, sent.at, recent_attempts=recent)
    if decision.reason == "attempt_cap":
        result.over_state_cap += 1
        result.note("over state cap", sent)
    elif not decision.allowed:
        result.outside_hours += 1
        result.note(decision.reason, sent)


def audit(world: World) -> Audit:
    """The audit of `world.sent` (see the module contract)."""
    result = Audit()
    result.duplicate_keys, result.duplicate_rows = duplicates(world.sent)
    attempts: dict[str, list[datetime]] = defaultdict(list)
    for sent in world.sent:
        lead = world.by_address.get(sent.to)
        if lead is None:  # the operator or on-call: not a lead, no lead rules
            continue
        channel = "email" if sent.channel == "email" else "sms"
        opted = world.opt_outs.get((sent.to, channel))
        if sent.channel != "call" and opted is not None and opted < sent.seq:
            result.after_opt_out += 1
            result.note("after opt-out", sent)
        if sent.channel != "email":
            _check_phone(result, sent, lead, attempts[lead.phone])
            if sales(sent):
                attempts[lead.phone].append(sent.at)
    return result
