"""A campaign as written in YAML, validated before anything is stored.

`load_campaign_yaml(text)` returns a `Campaign` or raises `CampaignError` whose lines name
the field (`steps[2].subject: ...`). Templates are compiled and rendered against a sample
lead at load time (strict undefined), SMS segment counts are checked against each step's
maximum (each link counted as a short tracked link of SAMPLE_SHORT_LINK's 48 characters),
and the first SMS of a campaign must name the business and say "Reply STOP".
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from app.campaigns.templates import (
    SAMPLE_SHORT_LINK,
    TemplateProblem,
    check_template,
    rewrite_text_links,
    sms_segments,
)
from app.compliance.rules import HoursRule

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_DELAY = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class CampaignError(ValueError):
    """An invalid campaign file; each line names a field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_delay(value: str | int) -> timedelta:
    """'2d', '4h', '15m', '30s', '1w', or a number of seconds."""
    if isinstance(value, int):
        return timedelta(seconds=value)
    match = _DELAY.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a delay like 15m, 4h or 2d")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


class Window(_Strict):
    days: list[Day] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    start: time = time(9)
    end: time = time(19)

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.start >= self.end:
            raise ValueError("start must be before end")
        return self

    def rule(self) -> HoursRule:
        return HoursRule(self.start, self.end, days=frozenset(DAYS[d] for d in self.days))


class Audience(_Strict):
    status: list[str] = ["new", "contacted", "engaged"]
    industry: list[str] | None = None
    source: list[str] | None = None
    state: list[str] | None = None
    min_score: float = Field(default=0, ge=0, le=100)


class Caps(_Strict):
    new_per_day: int = Field(default=100, ge=0)
    ramp_start: int | None = Field(default=None, ge=0)
    ramp_step: int = Field(default=0, ge=0)
    per_day: dict[Literal["email", "sms", "call"], int] = Field(default_factory=dict)


class StopRules(_Strict):
    on_reply: bool = True
    on_booking: bool = True
    on_opt_out: bool = True
    company_on_reply: bool = False


class Variant(_Strict):
    name: str
    subject: str | None = None
    html: str | None = None
    body: str | None = None


class Step(_Strict):
    channel: Literal["email", "sms", "call"]
    delay: timedelta = timedelta(0)
    subject: str | None = None
    html: str | None = None
    body: str | None = None
    variants: list[Variant] | None = None
    max_segments: int = Field(default=2, ge=1, le=10)
    window: Window | None = None

    @field_validator("delay", mode="before")
    @classmethod
    def _delay(cls, value: Any) -> timedelta:
        return value if isinstance(value, timedelta) else parse_delay(value)

    def contents(self) -> list[Variant]:
        """The step's variants (a step without `variants` is one variant 'a')."""
        return self.variants or [
            Variant(name="a", subject=self.subject, html=self.html, body=self.body)
        ]


class CampaignSettings(_Strict):
    """What a campaign stores as its `definition` (everything but its name, status and
    steps): written by `Campaign.to_row`, read back by `stored` from a claim or the queue."""

    timezone: str = "America/New_York"
    audience: Audience = Audience()
    window: Window = Window()
    caps: Caps = Caps()
    stop: StopRules = StopRules()
    # calls: "learned" = each call's hour is picked by Thompson sampling over the lead's
    # permitted hours (growth's best-time-to-call); "asap" = as soon as permitted
    call_timing: Literal["learned", "asap"] = "learned"
    # calls: the agent that speaks (agents/<name>.yaml, pushed by `nightshift agents push`);
    # None: VAPI_ASSISTANT_ID
    assistant: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]*$")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not an IANA timezone such as America/Chicago") from exc
        return value

    @classmethod
    def stored(cls, document: dict[str, Any]) -> CampaignSettings:
        """The settings of a stored definition; keys this version does not know (written by
        a later one) are ignored rather than failing a whole batch."""
        return cls.model_validate({k: v for k, v in document.items() if k in cls.model_fields})


class Campaign(CampaignSettings):
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    status: Literal["draft", "active", "paused"] = "active"
    steps: list[Step] = Field(min_length=1)

    def to_row(self) -> dict[str, Any]:
        """The jsonb `upsert_campaign` takes."""
        definition = self.model_dump(
            mode="json",
            include={"timezone", "audience", "window", "caps", "stop", "call_timing", "assistant"},
        )
        steps = [
            {
                "channel": s.channel,
                "delay_seconds": int(s.delay.total_seconds()),
                "template": s.model_dump(
                    mode="json", include={"subject", "html", "body", "variants", "max_segments"}
                ),
                "window": s.window.model_dump(mode="json") if s.window else None,
            }
            for s in self.steps
        ]
        return {
            "slug": self.slug,
            "name": self.name,
            "status": self.status,
            "definition": definition,
            "steps": steps,
        }


def _check_step(index: int, step: Step, first_sms: bool) -> list[str]:
    problems: list[str] = []
    where = f"steps[{index}]"
    for variant in step.contents():
        label = f"{where}" + (f".variants[{variant.name}]" if step.variants else "")
        problems += _check_variant(label, step, variant, first_sms)
    return problems


def _check_variant(label: str, step: Step, variant: Variant, first_sms: bool) -> list[str]:
    needed = {"email": ("subject", "html"), "sms": ("body",), "call": ()}[step.channel]
    problems = [
        f"{label}.{f}: required for a {step.channel} step"
        for f in needed
        if not getattr(variant, f)
    ]
    for field in ("subject", "html", "body"):
        source = getattr(variant, field)
        if not source:
            continue
        try:
            sample = check_template(source, html=field == "html")
        except TemplateProblem as exc:
            problems.append(f"{label}.{field}: {exc}")
            continue
        if step.channel == "sms" and field == "body":
            problems += _check_sms(label, source, sample, step.max_segments, first_sms)
    return problems


def _check_sms(label: str, source: str, sample: str, max_segments: int, first: bool) -> list[str]:
    problems = []
    # the drip sends each link as a short tracked link: count it at a typical length
    sample = rewrite_text_links(sample, lambda _url, _i: SAMPLE_SHORT_LINK)[0]
    encoding, segments = sms_segments(sample)
    if segments > max_segments:
        problems.append(
            f"{label}.body: {segments} {encoding} segments, more than max_segments={max_segments}"
        )
    if first and ("business.name" not in source or "STOP" not in source):
        problems.append(
            f"{label}.body: the first SMS must name the business ({{{{ business.name }}}})"
            " and say 'Reply STOP to opt out'"
        )
    return problems


def _format(error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors():
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in item["loc"]).lstrip(".")
        lines.append(f"{path or '(campaign)'}: {item['msg']}")
    return lines


def load_campaign_yaml(text: str) -> Campaign:
    """Parse and validate a campaign file (see the module contract)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CampaignError(f"not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise CampaignError("(campaign): a campaign file is a mapping with slug, name and steps")
    try:
        campaign = Campaign.model_validate(data)
    except ValidationError as exc:
        raise CampaignError("\n".join(_format(exc))) from exc
    problems: list[str] = []
    first_sms = next((i for i, s in enumerate(campaign.steps) if s.channel == "sms"), None)
    for index, step in enumerate(campaign.steps):
        problems += _check_step(index, step, index == first_sms)
    if problems:
        raise CampaignError("\n".join(problems))
    return campaign
