"""Demo data for `nightshift dev --demo`: a handful of realistic leads, loaded idempotently
(re-running merges on phone/email). Campaigns arrive with the campaigns issue (#4)."""

from __future__ import annotations

from app.context import Context
from app.db.models import LeadIn, UpsertCounts

DEMO_LEADS: tuple[LeadIn, ...] = (
    LeadIn(
        name="Maria Lopez",
        phone="+15125550101",
        email="maria.lopez@example.com",
        industry="hvac",
        state="TX",
        timezone="America/Chicago",
        source="web_form",
    ),
    LeadIn(
        name="James Carter",
        phone="+13055550102",
        industry="hvac",
        state="FL",
        timezone="America/New_York",
        source="facebook_ads",
    ),
    LeadIn(
        name="Priya Shah",
        email="priya.shah@example.com",
        industry="dental",
        state="CA",
        timezone="America/Los_Angeles",
        source="referral",
    ),
    LeadIn(
        name="Tom Becker",
        phone="+12065550104",
        email="tom.becker@example.com",
        industry="home_services",
        state="WA",
        timezone="America/Los_Angeles",
        source="google_lsa",
    ),
    LeadIn(
        name="Linda Nguyen", phone="+18505550105", industry="hvac", state="FL", source="missed_call"
    ),
    LeadIn(
        name="Robert King",
        phone="+12035550106",
        email="rking@example.com",
        industry="dental",
        state="CT",
        timezone="America/New_York",
        source="web_form",
    ),
)


async def seed_demo(ctx: Context) -> UpsertCounts:
    """Insert or refresh the demo leads."""
    return await ctx.repos.leads.upsert(DEMO_LEADS, ctx.clock.now())
