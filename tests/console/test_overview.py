"""The overview: today / 7 / 30 days read live from the outbox, in the business's day, the
same figures on /console (HTML and JSON) and /status, and one verdict."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import respx

from app.campaigns import drip
from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from app.jobs.drip import drip_deps
from app.status.data import collect
from tests.campaigns.helpers import add_leads, load, query
from tests.chaos.helpers import FakeProviders, real_settings, worker
from tests.console.conftest import BEARER, JSON, TOKEN, client_for
from tests.status.seed import seed


async def contacted_today_in_the_outbox(ctx: Context, now: datetime) -> int:
    """The definition, straight from the outbox: distinct leads with a message a provider
    accepted (not a dry run) or a call placed since midnight in Chicago."""
    [row] = await query(
        ctx,
        """
        select count(distinct lead_id) n from (
          select lead_id, sent_at at time zone 'America/Chicago' t from messages
           where status not in ('dry_run', 'queued', 'cancelled') and provider <> 'dryrun'
             and sent_at is not null
          union all
          select lead_id, placed_at at time zone 'America/Chicago' from calls
           where placed_at is not null and provider <> 'dryrun') x
         where lead_id is not null
           and t::date = (%s::timestamptz at time zone 'America/Chicago')::date
    """,
        now,
    )
    return int(row["n"])


async def test_after_a_drip_run_today_contacted_equals_the_outbox_and_status_agrees(
    clock: ManualClock, database_dsn: str
) -> None:
    settings = real_settings(status_token=TOKEN, business_timezone="America/Chicago")
    fake = FakeProviders(clock)
    async with worker(settings, clock, database_dsn) as ctx:
        with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
            fake.install(router)
            await load(ctx)
            await add_leads(ctx, 4)
            await ctx.repos.campaigns.enroll(clock.now())
            await drip.run(drip_deps(ctx))
        await check_contacted(ctx, clock, fake)


async def check_contacted(ctx: Context, clock: ManualClock, fake: FakeProviders) -> None:
    assert len({a.to for a in fake.accepted}) == 4  # Twilio accepted four texts
    # yesterday's text and a dry run do not count today
    [lead] = await query(ctx, "select min(id) id from leads")
    await query(
        ctx,
        "insert into messages (idempotency_key, lead_id, channel, provider,"
        " to_address, status, sent_at) values ('y', %s, 'sms', 'twilio', 'x', 'sent',"
        " %s), ('d', %s, 'sms', 'dryrun', 'x', 'dry_run', %s) returning id",
        lead["id"],
        clock.now() - timedelta(days=1),
        lead["id"],
        clock.now(),
    )
    expected = await contacted_today_in_the_outbox(ctx, clock.now())
    assert expected == 4
    async for http in client_for(ctx):
        answer = await http.get("/console", headers=JSON)
        assert answer.status_code == 200
        body = answer.json()
        assert isinstance(body["today"]["contacted"], int)
        assert body["today"]["contacted"] == expected
        assert body["days_7"]["contacted"] == 4 and body["today"]["leads_added"] == 4
        snap = (await http.get("/status", headers=JSON)).json()
        assert snap["overview"]["today"]["contacted"] == expected
        assert snap["funnel"][0] == {
            "window": "today",
            "days": 1,
            "leads": 4,
            "contacted": expected,
            "replied": 0,
            "booked": 0,
        }
        page = await http.get("/status", headers=BEARER)
        # the status page's first funnel is today's: the same figure
        assert re.findall(r"<title>contacted: (\d+)</title>", page.text)[0] == str(expected)
        html = await http.get("/console", headers=BEARER)
        figure = re.search(r'data-figure="contacted"><b>(\d+)</b>', html.text)
        assert figure and figure.group(1) == str(expected)


async def test_today_is_the_business_day_and_calls_count(
    ctx: Context, clock: ManualClock, database_dsn: str
) -> None:
    # 15:00 UTC is 09:00 in Chicago: 05:30 UTC today was still yesterday there
    await add_leads(ctx, 3)
    ids = [r["id"] for r in await query(ctx, "select id from leads order by id")]
    last_night = clock.now().replace(hour=5, minute=30)
    await query(
        ctx,
        "insert into messages (idempotency_key, lead_id, channel, provider,"
        " to_address, status, sent_at) values ('a', %s, 'email', 'resend', 'x',"
        " 'delivered', %s) returning id",
        ids[0],
        last_night,
    )
    await query(
        ctx,
        "insert into calls (idempotency_key, lead_id, to_number, provider, status,"
        " outcome, placed_at, ended_at) values ('c1', %s, '+1', 'vapi', 'ended',"
        " 'answered', %s, %s), ('c2', %s, '+1', 'dryrun', 'ended', null, %s, %s)"
        " returning id",
        ids[1],
        clock.now(),
        clock.now(),
        ids[2],
        clock.now(),
        clock.now(),
    )
    snap = await collect(ctx)
    today, week = snap["overview"]["today"], snap["overview"]["days_7"]
    assert (today["contacted"], week["contacted"]) == (1, 2)  # the dry-run call: never
    assert today["calls_answered"] == 1
    assert [f["contacted"] for f in snap["funnel"]] == [1, 2, 2]


async def test_verdict_red_amber_green(ctx: Context, clock: ManualClock, database_dsn: str) -> None:
    fresh = (await collect(ctx))["verdict"]
    # a fresh deploy: nothing firing, but no job has proven itself yet (healthchecks' "new")
    assert fresh["level"] == "amber" and "job(s) have not run yet: " in fresh["reason"]
    for job in [j["job"] for j in (await collect(ctx))["jobs"]]:
        await query(
            ctx,
            "insert into job_runs (id, job, status, started_at, finished_at)"
            " values (gen_random_uuid(), %s, 'succeeded', %s, %s) returning id",
            job,
            clock.now(),
            clock.now(),
        )
    green = (await collect(ctx))["verdict"]
    assert green["level"] == "green", green
    await query(
        ctx,
        "insert into campaigns (slug, name, status, paused_reason) values"
        " ('summer', 'Summer', 'paused', %s) returning id",
        "bounce 6% over the last 200 sends",
    )
    amber = (await collect(ctx))["verdict"]
    assert amber["level"] == "amber" and "summer paused: bounce 6%" in amber["reason"]
    seed(database_dsn, clock.now() - timedelta(hours=12))  # a critical alert, resend DOWN
    red = (await collect(ctx))["verdict"]
    assert red["level"] == "red"
    assert "critical alert A1B2: drip is late" in red["reason"]
    assert "resend is DOWN" in red["reason"]


async def test_overview_page_shows_every_section_and_empty_states(
    http: httpx.AsyncClient,
) -> None:
    page = await http.get("/console", headers=BEARER)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    for key in ("verdict", "today", "days_7", "days_30", "paused", "needs-human", "hot"):
        assert f'id="{key}"' in page.text
    assert "no data yet" in page.text and "<script" not in page.text
    assert "DRY RUN" in page.text  # the test graph has no provider credentials
    assert "Times in America/Chicago" in page.text


async def test_hot_leads_not_called_and_held_leads(ctx: Context, clock: ManualClock) -> None:
    now = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
    await query(
        ctx,
        "insert into leads (name, phone, score, hot_at, needs_review) values"
        " ('Hot Harriet', '+13125550101', 91, %s, null),"
        " ('Called Carl', '+13125550102', 95, %s, null),"
        " ('Held Hal', '+13125550103', 40, null, 'texted \"maybe stop?\"') returning id",
        now,
        now,
    )
    await query(
        ctx, "update leads set last_called_at = %s where name = 'Called Carl' returning id", now
    )
    overview = (await collect(ctx))["overview"]
    assert [h["name"] for h in overview["hot_not_called"]] == ["Hot Harriet"]
    assert [h["name"] for h in overview["needs_human"]] == ["Held Hal"]


async def test_email_replies_count_and_show_but_auto_replies_do_not_count(
    ctx: Context, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    await add_leads(ctx, 1)
    [lead] = await query(ctx, "select id from leads")
    await query(
        ctx,
        "insert into email_replies (email_id, lead_id, matched_by, from_address, subject, body,"
        " kind, received_at) values ('e1', %s, 'token', 'lead0@example.com', 'Re: tune-up',"
        " 'Tuesday morning works for us', 'reply', %s), ('e2', %s, 'sender',"
        " 'lead0@example.com', 'Out of office', 'I am away until Monday', 'auto_reply', %s)"
        " returning id",
        lead["id"], clock.now(), lead["id"], clock.now(),
    )  # fmt: skip
    body = (await http.get("/console", headers=JSON)).json()
    assert body["today"]["replies"] == 1
    timeline = (await http.get(f"/console/leads/{lead['id']}", headers=JSON)).json()["timeline"]
    replies = {e["text"]: e["taken_as"] for e in timeline if e["kind"] == "reply"}
    assert replies == {
        "Tuesday morning works for us": "reply",
        "I am away until Monday": "auto_reply",
    }
