"""Demo data for `nightshift dev --demo`: realistic leads and the example campaigns
(examples/*.yaml), loaded idempotently, with the leads enrolled so the first drip tick sends.
Every demo lead but one carries the consent its web form recorded (texts, AI calls, email);
Robert King has none on record, so the demo shows a lead nightshift skips for want of consent
(`nightshift status`, "Skipped for want of consent")."""

from __future__ import annotations

from pathlib import Path

from app.campaigns.definition import load_campaign_yaml
from app.db.models import ConsentIn, LeadIn
from app.jobs.bootstrap import Context

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

FORM = "https://example.com/quote"
WORDS = ("I agree to receive calls, including by an AI voice, texts and emails from the "
         "business about my request. Consent is not a condition of purchase.")  # fmt: skip
CONSENTED = [ConsentIn(channel=c, source="web_form", text=WORDS, url=FORM)
             for c in ("sms", "email", "calls", "ai_voice")]  # fmt: skip

DEMO_LEADS: tuple[LeadIn, ...] = (
    LeadIn(name="Maria Lopez", phone="+15125550101", email="maria.lopez@example.com",
           industry="hvac", state="TX", timezone="America/Chicago", source="web_form",
           consents=CONSENTED),
    LeadIn(name="James Carter", phone="+13055550102", industry="hvac", state="FL",
           timezone="America/New_York", source="facebook_ads", consents=CONSENTED),
    LeadIn(name="Priya Shah", email="priya.shah@example.com", industry="dental", state="CA",
           timezone="America/Los_Angeles", source="referral", consents=CONSENTED),
    LeadIn(name="Tom Becker", phone="+12065550104", email="tom.becker@example.com",
           industry="home_services", state="WA", timezone="America/Los_Angeles",
           source="google_lsa", consents=CONSENTED),
    LeadIn(name="Linda Nguyen", phone="+18505550105", industry="hvac", state="FL",
           source="missed_call", consents=CONSENTED),
    LeadIn(name="Robert King", phone="+12035550106", email="rking@example.com",
           industry="dental", state="CT", timezone="America/New_York", source="web_form"),
)  # fmt: skip


async def seed_demo(ctx: Context) -> list[str]:
    """Insert or refresh the demo leads and campaigns, enroll; one summary line each."""
    now = ctx.clock.now()
    counts = await ctx.repos.leads.upsert(DEMO_LEADS, now)
    lines = [f"demo leads: {counts.inserted} inserted, {counts.updated} updated"]
    for path in sorted(EXAMPLES.glob("*.yaml")):
        campaign = load_campaign_yaml(path.read_text(encoding="utf-8"))
        saved = await ctx.repos.campaigns.upsert(campaign.to_row(), now)
        lines.append(f"demo campaign: {saved.slug} ({saved.steps} steps)")
    enrolled = await ctx.repos.campaigns.enroll(now)
    lines.append(f"demo enrollments: {sum(e.enrolled for e in enrolled)} new")
    return lines
