"""/status shows what waits for a human about consent: the leads held for review with their
own words (escaped, in the business's time) and the campaign steps skipped for want of
consent, per reason — the figures `nightshift status` prints (issue 14)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest

from app.db.models import LeadIn
from app.jobs.bootstrap import Context
from app.webhooks import create_app
from tests.status.conftest import TOKEN
from tests.webhooks.helpers import Db, seed_campaign, seed_lead

ANA = "+14155550199"


@pytest.fixture
async def http(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ctx)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://h.test") as client:
            yield client


async def test_held_leads_and_consent_skips_are_on_the_status_page(
    ctx: Context, database_dsn: str, http: httpx.AsyncClient
) -> None:
    db = Db(database_dsn)
    await seed_lead(ctx, db, phone=ANA, email="ana@example.com", name="Ana")
    await seed_campaign(ctx)
    words = "<b>who</b> is this?? how did you get my number"
    form = {"MessageSid": "SMheld1", "From": ANA, "To": "+14155550123", "Body": words}
    form_type = {"content-type": "application/x-www-form-urlencoded"}
    sent = await http.post("/webhooks/twilio/sms", content=urlencode(form), headers=form_type)
    assert sent.status_code == 200  # development, no Twilio token: accepted unsigned
    # Bo came from an old export with no consent columns: his queued AI call is refused
    await ctx.repos.leads.upsert([LeadIn(name="Bo", phone="+14155550188")], ctx.clock.now())
    [bo] = db.rows("select id from leads where phone = '+14155550188'")
    await ctx.transport.call("enqueue_call", {"p_call": {
        "idempotency_key": "no-consent-call", "lead_id": bo["id"], "to_number": "+14155550188"},
        "p_now": ctx.clock.now()})  # fmt: skip
    [call] = db.rows("select id from calls where idempotency_key = 'no-consent-call'")
    assert (await ctx.repos.outbox.claim_call(call["id"], ctx.clock.now())).outcome == "refused"

    page = (await http.get("/status", headers={"authorization": f"Bearer {TOKEN}"})).text

    section = page[page.index('<section id="consent">') :]
    section = section[: section.index("</section>")]
    assert "Held for review: 1" in section
    assert "&lt;b&gt;who&lt;/b&gt; is this??" in section and "<b>who" not in section
    assert ANA in section and " CST" in section  # held since, in America/Chicago
    assert "no_ai_voice_consent" in section and "Skipped for want of consent" in section
