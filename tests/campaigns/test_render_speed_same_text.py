"""The render's speed-ups keep every text byte for byte: the flattened Jinja globals and the
greeting fallback's quick probe give what Jinja with its ChainMap and the full regex give."""

from __future__ import annotations

import pytest
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from app.campaigns.steps import template_lead
from app.campaigns.templates import (
    _EMPTY_GREETING,
    GREETING_FALLBACK,
    TemplateProblem,
    render,
    variables,
)
from app.db.campaigns import LeadSnapshot
from app.providers.content import Business

BUSINESS = Business("Acme HVAC", "1 Elm St, Dayton, OH 45402")
TEMPLATES = [
    "Hi {{ lead.first_name }}, {{ business.name }} here. Reply STOP to opt out.",
    "Hi {{ lead.name }}, still there? Book: {{ booking_url }}",
    "Hello\t{{ lead.company }}! Your quote is ready.",
    "Hey {{ lead.company }} , quick question",
    "Dear {{ lead.company }}!",
    "hola {{ lead.company }},¿qué tal?",
    "Hi! {{ lead.company }}",
    "Price: $99 , or $89 ! {{ lead.company }}",
    "{% for n in range(3) %}{{ n }}{% endfor %} {{ lead.first_name | upper }}",
    "{{ lipsum(1, html=False) | length > 0 }} {{ dict(a=1) }}",
]
LEADS = [
    {"name": "Dana Whitfield", "company": "Whitfield Dental", "attributes": {}},
    {"name": None, "company": None, "attributes": {}},
    {"name": "", "company": "", "attributes": {"first_name": "  "}},
]


def reference(source: str, values: dict[str, object]) -> str:
    """The render before the speed-ups: a fresh environment (its globals a ChainMap) and
    the greeting regex run on every text."""
    env = SandboxedEnvironment(
        undefined=StrictUndefined, finalize=lambda v: "" if v is None else v, autoescape=False
    )
    text = env.from_string(source).render(values)
    return _EMPTY_GREETING.sub(rf"\1 {GREETING_FALLBACK}\2", text)


@pytest.mark.parametrize("source", TEMPLATES)
def test_every_text_is_what_the_plain_render_gives(source: str) -> None:
    for lead in LEADS:
        values = variables(lead, BUSINESS, "https://acme.test/book", "")
        assert render(source, values) == reference(source, values)


def test_a_greeting_left_without_its_name_still_greets() -> None:
    values = variables(LEADS[1], BUSINESS, "https://acme.test/book", "")
    assert render("Hi {{ lead.company }}, hello", values) == "Hi there, hello"
    assert render("Hello\t{{ lead.company }}!", values) == "Hello there!"


def test_the_sandbox_and_strict_variables_still_hold() -> None:
    values = variables(LEADS[0], BUSINESS, "https://acme.test/book", "")
    with pytest.raises(TemplateProblem):
        render("{{ lead.__class__ }}", values)
    with pytest.raises(TemplateProblem):
        render("{{ leed.first_name }}", values)


def test_the_template_lead_is_the_dumped_lead_the_templates_read() -> None:
    lead = LeadSnapshot(
        id=41, name="Dana Whitfield", phone="+15558675310", email="dana@whitfield.test",
        company="Whitfield Dental", industry="dental", state="OH", timezone="America/New_York",
        source="web_form", status="new", attributes={"first_name": "Dana", "tags": {"vip": 1}},
        consents=[],
    )  # fmt: skip
    for source in TEMPLATES:
        dumped = variables(lead.model_dump(), BUSINESS, "https://acme.test/book", "")
        cheap = variables(template_lead(lead), BUSINESS, "https://acme.test/book", "")
        assert cheap == dumped
        assert render(source, cheap) == render(source, dumped)
