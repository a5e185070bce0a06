"""Issue 18 item 5 in production: a campaign whose agent has a candidate version splits its
calls between the current and the candidate assistant by Thompson sampling, records the
version on each call, and shows per version calls, answered, bookings per call, quality and
P(better); promote and retire change who gets the calls (docs/agents.md "Version trials")."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import numpy as np
import pytest
import respx
from pydantic import SecretStr

from app.agents.figures import figure_lines, figures
from app.agents.versions import VersionDeps, call_assistant
from app.appointments.digest import build_digest
from app.campaigns.definition import load_campaign_yaml
from app.jobs.bootstrap import Context, Overrides, build_graph
from app.jobs.growth import version_figures
from app.providers.ports import CallRequest
from app.providers.retry import RetryConfig, RetryPolicy
from app.providers.vapi import VapiCallPlacer, VapiConfig
from tests.conftest import Rebuild
from tests.console.conftest import BEARER, JSON, TOKEN, client_for
from tests.webhooks.helpers import Db, client, post_vapi, seed_lead, vapi_message

CAMPAIGN = """
slug: furnace-season
name: Furnace season
assistant: john
steps:
  - channel: call
"""
CURRENT, CANDIDATE = "asst-john-current", "asst-john-candidate"
LEAD_PHONE = "+15125550187"


@pytest.fixture
async def seeded(ctx: Context) -> AsyncIterator[Context]:
    """The graph as bootstrap builds it, with a seeded random generator (the draws)."""
    graph = build_graph(
        ctx.settings,
        ctx.transport,
        Overrides(clock=ctx.clock, transport=ctx.transport, rng=np.random.default_rng(18)),
    )
    yield graph
    await graph.providers.aclose()


async def _version(ctx: Context, assistant_id: str, role: str) -> int:
    row = await ctx.repos.agents.record_version(
        "john", f"hash-{assistant_id}", assistant_id, None, {"assistant": {}}, "push",
        ctx.clock.now(), role=role,  # type: ignore[arg-type]
    )  # fmt: skip
    return row.version


async def _trial(ctx: Context, db: Db) -> int:
    """John current (version 1) and candidate (version 2), a lead; the lead's id."""
    lead = await seed_lead(ctx, db, phone=LEAD_PHONE, name="Lee Park")
    row = load_campaign_yaml(CAMPAIGN).to_row()
    await ctx.transport.call("upsert_campaign", {"p_campaign": row, "p_now": ctx.clock.now()})
    await _version(ctx, CURRENT, "current")
    await _version(ctx, CANDIDATE, "candidate")
    return lead


def _queued(db: Db, lead: int, n: int) -> int:
    """An outbox call of the campaign's call step for `lead`, as the drip queues it."""
    payload = {"assistant": "john", "variable_values": {"first_name": "Lee"},
               "metadata": {"lead_id": lead}}  # fmt: skip
    row = db.one(
        "insert into calls (idempotency_key, lead_id, to_number, status, payload, created_at,"
        " updated_at) values (%s, %s, %s, 'queued', %s, now(), now()) returning id",
        (f"drip:{lead}:{n}", lead, LEAD_PHONE, json.dumps(payload)),
    )
    return int(row["id"])


def _report(vapi_call_id: str, booked: bool) -> dict[str, Any]:
    """Vapi's end-of-call report for the call: answered, booked or not."""
    body = copy.deepcopy(vapi_message("05-end-of-call-report-completed-booked.json"))
    body["message"]["call"]["id"] = vapi_call_id
    body["message"]["analysis"]["structuredData"]["appointmentBooked"] = booked
    return body


async def _place_and_end(
    ctx: Context, db: Db, lead: int, n: int, every: dict[str, int], made: dict[str, int]
) -> tuple[str, str]:
    """Place one call through the delivery; Vapi reports it answered, and booked when it is
    the `every[assistant]`-th call of its assistant (`made` counts them); (the assistantId
    sent, the version recorded on the row)."""
    call_id = _queued(db, lead, n)
    delivery = await ctx.providers.delivery.place_call(call_id)
    assert delivery.outcome == "sent"
    row = db.one("select * from calls where id = %s", (call_id,))
    sent = row["payload"]["request"]["json"]["assistantId"] if "request" in row["payload"] else None
    assistant = sent or _assistant_of(db, row)
    async with client(ctx) as http:
        made[assistant] = made.get(assistant, 0) + 1
        booked = every[assistant] > 0 and made[assistant] % every[assistant] == 0
        response = await post_vapi(http, _report(row["vapi_call_id"], booked))
        assert response.status_code == 200
    return assistant, f"{row['agent']}:{row['agent_version']}"


def _assistant_of(db: Db, row: dict[str, Any]) -> str:
    found = db.one(
        "select vapi_assistant_id from agent_versions where agent = %s and version = %s",
        (row["agent"], row["agent_version"]),
    )
    return str(found["vapi_assistant_id"])


