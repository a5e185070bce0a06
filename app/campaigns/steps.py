"""Planning one claimed drip step: the compliance gate, caps, rendering → an outbox item or a
settled result. Pure (no I/O), so the drip loop can plan a whole batch before one write."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.campaigns.definition import CampaignSettings, Window
from app.campaigns.templates import (
    SAMPLE_LEAD,
    render,
    rewrite_links,
    track_text_links,
    variables,
)
from app.compliance.gate import Channel, Decision, LeadFacts, evaluate
from app.compliance.rules import HoursRule
from app.core.call_variables import call_variables
from app.core.settings import Settings
from app.core.short_links import ShortLink
from app.core.tokens import (
    ClickToken,
    ReplyToken,
    UnsubscribeToken,
    click_url,
    reply_address,
    unsubscribe_url,
)
from app.db.campaigns import Action, ClaimedStep, LeadSnapshot, StepResult
from app.providers.content import Business
from app.scoring.assign import pick_variant

OPT_OUT_COLUMNS = {
    "email": "email_opted_out_at",
    "sms": "sms_opted_out_at",
    "call": "calls_opted_out_at",
}


@dataclass(frozen=True)
class Plan:
    """Either an outbox `item` to write and send, or a `result` settling the step now."""

    step: ClaimedStep
    item: dict[str, Any] | None = None
    result: StepResult | None = None


TEXTS = "texts"  # the `used` key of a lead's texts in this batch (see plan_step)


def lead_facts(lead: LeadSnapshot) -> LeadFacts:
    if lead.email_opted_out_at or lead.sms_opted_out_at or lead.calls_opted_out_at:
        opted = frozenset(ch for ch, column in OPT_OUT_COLUMNS.items() if getattr(lead, column))
    else:  # most leads: no opt-out, and no generator to run for it
        opted = _NOT_OPTED
    return LeadFacts(lead.phone, lead.email, lead.state, lead.timezone, opted)


_NOT_OPTED: frozenset[str] = frozenset()


def outbox_key(step: ClaimedStep) -> str:
    """One outbox row per enrollment and step: a re-run finds it instead of sending again."""
    return f"drip:{step.enrollment_id}:{step.position}"


def choose_variant(step: ClaimedStep) -> dict[str, Any]:
    """A/B: stable per lead and step (the same lead always gets the same variant); the
    recorded winner, else weighted by growth's Thompson sampling (app.scoring.assign)."""
    template = step.step.template
    variants = template.get("variants") or [
        {"name": "a", **{k: template.get(k) for k in ("subject", "html", "body")}}
    ]
    if len(variants) == 1:  # every draw of pick_variant from one variant gives it: no hash
        return variants[0]  # type: ignore[no-any-return]
    digest = hashlib.sha256(f"{step.lead.id}:{step.step.id}".encode()).digest()
    return pick_variant(variants, template.get("ab"), digest)


def _window(step: ClaimedStep, campaign: CampaignSettings) -> Window:
    """The step's own window (the owner's choice for it), else the campaign's."""
    return Window.model_validate(step.step.window) if step.step.window else campaign.window


def window_rule(
    step: ClaimedStep, campaign: CampaignSettings, rules: dict[int, HoursRule] | None = None
) -> HoursRule:
    """The step's permitted hours (`_window`'s rule); `rules`: the rules already made in
    this batch, by step id (a step's window and campaign are the same in every claim of
    it), so a step's window is validated and its rule built once per batch, not per lead."""
    if rules is None:
        return _window(step, campaign).rule()
    rule = rules.get(step.step.id)
    if rule is None:
        rule = rules[step.step.id] = _window(step, campaign).rule()
    return rule


def _next_day(now: datetime, tz: str) -> datetime:
    local = now.astimezone(ZoneInfo(tz))
    return datetime.combine(
        local.date() + timedelta(days=1), datetime.min.time(), tzinfo=local.tzinfo
    )


def gate(
    step: ClaimedStep,
    campaign: CampaignSettings,
    now: datetime,
    texts_in_batch: int = 0,
    rules: dict[int, HoursRule] | None = None,
) -> Decision:
    """The compliance gate for this step; `texts_in_batch`: texts to the same lead planned
    earlier in this batch (not in the claim's recent attempts: they are not written yet);
    `rules`: the batch's window rules (`window_rule`)."""
    channel: Channel = step.step.channel
    return evaluate(
        channel, lead_facts(step.lead), now, window=window_rule(step, campaign, rules),
        recent_attempts=[*step.recent_attempts, *([now] * texts_in_batch)],
        default_tz=campaign.timezone,
    )  # fmt: skip


def step_result(
    step: ClaimedStep, action: Action, reason: str | None, at: datetime | None = None
) -> StepResult:
    return StepResult(enrollment_id=step.enrollment_id, action=action, reason=reason, at=at)


def settle(step: ClaimedStep, action: Action, reason: str, at: datetime | None = None) -> Plan:
    """A plan that settles the step without sending."""
    return Plan(step, result=step_result(step, action, reason, at))


