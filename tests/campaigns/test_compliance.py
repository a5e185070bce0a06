# ruff: noqa: E501  (the case table reads best one case per line)
"""The compliance gate, table-driven: timezones, states, DST days, split and multi-zone
area codes, unknown timezones, the FL 3-per-24h cap, opt-outs and campaign windows."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.compliance.gate import Channel, LeadFacts, evaluate, next_permitted
from app.compliance.rules import FEDERAL, HoursRule
from app.core.phone import Phone

NY, CHI, LA = (
    ZoneInfo("America/New_York"),
    ZoneInfo("America/Chicago"),
    ZoneInfo("America/Los_Angeles"),
)


def local(tz: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=tz).astimezone(UTC)  # type: ignore[misc]


# (case, channel, lead, instant, allowed, reason)
CASES = [
    ("federal: 08:00 NY is in", "sms", LeadFacts(phone="+12125550100"), local(NY, 2026, 11, 24, 8, 0), True, "ok"),
    ("federal: 07:59 NY is out", "sms", LeadFacts(phone="+12125550100"), local(NY, 2026, 11, 24, 7, 59), False, "outside_permitted_hours"),
    ("federal: 20:59 NY is in", "call", LeadFacts(phone="+12125550100"), local(NY, 2026, 11, 24, 20, 59), True, "ok"),
    ("federal: 21:00 NY is out", "call", LeadFacts(phone="+12125550100"), local(NY, 2026, 11, 24, 21, 0), False, "outside_permitted_hours"),
    ("lead timezone wins over the number", "sms", LeadFacts(phone="+12125550100", timezone="America/Los_Angeles"), local(NY, 2026, 11, 24, 9, 0), False, "outside_permitted_hours"),
    ("FL ends at 20:00", "sms", LeadFacts(phone="+13055550100", state="FL"), local(NY, 2026, 11, 24, 20, 0), False, "outside_permitted_hours"),
    ("FL by area code alone (305)", "call", LeadFacts(phone="+13055550100"), local(NY, 2026, 11, 24, 20, 30), False, "outside_permitted_hours"),
    ("NY 20:30 is fine", "call", LeadFacts(phone="+12125550100"), local(NY, 2026, 11, 24, 20, 30), True, "ok"),
    ("CT starts at 09:00", "sms", LeadFacts(phone="+12035550100", state="CT"), local(NY, 2026, 11, 24, 8, 30), False, "outside_permitted_hours"),
    ("WA ends at 20:00", "call", LeadFacts(phone="+12065550100", state="WA"), local(LA, 2026, 11, 24, 20, 15), False, "outside_permitted_hours"),
    ("TX weekday 09:00 in", "call", LeadFacts(phone="+15125550100", state="TX"), local(CHI, 2026, 11, 24, 9, 0), True, "ok"),
    ("TX Sunday 11:00 out", "call", LeadFacts(phone="+15125550100", state="TX"), local(CHI, 2026, 11, 29, 11, 0), False, "outside_permitted_hours"),
    ("TX Sunday 12:00 in", "call", LeadFacts(phone="+15125550100", state="TX"), local(CHI, 2026, 11, 29, 12, 0), True, "ok"),
    ("moved lead: state TX, NY number, 08:30 NY", "sms", LeadFacts(phone="+12125550100", state="TX"), local(NY, 2026, 11, 24, 8, 30), False, "outside_permitted_hours"),
    ("850-434 Pensacola is Central", "sms", LeadFacts(phone="+18504341234"), local(CHI, 2026, 11, 24, 8, 0), True, "ok"),
    ("850-555 unlisted: Eastern AND Central", "sms", LeadFacts(phone="+18505550123"), local(NY, 2026, 11, 24, 8, 30), False, "outside_permitted_hours"),
    ("605 multi-zone: Denver 08:00 is Central 09:00 but SD starts 09:00", "call", LeadFacts(phone="+16055550100"), local(ZoneInfo("America/Denver"), 2026, 11, 24, 8, 0), False, "outside_permitted_hours"),
    ("605 multi-zone: Denver 09:00 in", "call", LeadFacts(phone="+16055550100"), local(ZoneInfo("America/Denver"), 2026, 11, 24, 9, 0), True, "ok"),
    ("toll-free number: no zone", "sms", LeadFacts(phone="+18005550100"), local(NY, 2026, 11, 24, 12, 0), False, "unknown_timezone"),
    ("no phone zone, no timezone", "call", LeadFacts(phone="+15555555555"), local(NY, 2026, 11, 24, 12, 0), False, "unknown_timezone"),
    ("email at night is fine without a window", "email", LeadFacts(email="a@b.co"), local(NY, 2026, 11, 24, 3, 0), True, "ok"),
    ("opted out of SMS", "sms", LeadFacts(phone="+12125550100", opted_out=frozenset({"sms"})), local(NY, 2026, 11, 24, 12, 0), False, "opted_out:sms"),
    ("SMS opt-out does not stop email", "email", LeadFacts(email="a@b.co", opted_out=frozenset({"sms"})), local(NY, 2026, 11, 24, 12, 0), True, "ok"),
    # DST: spring forward 2026-03-08 (02:00 -> 03:00), fall back 2026-11-01 (02:00 -> 01:00)
    ("spring-forward day 08:00 EDT in", "sms", LeadFacts(phone="+12125550100"), local(NY, 2026, 3, 8, 8, 0), True, "ok"),
    ("spring-forward day 07:30 EDT out (11:30 UTC)", "sms", LeadFacts(phone="+12125550100"), datetime(2026, 3, 8, 11, 30, tzinfo=UTC), False, "outside_permitted_hours"),
    ("fall-back day 12:30 UTC = 07:30 EST out", "sms", LeadFacts(phone="+12125550100"), datetime(2026, 11, 1, 12, 30, tzinfo=UTC), False, "outside_permitted_hours"),
    ("fall-back day 13:00 UTC = 08:00 EST in", "sms", LeadFacts(phone="+12125550100"), datetime(2026, 11, 1, 13, 0, tzinfo=UTC), True, "ok"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "channel", "lead", "at", "allowed", "reason"), CASES, ids=[c[0] for c in CASES]
)
def test_gate(
    case: str, channel: Channel, lead: LeadFacts, at: datetime, allowed: bool, reason: str
) -> None:
    decision = evaluate(channel, lead, at)
    assert (decision.allowed, decision.reason) == (allowed, reason), case
    if not allowed and reason == "outside_permitted_hours":
        assert decision.next_at is not None and decision.next_at > at
        assert evaluate(channel, lead, decision.next_at).allowed  # rescheduled, never dropped


def test_next_permitted_is_the_next_local_morning() -> None:
    lead = LeadFacts(phone="+13055550100", state="FL")
    decision = evaluate("sms", lead, local(NY, 2026, 11, 24, 20, 0))
    assert decision.next_at == local(NY, 2026, 11, 25, 8, 0)


def test_next_permitted_across_spring_forward() -> None:
    # 21:30 EST on Sat 2026-03-07; the next window opens 08:00 EDT Sunday = 12:00 UTC
    decision = evaluate("call", LeadFacts(phone="+12125550100"), local(NY, 2026, 3, 7, 21, 30))
    assert decision.next_at == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)


def test_multi_zone_reschedule_satisfies_every_zone() -> None:
    lead = LeadFacts(phone="+18505550123")  # Eastern and Central
    decision = evaluate("sms", lead, local(NY, 2026, 11, 24, 7, 0))
    assert decision.next_at == local(CHI, 2026, 11, 24, 8, 0)  # 09:00 Eastern, 08:00 Central
    assert set(decision.zones) == {"America/Chicago", "America/New_York"}


def test_unknown_timezone_is_flagged_for_a_human() -> None:
    decision = evaluate("call", LeadFacts(phone="+18005550100"), local(NY, 2026, 11, 24, 12, 0))
    assert decision.needs_review and decision.next_at is None


def test_florida_three_attempts_per_24h() -> None:
    lead = LeadFacts(phone="+13055550100", state="FL")
    at = local(NY, 2026, 11, 24, 15, 0)
    attempts = [at - timedelta(hours=h) for h in (1, 3, 5)]
    decision = evaluate("call", lead, at, recent_attempts=attempts)
    assert (decision.allowed, decision.reason) == (False, "attempt_cap")
    # the oldest of the three (10:00) leaves the window at 10:00 next day
    assert decision.next_at == local(NY, 2026, 11, 25, 10, 0)
    # two attempts leave room; texts and calls are counted together
    assert evaluate("sms", lead, at, recent_attempts=attempts[:2]).allowed
    # an attempt older than 24 h does not count
    assert evaluate(
        "call", lead, at, recent_attempts=[*attempts[:2], at - timedelta(hours=25)]
    ).allowed


def test_no_cap_in_new_york() -> None:
    at = local(NY, 2026, 11, 24, 15, 0)
    attempts = [at - timedelta(minutes=m) for m in (10, 20, 30, 40)]
    assert evaluate("call", LeadFacts(phone="+12125550100"), at, recent_attempts=attempts).allowed


def test_campaign_window_on_top_of_the_law() -> None:
    weekdays_10_to_16 = HoursRule(time(10), time(16), days=frozenset(range(5)))
    lead = LeadFacts(phone="+12125550100", email="a@b.co")
    saturday = local(NY, 2026, 11, 28, 12, 0)
    decision = evaluate("email", lead, saturday, window=weekdays_10_to_16)
    assert not decision.allowed and decision.next_at == local(NY, 2026, 11, 30, 10, 0)
    assert evaluate(
        "sms", lead, local(NY, 2026, 11, 24, 9, 0), window=weekdays_10_to_16
    ).next_at == local(NY, 2026, 11, 24, 10, 0)


def test_split_area_code_facts() -> None:
    assert Phone("+18504341234").zones == ("America/Chicago",)
    assert set(Phone("+18505550123").zones) == {"America/Chicago", "America/New_York"}
    assert Phone("+18504341234").state == "FL"
    assert Phone("+18005550100").zones == ()


def test_next_permitted_none_when_never() -> None:
    never = HoursRule(time(10), time(11), days=frozenset())
    assert (
        next_permitted(datetime(2026, 1, 1, tzinfo=UTC), ["America/New_York"], [FEDERAL, never])
        is None
    )