async def test_a_candidate_that_books_more_wins_the_calls_and_the_posterior(
    seeded: Context, db: Db
) -> None:
    ctx = seeded
    lead = await _trial(ctx, db)
    every, made = {CURRENT: 20, CANDIDATE: 2}, {}  # books 1 call in 20, and 1 in 2
    placed, p_candidate = [], []
    for n in range(60):
        assistant, version = await _place_and_end(ctx, db, lead, n, every, made)
        # the row names the version whose assistant placed the call
        assert version == ("john:1" if assistant == CURRENT else "john:2")
        placed.append(assistant)
        if n in (9, 59):
            table = figures(await ctx.repos.agents.version_stats("john"))
            p_candidate.append(next(f["p_better"] for f in table if f["version"] == 2))
    assert set(placed[:20]) == {CURRENT, CANDIDATE}  # split while nothing is known
    assert placed[-20:].count(CANDIDATE) >= 15  # the better one takes the traffic
    assert p_candidate[1] > p_candidate[0] and p_candidate[1] > 0.95

    # the scoring job's call quality (0-100) of each call, averaged per version
    db.rows(
        "insert into call_quality (call_id, score, scored_at) select id,"
        " case agent_version when 2 then 80 else 40 end, now() from calls returning call_id"
    )
    table = figures(await ctx.repos.agents.version_stats("john"))
    by_version = {f["version"]: f for f in table}
    assert (by_version[1]["avg_quality"], by_version[2]["avg_quality"]) == (40.0, 80.0)
    assert by_version[1]["calls"] + by_version[2]["calls"] == 60
    assert by_version[2]["calls"] == placed.count(CANDIDATE)
    assert by_version[2]["answered"] == by_version[2]["calls"]  # every report: answered
    candidate_booked = by_version[2]["booked"]
    assert by_version[2]["bookings_per_call"] == round(candidate_booked / by_version[2]["calls"], 4)
    assert by_version[1]["role"] == "current" and by_version[2]["role"] == "candidate"
    lines = figure_lines(table)
    assert lines[0].split()[:3] == ["agent", "version", "role"]
    assert any(line.split()[:3] == ["john", "2", "candidate"] for line in lines)


async def test_promote_makes_the_candidate_current_and_retire_stops_its_calls(
    seeded: Context, db: Db
) -> None:
    ctx = seeded
    lead = await _trial(ctx, db)
    changed = await ctx.repos.agents.set_role("john", "retire")
    assert [(v.version, v.role) for v in changed] == [(2, "retired")]
    always, made = {CURRENT: 0, CANDIDATE: 1}, {}
    placed = [(await _place_and_end(ctx, db, lead, n, always, made))[0] for n in range(8)]
    assert placed == [CURRENT] * 8  # a retired version gets no calls

    await _version(ctx, CANDIDATE, "candidate")  # version 3, on the candidate's assistant
    changed = await ctx.repos.agents.set_role("john", "promote")
    assert sorted((v.version, v.role) for v in changed) == [(1, "retired"), (3, "current")]
    assert await ctx.repos.agents.vapi_id("john") == CANDIDATE
    placed = [(await _place_and_end(ctx, db, lead, n, always, made))[0] for n in range(8, 14)]
    assert placed == [CANDIDATE] * 6
    rows = db.rows("select agent_version from calls where agent = 'john' order by id")
    assert [r["agent_version"] for r in rows] == [1] * 8 + [3] * 6
    # the retired versions that made calls stay in the figures, without a P(better)
    table = figures(await ctx.repos.agents.version_stats("john"))
    assert [(f["version"], f["role"], f["calls"], f["p_better"]) for f in table] == [
        (3, "current", 6, 1.0), (1, "retired", 8, None),
    ]  # fmt: skip
    assert await ctx.repos.agents.set_role("john", "promote") == []  # no candidate left


