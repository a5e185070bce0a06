"""A batch planned with what it works out once (each step's window rule, the lead's template
columns, a single variant without a draw, a text without a link) plans every step exactly
as planning each step on its own does: the same outbox items (bodies, keys, send_before)
and the same settled results, a step's own window and a broken one included."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.campaigns import drip
from app.campaigns.definition import CampaignSettings
from app.campaigns.steps import (
    SAMPLE_LEAD,
    Plan,
    choose_variant,
    plan_step,
    template_lead,
)
from app.campaigns.templates import (
    rewrite_text_links,
    track_text_links,
    variables,
)
from app.core.short_links import ShortLink
from app.db.campaigns import ClaimedStep, LeadSnapshot
from app.providers.content import Business
from app.scoring.assign import pick_variant
from tests.conftest import make_settings

NOW = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)  # 15:00 in New York, a Tuesday
SETTINGS = make_settings(
    public_base_url="https://acme.example.com", business_name="Acme HVAC",
    business_postal_address="1 Elm St, Dayton, OH 45402", booking_url="https://acme.test/book",
)  # fmt: skip
CAMPAIGN = {"id": 3, "slug": "tune-up", "definition": {"timezone": "America/New_York"}}
GREETING = "Hi {{ lead.first_name }}, {{ business.name }} here. Reply STOP to opt out."
LINKED = "Book your tune-up, {{ lead.first_name }}: {{ booking_url }} (reply STOP to stop)"
STEPS: list[dict[str, Any]] = [
    {"id": 11, "channel": "sms", "template": {"body": GREETING}, "position": 0},
    {"id": 17, "channel": "sms", "template": {"body": LINKED}, "position": 6},
    # its own window, morning only: every lead of the batch is rescheduled to it
    {"id": 12, "channel": "sms", "template": {"body": LINKED}, "position": 1,
     "window": {"days": ["mon", "tue"], "start": "08:00", "end": "11:00"}},
    {"id": 13, "channel": "email", "position": 2, "template": {
        "subject": "Your tune-up", "html": '<p>Hi {{ lead.first_name }}, <a href="https://acme.test/b">book</a></p>'}},
    {"id": 14, "channel": "sms", "position": 3, "template": {"variants": [
        {"name": "a", "body": "A: hi {{ lead.first_name }}"},
        {"name": "b", "body": "B: hello {{ lead.first_name }}"}]}},
    # a window whose start is after its end: each step of it fails alone
    {"id": 15, "channel": "sms", "template": {"body": GREETING}, "position": 4,
     "window": {"start": "12:00", "end": "09:00"}},
    {"id": 16, "channel": "call", "template": {}, "position": 5},
]  # fmt: skip
LEADS: list[dict[str, Any]] = [
    {"name": "Dana Whitfield", "phone": "+12125550147", "email": "dana@example.com",
     "state": "NY", "timezone": "America/New_York", "attributes": {"first_name": "Dana"}},
    {"name": "Doe, Jane", "phone": "+13105550123", "email": None, "state": "CA",
     "timezone": None, "attributes": {}},
    {"name": None, "phone": "+15125550100", "email": "x@example.com", "state": None,
     "timezone": None, "attributes": {"first_name": "  "}, "sms_opted_out_at": NOW},
]  # fmt: skip


def claimed(n: int, step: dict[str, Any], lead: dict[str, Any]) -> ClaimedStep:
    return ClaimedStep.model_validate({
        "enrollment_id": 100 + n, "position": step["position"], "campaign": CAMPAIGN,
        "step": step, "lead": {"id": 500 + n, "status": "new", **lead},
        "recent_attempts": [NOW - timedelta(hours=1)] if n % 4 == 0 else [],
    })  # fmt: skip


def batch() -> list[ClaimedStep]:
    return [
        claimed(n, step, lead)
        for n, (step, lead) in enumerate((s, lead) for s in STEPS for lead in LEADS * 2)
    ]


PROVIDERS = {"email": "resend", "sms": "twilio", "call": "vapi"}


def plan_each(steps: list[ClaimedStep], rules: dict[int, Any] | None) -> list[Plan]:
    campaigns = drip._campaign_settings(steps)
    used: dict[tuple[int, str], int] = {}
    return [drip._safe_plan(s, campaigns, NOW, SETTINGS, used, PROVIDERS, rules) for s in steps]


def test_a_batch_plans_every_step_as_one_at_a_time() -> None:
    steps = batch()
    rules: dict[int, Any] = {}
    batched, alone = plan_each(steps, rules), plan_each(steps, None)
    assert batched == alone
    # what the batch covered: texts, an email, a call, reschedules, the broken window
    items = [p.item for p in batched if p.item]
    assert {i["channel"] for i in items} == {"sms", "email", "call"}
    assert any(i["payload"].get("links") for i in items)
    assert any(p.result and p.result.reason == "error:ValidationError" for p in batched)
    assert any(p.result and p.result.action == "reschedule" and p.result.at for p in batched)
    assert 15 not in rules and {11, 12} <= set(rules)  # a broken window made no rule


def test_plan_step_without_the_batch_rules_is_the_same_plan() -> None:
    settings = CampaignSettings.stored(CAMPAIGN["definition"])
    for step in batch()[:12]:
        kept: dict[int, Any] = {}
        assert plan_step(step, settings, NOW, SETTINGS, {}, PROVIDERS, kept) == plan_step(
            step, settings, NOW, SETTINGS, {}, PROVIDERS
        )


@pytest.mark.parametrize(
    "template",
    [
        {"body": GREETING},
        {"variants": [{"name": "solo", "body": GREETING}]},
        {"variants": [{"name": "solo", "body": GREETING}], "ab": {"winner": "solo"}},
        {"variants": [{"name": "a", "body": "A"}, {"name": "b", "body": "B"}]},
        {"variants": [{"name": "a", "body": "A"}, {"name": "b", "body": "B"}],
         "ab": {"weights": {"a": 0.2, "b": 0.8}}},
    ],
    ids=["no variants", "one variant", "one variant, a winner", "two", "two, weighted"],
)  # fmt: skip
def test_the_variant_is_the_one_the_draw_gives(template: dict[str, Any]) -> None:
    for lead in range(40):
        step = claimed(lead, {"id": 21, "channel": "sms", "template": template, "position": 0},
                       LEADS[lead % 3])  # fmt: skip
        variants = template.get("variants") or [
            {"name": "a", **{k: template.get(k) for k in ("subject", "html", "body")}}
        ]
        digest = hashlib.sha256(f"{step.lead.id}:{step.step.id}".encode()).digest()
        assert choose_variant(step) == pick_variant(variants, template.get("ab"), digest)


def test_the_template_columns_are_the_dumped_leads() -> None:
    for n, lead in enumerate(LEADS):
        snapshot = LeadSnapshot.model_validate({"id": n, "status": "new", **lead})
        dumped = snapshot.model_dump()
        columns = template_lead(snapshot)
        assert list(columns) == list(SAMPLE_LEAD)
        assert columns == {key: dumped.get(key) for key in SAMPLE_LEAD}
        business = Business("Acme HVAC", "1 Elm St")
        assert variables(
            template_lead(snapshot), business, "https://b.test", "https://u.test"
        ) == variables(dumped, business, "https://b.test", "https://u.test")


@pytest.mark.parametrize(
    "text",
    ["Hi Dana, reply STOP to opt out.", "Book: https://acme.test/b?x=1. Or HTTP://ACME.TEST!",
     "no scheme acme.test/b", "ftp://acme.test/file and https://acme.test/b"],
)  # fmt: skip
def test_a_text_without_a_link_is_left_as_the_rewrite_leaves_it(text: str) -> None:
    here = ShortLink("drip", (7, 0))
    tracked = track_text_links(text, SETTINGS, here)
    rewritten = rewrite_text_links(text, lambda url, i: f"<{i}>")
    assert (tracked[0] == text) == (rewritten[0] == text)
    assert tracked[1] == rewritten[1]
