"""The campaign, alert and appointment pages and their actions, each audited; the calls
breakdown; fixed outcome colours."""

from __future__ import annotations

from datetime import timedelta

import httpx

from app.console.outcomes import COLOURS, colour
from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from tests.campaigns.helpers import load, query
from tests.console.conftest import BEARER, FORM, JSON, login

ACT = {**JSON, **FORM}


async def test_pause_and_resume_from_the_campaign_page(
    ctx: Context, http: httpx.AsyncClient
) -> None:
    await load(ctx)
    csrf = await login(http)
    page = await http.get("/console/campaigns")
    assert 'action="/console/campaigns/tune-up/pause"' in page.text
    assert "variants (P best)" in page.text and "no estimate yet" in page.text
    await http.post(
        "/console/campaigns/tune-up/pause", content=f"reason=&csrf={csrf}", headers=FORM
    )
    page = await http.get("/console/campaigns")
    assert 'data-status="paused"' in page.text and "paused by the operator" in page.text
    assert 'action="/console/campaigns/tune-up/resume"' in page.text
    overview = (await http.get("/console", headers=JSON)).json()
    assert [c["slug"] for c in overview["paused_campaigns"]] == ["tune-up"]
    assert overview["verdict"]["level"] == "amber"
    await http.post("/console/campaigns/tune-up/resume", content=f"csrf={csrf}", headers=FORM)
    [row] = await query(ctx, "select status from campaigns")
    assert row["status"] == "active"


async def test_funnel_per_step_and_variant_win_probability(
    ctx: Context, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    campaign = await load(ctx)
    await query(
        ctx,
        "update campaign_steps set template = template || %s where position = 0 returning id",
        '{"variants": [{"name": "a", "body": "x"}, {"name": "b",'
        ' "body": "y"}], "ab": {"weights": {"a": 0.25, "b": 0.75}}}',
    )
    [step] = await query(ctx, "select id from campaign_steps where position = 0")
    for n, variant in enumerate("aab"):
        await query(
            ctx,
            "insert into messages (idempotency_key, campaign_id, step_id, channel,"
            " provider, to_address, status, sent_at, payload) values (%s, %s, %s, 'sms',"
            " 'twilio', 'x', 'delivered', %s, %s) returning id",
            f"k{n}",
            campaign,
            step["id"],
            clock.now(),
            f'{{"variant": "{variant}"}}',
        )
    body = (await http.get("/console/campaigns/tune-up", headers=JSON)).json()
    [first, second] = body["campaigns"][0]["steps"]
    assert (first["sent"], first["delivered"]) == (3, 3)
    assert [(v["name"], v["p_best"], v["sent"]) for v in first["variants"]] == [
        ("a", 0.25, 2),
        ("b", 0.75, 1),
    ]
    assert [v["name"] for v in second["variants"]] == ["a"]
    page = await http.get("/console/campaigns/tune-up", headers=BEARER)
    assert "b: 75% (1 sent)" in page.text
    assert (await http.get("/console/campaigns/nope", headers=JSON)).status_code == 404


async def test_alerts_acknowledge_and_silence(ctx: Context, http: httpx.AsyncClient) -> None:
    alert = await ctx.alerts.raise_alert("drip:late", "critical", "drip is late", {})
    [row] = await query(ctx, "select code from alerts")
    code = row["code"]
    assert alert is not None
    page = await http.get("/console/alerts", headers=BEARER)
    assert f'action="/console/alerts/{code}/ack"' in page.text
    done = await http.post(f"/console/alerts/{code}/ack", content="", headers=ACT)
    assert done.status_code == 200
    [row] = await query(ctx, "select acknowledged_at, acknowledged_by from alerts")
    assert row["acknowledged_at"] is not None and row["acknowledged_by"] == "console:bearer"
    quiet = await http.post(
        "/console/alerts/silence", content="key=drip%3Alate&hours=4", headers=ACT
    )
    assert quiet.status_code == 200
    too_long = await http.post(
        "/console/alerts/silence", content="key=drip%3Alate&hours=999", headers=ACT
    )
    assert too_long.status_code == 400
    listed = (await http.get("/console/alerts", headers=JSON)).json()
    assert [s["key"] for s in listed["silences"]] == ["drip:late"]
    audit = await query(ctx, "select action, target from console_audit order by id")
    assert audit == [
        {"action": "acknowledge", "target": code},
        {"action": "silence", "target": "drip:late"},
    ]
    unknown = await http.post("/console/alerts/ZZZZ/ack", content="", headers=ACT)
    assert unknown.status_code == 400


async def test_appointments_cancel_and_mark_completed(
    ctx: Context, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    [lead] = await query(
        ctx, "insert into leads (name, phone) values ('Pat Lee', '+13125550150') returning id"
    )
    ids = [
        r["id"]
        for r in await query(
            ctx,
            "insert into appointments (lead_id, starts_at, ends_at, status) values"
            " (%s, %s, %s, 'booked'), (%s, %s, %s, 'confirmed') returning id",
            lead["id"],
            clock.now() + timedelta(days=1),
            clock.now() + timedelta(days=1, hours=1),
            lead["id"],
            clock.now() - timedelta(hours=2),
            clock.now() - timedelta(hours=1),
        )
    ]
    page = await http.get("/console/appointments", headers=JSON)
    assert [a["id"] for a in page.json()["appointments"]] == [ids[0]]  # the past one is over
    cancelled = await http.post(f"/console/appointments/{ids[0]}/cancel", content="", headers=ACT)
    assert cancelled.json()["status"] == "cancelled"
    completed = await http.post(f"/console/appointments/{ids[1]}/complete", content="", headers=ACT)
    assert completed.status_code == 200, completed.text
    states = await query(ctx, "select status from appointments order by id")
    assert [s["status"] for s in states] == ["cancelled", "completed"]
    again = await http.post(f"/console/appointments/{ids[0]}/cancel", content="", headers=ACT)
    assert again.status_code == 400
    timeline = (await http.get(f"/console/leads/{lead['id']}", headers=JSON)).json()["timeline"]
    assert {e["action"] for e in timeline if e["kind"] == "action"} == {
        "cancel_appointment",
        "complete_appointment",
    }
    empty = await http.get("/console/appointments", headers=BEARER)
    assert "no data yet" in empty.text


async def test_calls_by_assistant_and_hour(
    ctx: Context, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    assert "no data yet" in (await http.get("/console/calls", headers=BEARER)).text
    for n, (assistant, outcome) in enumerate(
        [("sarah", "booked"), ("sarah", "no_answer"), ("john", "answered")]
    ):
        await query(
            ctx,
            "insert into calls (idempotency_key, to_number, provider, status,"
            " outcome, placed_at, payload) values (%s, '+1', 'vapi', 'ended', %s, %s, %s)"
            " returning id",
            f"c{n}",
            outcome,
            clock.now(),
            f'{{"assistant": "{assistant}"}}',
        )
    body = (await http.get("/console/calls", headers=JSON)).json()
    by = {r["assistant"]: r for r in body["by_assistant"]}
    assert by["sarah"]["outcomes"] == {"booked": 1, "no_answer": 1} and by["john"]["calls"] == 1
    assert [h["hour"] for h in body["by_hour"]] == [9]  # 15:00 UTC is 09:00 in Chicago


def test_outcome_colours_are_fixed() -> None:
    assert colour("booked") == "#16a34a" and colour("red") == "#dc2626"
    assert colour("something new") == "#64748b"
    assert (
        len({COLOURS[k] for k in ("booked", "answered", "no_answer", "failed", "voicemail")}) == 5
    )