async def test_the_vapi_request_carries_the_chosen_versions_assistant_id(
    ctx: Context, db: Db
) -> None:
    lead = await _trial(ctx, db)
    rng = np.random.default_rng(3)
    deps = VersionDeps(ctx.repos.agents, lambda: rng, ctx.clock)
    config = VapiConfig(SecretStr("vapi-key"), "pn_5f1c2d3e", "asst-default")
    bodies: list[dict[str, Any]] = []

    def created(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(201, json={"id": f"call-{len(bodies)}", "status": "queued"})

    with respx.mock(assert_all_mocked=True) as mock:
        mock.post("https://api.vapi.ai/call").mock(side_effect=created)
        async with httpx.AsyncClient() as http:
            placer = VapiCallPlacer(
                config, client=http, clock=ctx.clock, assistants=call_assistant(deps),
                retry=RetryPolicy(RetryConfig(max_attempts=1), clock=ctx.clock),
            )  # fmt: skip
            for n in range(12):
                call_id = _queued(db, lead, n)
                request = CallRequest(outbox_id=call_id, idempotency_key=f"drip:{lead}:{n}",
                                      to=LEAD_PHONE, claimed_at=ctx.clock.now(),
                                      assistant="john")  # fmt: skip
                await placer.place(request)
    rows = db.rows("select agent_version from calls where agent = 'john' order by id")
    ids = {1: CURRENT, 2: CANDIDATE}
    assert [b["assistantId"] for b in bodies] == [ids[r["agent_version"]] for r in rows]
    assert {b["assistantId"] for b in bodies} == {CURRENT, CANDIDATE}


async def test_an_inbound_call_is_answered_by_a_live_version_recorded_on_its_row(
    seeded: Context, db: Db
) -> None:
    ctx = seeded
    await _trial(ctx, db)
    await ctx.transport.call("enroll_leads", {"p_now": ctx.clock.now()})
    answered: list[str] = []
    async with client(ctx) as http:
        for n in range(10):
            body = {"message": {"type": "assistant-request",
                                "call": {"id": f"inbound-{n}", "type": "inboundPhoneCall"},
                                "customer": {"number": LEAD_PHONE}}}  # fmt: skip
            answered.append((await post_vapi(http, body)).json()["assistantId"])
            # its first event makes the call's row: it takes the version chosen for it
            status = copy.deepcopy(vapi_message("03-status-update-in-progress.json"))
            status["message"]["call"]["id"] = f"inbound-{n}"
            assert (await post_vapi(http, status)).status_code == 200
    assert set(answered) == {CURRENT, CANDIDATE}
    rows = db.rows(
        "select vapi_call_id, agent, agent_version from calls"
        " where vapi_call_id like 'inbound-%%' order by vapi_call_id"
    )
    ids = {1: CURRENT, 2: CANDIDATE}
    chosen = {f"inbound-{n}": a for n, a in enumerate(answered)}
    assert len(rows) == 10
    assert all(r["agent"] == "john" and ids[r["agent_version"]] == chosen[r["vapi_call_id"]]
               for r in rows)  # fmt: skip


async def test_the_console_shows_each_version_with_its_figures(
    seeded: Context, db: Db, rebuild: Rebuild
) -> None:
    ctx = seeded
    lead = await _trial(ctx, db)
    made: dict[str, int] = {}
    for n in range(6):
        await _place_and_end(ctx, db, lead, n, {CURRENT: 3, CANDIDATE: 1}, made)
    web = await rebuild(status_token=SecretStr(TOKEN))
    async for http in client_for(web):
        body = (await http.get("/console/calls", headers=JSON)).json()
        page = (await http.get("/console/calls", headers=BEARER)).text
    rows = {v["version"]: v for v in body["versions"]}
    assert set(rows) == {1, 2} and rows[1]["calls"] + rows[2]["calls"] == 6
    assert rows[2]["role"] == "candidate" and rows[2]["bookings_per_call"] == 1.0
    assert abs(rows[1]["p_better"] + rows[2]["p_better"] - 1) < 1e-3
    assert "<h2>Assistant versions</h2>" in page and "P(better)" in page


async def test_the_digest_has_a_line_per_version(seeded: Context, db: Db) -> None:
    ctx = seeded
    lead = await _trial(ctx, db)
    made: dict[str, int] = {}
    for n in range(4):
        await _place_and_end(ctx, db, lead, n, {CURRENT: 2, CANDIDATE: 2}, made)
    built = await build_digest(
        ctx.repos.appointments, ctx.clock.now(), ctx.settings, versions=version_figures(ctx)
    )
    lines = built.text.splitlines()
    start = lines.index("Assistant versions (calls since pushed):")
    shown = lines[start + 1 : start + 3]
    assert [line.split(":")[0] for line in shown] == [
        "  - john v2 candidate",
        "  - john v1 current",
    ]
    calls = sum(int(line.split(": ")[1].split(" call")[0]) for line in shown)
    assert calls == 4 and all("P(better) 0." in line for line in shown)
    assert built.numbers["agent_versions"][0]["version"] == 2


async def test_a_call_claimed_again_keeps_the_assistant_first_chosen(ctx: Context, db: Db) -> None:
    # a timeout after POST /call: Vapi may have placed the call with the first assistant,
    # so the retry (and the call it finds) must count for that one, not a new draw's
    lead = await _trial(ctx, db)
    rng = np.random.default_rng(3)  # its first draw: the candidate
    lookup = call_assistant(VersionDeps(ctx.repos.agents, lambda: rng, ctx.clock))
    call_id = _queued(db, lead, 0)
    request = CallRequest(outbox_id=call_id, idempotency_key=f"drip:{lead}:0", to=LEAD_PHONE,
                          claimed_at=ctx.clock.now(), assistant="john")  # fmt: skip
    first = await lookup(request)
    assert {await lookup(request) for _ in range(20)} == {first}
    # a fresh row draws anew: both assistants come up over 20 rows (no call ended yet)
    fresh = set()
    for n in range(1, 21):
        other = request.model_copy(update={"outbox_id": _queued(db, lead, n)})
        fresh.add(await lookup(other))
    assert fresh == {CURRENT, CANDIDATE}
    # once the version it kept is retired, a claim draws among the live ones again
    kept = db.one("select agent_version from calls where id = %s", (call_id,))["agent_version"]
    assert (kept, first) == (2, CANDIDATE)  # this seed's first draw
    await ctx.repos.agents.set_role("john", "retire")
    assert await lookup(request) == CURRENT
