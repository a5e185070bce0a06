"""The independent audit of what the simulated providers actually received.

Contract: `audit(world)` reads only `World.sent` (every accepted send, in order) and
`World.opt_outs` (when each revocation / hard bounce was accepted by the webhook endpoint,
per address and channel its words cover: app/simulate/wording.py), plus the leads' true
facts (their consents) and the example campaigns' windows; it never asks nightshift what it
did. For each send to a simulated lead it counts:
- `after_opt_out`: a contact after a revocation of any wording that covers its channel (a
  text after "stop it 🙏", a call after "please don't call me again" said on a call, an
  email after "take me off your list"), an email after that address's hard bounce;
- `ai_call_without_consent`: a call to a lead with no `ai_voice` consent;
  `text_without_consent`: a campaign or rescue text to a lead with no `sms` consent
  (appointment texts are transactional);
- `outside_step_window`: a campaign step (outbox key `drip:<enrollment>:<position>`) sent
  outside its step's own window, else its campaign's, in the lead's timezone;
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
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from app.campaigns.definition import load_campaign_yaml
from app.compliance.gate import LeadFacts, evaluate
from app.compliance.rules import HoursRule
from app.simulate.population import SimLead
from app.simulate.providers import Sent, World

DAY = timedelta(hours=24)
MAX_EXAMPLES = 5
TRANSACTIONAL = "appt:"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# The campaigns app.simulate.engine loads (its CAMPAIGNS; tests/simulate checks they agree).
CAMPAIGNS = ("speed-to-lead.yaml", "hvac-tune-up-recall.yaml")
Windows = dict[tuple[int, str], list[HoursRule]]


def step_windows(names: tuple[str, ...] = CAMPAIGNS) -> Windows:
    """(step position, channel) → the windows of the campaign steps at that position on that
    channel: the step's own, else its campaign's (app.campaigns.steps._window)."""
    out: Windows = defaultdict(list)
    for name in names:
        campaign = load_campaign_yaml((EXAMPLES / name).read_text(encoding="utf-8"))
        for position, step in enumerate(campaign.steps):
            out[(position, step.channel)].append((step.window or campaign.window).rule())
    return dict(out)


@dataclass
class Audit:
    outside_hours: int = 0
    after_opt_out: int = 0
    over_state_cap: int = 0
    ai_call_without_consent: int = 0
    text_without_consent: int = 0
    outside_step_window: int = 0
    duplicate_keys: int = 0
    duplicate_rows: int = 0
    revocations: dict[str, int] = field(default_factory=dict)  # by scope, as said
    examples: list[str] = field(default_factory=list)

    @property
    def violations(self) -> int:
        return (self.outside_hours + self.after_opt_out + self.over_state_cap
                + self.ai_call_without_consent + self.text_without_consent
                + self.outside_step_window)  # fmt: skip

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


def _check_consent(result: Audit, sent: Sent, lead: SimLead) -> None:
    if sent.channel == "call" and "ai_voice" not in lead.consents:
        result.ai_call_without_consent += 1
        result.note("AI call without consent", sent)
    elif sent.channel == "sms" and sales(sent) and "sms" not in lead.consents:
        result.text_without_consent += 1
        result.note("text without consent", sent)


def _check_window(result: Audit, sent: Sent, lead: SimLead, windows: Windows) -> None:
    parts = sent.key.split("#")[0].split(":")
    if parts[0] != "drip" or len(parts) != 3 or not parts[2].isdigit():
        return
    rules = windows.get((int(parts[2]), sent.channel))
    local = sent.at.astimezone(ZoneInfo(lead.region.timezone))
    if rules and not any(rule.allows(local) for rule in rules):
        result.outside_step_window += 1
        result.note("outside the step's window", sent)


def audit(world: World, windows: Windows | None = None) -> Audit:
    """The audit of `world.sent` (see the module contract); `windows`: the campaigns'
    (default: the example campaigns the simulator loads)."""
    result = Audit(revocations=dict(world.revocations))
    result.duplicate_keys, result.duplicate_rows = duplicates(world.sent)
    windows = step_windows() if windows is None else windows
    attempts: dict[str, list[datetime]] = defaultdict(list)
    for sent in world.sent:
        lead = world.by_address.get(sent.to)
        if lead is None:  # the operator or on-call: not a lead, no lead rules
            continue
        opted = world.opt_outs.get((sent.to, sent.channel))
        if opted is not None and opted < sent.seq:
            result.after_opt_out += 1
            result.note("after opt-out", sent)
        _check_consent(result, sent, lead)
        _check_window(result, sent, lead, windows)
        if sent.channel != "email":
            _check_phone(result, sent, lead, attempts[lead.phone])
            if sales(sent):
                attempts[lead.phone].append(sent.at)
    return result
