"""The simulator's audit counts what a lawyer would: a contact after a revocation in any
wording on a channel the words cover, an AI call or a campaign text without consent, a step
sent outside its own window. Each case is a send the audit must catch (and its look-alike it
must not), so a 0 in the simulator's report means something."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from app.consent.revocation import classify
from app.core.clock import ManualClock
from app.simulate import engine
from app.simulate.audit import CAMPAIGNS, audit
from app.simulate.events import EventQueue
from app.simulate.population import REGIONS, SimLead, consent_for
from app.simulate.providers import World
from app.simulate.wording import text_revocation, voice_revocation

# Tuesday 2026-12-01, 15:00 UTC = 10:00 in New York
TUESDAY_10 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


def _lead(index: int, consents: frozenset[str] | None = None) -> SimLead:
    lead = SimLead(index=index, name=f"Sim{index} Lead", phone=f"+1212200{index:04d}",
                   email=f"lead{index}@sim.example.com", region=REGIONS[0], industry="hvac",
                   source="web", base_answer=0.5, book_rate=0.1, click_rate=0.1,
                   reply_rate=0.1, stop_rate=0.02, bounces=False)  # fmt: skip
    if consents is None:
        return lead
    return SimLead(**{**lead.__dict__, "consents": consents})


def _world(*leads: SimLead) -> World:
    clock = ManualClock(TUESDAY_10)
    by_address = {a: lead for lead in leads for a in (lead.phone, lead.email)}
    return World(clock, np.random.default_rng(0), EventQueue(), by_address)


def test_a_contact_after_a_revocation_counts_on_every_channel_its_words_cover() -> None:
    ana = _lead(1)
    world = _world(ana)
    world.record("sms", ana.phone, 1, "drip:1:0")
    world.revoked(ana, "all")  # "take me off your list"
    world.record("call", ana.phone, 2, "drip:1:1")
    world.record("email", ana.email, 3, "drip:1:2")
    found = audit(world)
    assert found.after_opt_out == 2 and found.revocations == {"all": 1}


def test_a_call_after_a_text_stop_is_not_a_violation_but_a_text_is() -> None:
    ana = _lead(1)
    world = _world(ana)
    world.revoked(ana, "sms")  # "stop it 🙏" covers texts
    world.record("call", ana.phone, 1, "drip:1:1")
    assert audit(world).after_opt_out == 0
    world.record("sms", ana.phone, 2, "rescue:1:9")
    assert audit(world).after_opt_out == 1


def test_an_ai_call_or_a_campaign_text_without_consent_counts() -> None:
    bo = _lead(2, consents=frozenset({"email"}))
    world = _world(bo)
    world.record("call", bo.phone, 1, "drip:2:1")
    world.record("sms", bo.phone, 2, "drip:2:0")
    world.record("sms", bo.phone, 3, "appt:7:reminder")  # transactional: no consent needed
    found = audit(world)
    assert (found.ai_call_without_consent, found.text_without_consent) == (1, 1)
    assert found.violations == 2


def test_a_step_outside_its_own_window_counts() -> None:
    ana = _lead(1)
    world = _world(ana)
    # hvac-tune-up-recall's call step (position 2) is Mon-Fri 10:00-18:00; at 09:30 on a
    # Tuesday only the campaign's own window (and the law) would allow it
    world.clock.set(datetime(2026, 12, 1, 14, 30, tzinfo=UTC))  # type: ignore[attr-defined]
    world.record("call", ana.phone, 1, "drip:1:2#2")
    world.clock.set(TUESDAY_10)  # type: ignore[attr-defined]
    world.record("call", ana.phone, 2, "drip:1:2")
    found = audit(world)
    assert found.outside_step_window == 1 and "outside the step's window" in found.examples[0]


def test_the_audit_reads_the_campaigns_the_simulator_loads() -> None:
    assert CAMPAIGNS == engine.CAMPAIGNS


def test_most_simulated_leads_consent_and_a_few_do_not() -> None:
    kinds = [consent_for(i) for i in range(1000)]
    assert sum("ai_voice" in k and "sms" in k for k in kinds) == 880
    assert sum(not k for k in kinds) == 40


def test_generated_revocations_are_varied_and_read_as_revocations() -> None:
    rng = np.random.default_rng(7)
    texts = [text_revocation(rng) for _ in range(2000)]
    assert len({t.text for t in texts}) > 600  # not a handful of fixed strings
    assert any("🙏" in t.text for t in texts) and any("\u2019" in t.text for t in texts)
    assert any("más" in t.text or "déjenme" in t.text.lower() for t in texts)
    assert [t.text for t in texts if classify(t.text, "sms").kind != "opt_out"] == []
    spoken = [voice_revocation(rng) for _ in range(200)]
    assert [s.text for s in spoken if classify(s.text, "call").kind != "opt_out"] == []