def plan_step(
    step: ClaimedStep,
    campaign: CampaignSettings,
    now: datetime,
    settings: Settings,
    used: dict[tuple[int, str], int],
    providers: dict[str, str],
    rules: dict[int, HoursRule] | None = None,
) -> Plan:
    """Gate, caps and rendering for one step (see Plan). `used` counts this batch's sends:
    per (campaign id, channel) for the daily caps, and per (lead id, TEXTS) for the state
    attempt caps (two campaigns can each have a text due to one lead in one batch; the
    second must see the first: 15 over-cap texts in a 10,000-lead, 30-day simulation).
    `rules`: the batch's window rules by step id (`window_rule`), filled as it goes."""
    channel = step.step.channel
    address = step.lead.email if channel == "email" else step.lead.phone
    if not address:
        return settle(step, "advance", f"no_{'email' if channel == 'email' else 'phone'}")
    texts = (step.lead.id, TEXTS)
    decision = gate(step, campaign, now, used.get(texts, 0), rules)
    if not decision.allowed:
        if decision.needs_review:
            return settle(step, "review", decision.reason)
        if decision.next_at is None:
            return settle(step, "advance", decision.reason)
        return settle(step, "reschedule", decision.reason, decision.next_at)
    # a call step is only queued: its daily cap is applied when campaign_manager places the
    # call, in the queue's order (app.campaigns.manager); here it would pick first come
    cap = campaign.caps.per_day.get(channel) if channel != "call" else None
    key = (step.campaign.id, channel)
    if cap is not None and step.sent_today + used.get(key, 0) >= cap:
        return settle(step, "reschedule", "daily_cap", _next_day(now, campaign.timezone))
    used[key] = used.get(key, 0) + 1
    if channel == "sms":  # a call step is only queued: campaign_manager gates it when placed
        used[texts] = used.get(texts, 0) + 1
    item = outbox_item(step, address, settings, providers[channel])
    if channel != "call" and decision.until is not None:  # re-checked right before the send
        item["payload"]["send_before"] = decision.until.isoformat()
    return Plan(step, item=item)


def outbox_item(
    step: ClaimedStep, address: str, settings: Settings, provider: str
) -> dict[str, Any]:
    """The outbox row for an allowed step, content rendered."""
    lead, campaign_id = step.lead, step.campaign.id
    unsubscribe = ""
    if lead.email:
        target = UnsubscribeToken(lead.email, lead.id, campaign_id)
        unsubscribe = unsubscribe_url(settings, target)
    values = variables(
        template_lead(lead),
        Business(settings.business_name, settings.business_postal_address),
        settings.booking_url,
        unsubscribe,
    )
    item = {
        "idempotency_key": outbox_key(step), "channel": step.step.channel, "provider": provider,
        "to_address": address, "lead_id": lead.id, "enrollment_id": step.enrollment_id,
        "campaign_id": campaign_id, "step_id": step.step.id,
    }  # fmt: skip
    item["payload"] = _payload(step, values, settings, unsubscribe)
    return item


def template_lead(lead: LeadSnapshot) -> dict[str, Any]:
    """The lead's columns a template may read (`SAMPLE_LEAD`'s keys), as `lead.model_dump()`
    gives them (`lead_variables` copies `attributes`): without dumping the whole model (its
    consents too) for every step, a tenth of the planning. A key the snapshot has no field
    for (`first_name`, which `lead_variables` sets) is None without asking the model for it
    (pydantic answers a missing attribute by raising, a tenth of this function's cost)."""
    return {key: getattr(lead, key) if field else None for key, field in _TEMPLATE_COLUMNS}


# SAMPLE_LEAD's keys in order, each with whether a LeadSnapshot has it as a field
_TEMPLATE_COLUMNS = tuple((key, key in LeadSnapshot.model_fields) for key in SAMPLE_LEAD)


def _payload(
    step: ClaimedStep, values: dict[str, Any], settings: Settings, unsubscribe: str
) -> dict[str, Any]:
    channel, lead = step.step.channel, step.lead
    if channel == "call":
        metadata = {"lead_id": lead.id, "enrollment_id": step.enrollment_id}
        spoken = call_variables(
            first_name=lead.name, business_name=settings.business_name,
            booking_url=settings.booking_url, lead_status=lead.status, direction="outbound",
        )  # fmt: skip
        return {
            "variable_values": spoken,
            "metadata": metadata,
            # the campaign's agent (sarah, john); None: VAPI_ASSISTANT_ID (app.providers.vapi)
            "assistant": step.campaign.definition.get("assistant"),
            # campaign_manager gates the call when it places it: the step's own window with it
            "window": step.step.window,
        }
    variant = choose_variant(step)
    if channel == "sms":  # short links name this message: a click counts for its variant
        here = ShortLink("drip", (step.enrollment_id, step.position))
        body, links = track_text_links(render(variant["body"], values), settings, here,
                                       keep=lambda url: url == unsubscribe)  # fmt: skip
        sms = {"body": body, "variant": variant["name"]}
        return {**sms, "links": links} if links else sms

    def track(url: str) -> str:
        if url == unsubscribe:  # the unsubscribe link is never wrapped in a tracked link
            return url
        # the outbox key names this message: a click counts for its A/B variant
        link = ClickToken(url, lead.id, None, step.campaign.id, outbox_key(step))
        return click_url(settings, link)

    html = rewrite_links(render(variant["html"], values, html=True), track)
    payload = {
        "subject": render(variant["subject"], values), "html": html, "variant": variant["name"],
        "unsubscribe_url": unsubscribe, "tags": {"campaign": step.campaign.slug},
    }  # fmt: skip
    # Reply-To at the receiving domain names this message (email replies, docs/providers.md)
    reply_to = reply_address(settings, ReplyToken(lead.id, step.enrollment_id, step.position))
    return {**payload, "reply_to": reply_to} if reply_to else payload
