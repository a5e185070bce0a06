"""The webhook spool (issue 15 item 1): while the database cannot take a verified event the
raw request is kept and the provider answered; the drain applies it through the live route.

The outage is a graph whose pool points at a dead port (nothing listens on 127.0.0.1:1); the
recovered database is the test's own `ctx`, sharing the spool directory (the web container
during the outage, and any process after it).
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from app.core.clock import ManualClock
from app.core.settings import Settings, get_settings
from app.core.tokens import UnsubscribeToken, unsubscribe_url
from app.db.appointments import BookingIn
from app.db.transport import PostgresTransport
from app.guardian.probes import SPOOL_ASIDE, SPOOL_PENDING, check_spool
from app.guardian.watch import Watch
from app.jobs.bootstrap import Context, Overrides, bootstrap
from app.jobs.runner import run_job
from app.jobs.spool import drain_forever, drain_spool
from app.providers.spool import DirectorySpool, SpooledRequest, SpoolStats
from app.providers.spool_store import ModalDictSpool, build_spool
from app.webhooks import create_app, ingest
from app.webhooks.signatures import svix_signature
from app.webhooks.spooling import OPT_OUT_LINE, TOOL_LINE
from tests.webhooks.helpers import (
    PUBLIC,
    RESEND_SECRET,
    TWILIO_TOKEN,
    Db,
    client,
    enqueue_sms,
    post_vapi,
    seed_campaign,
    seed_lead,
    sent_email,
    signed_twilio,
    vapi_message,
    vapi_time,
)

DEAD = "postgresql://nobody@127.0.0.1:1/none"
USER = "+14155550199"
DANA = "+15125550123"
TOOL_ID = "call_Q7tD2mXk9aBv4RzL1nPe8sWf"
CALL_ID = "019cf9a2-4b7e-7d31-9a52-6c8e0f3b1d47"  # the recorded tool-calls message's call


async def _down_graph(settings: Settings, clock: ManualClock, spool: Any) -> AsyncIterator[Context]:
    pg = await PostgresTransport(DEAD, max_size=1, acquire_timeout=0.3).open(wait=False)
    async with bootstrap(settings, Overrides(clock=clock, transport=pg, spool=spool)) as graph:
        yield graph
    await pg.close()


@pytest.fixture
async def down(settings: Settings, clock: ManualClock, ctx: Context) -> AsyncIterator[Context]:
    """The web app's graph during the outage, on the same spool as `ctx`."""
    async for graph in _down_graph(settings, clock, ctx.spool):
        yield graph


def _stop(sid: str = "SMdown1", body: str = "STOP") -> tuple[str, bytes, dict[str, str]]:
    params = {"MessageSid": sid, "From": USER, "To": "+14155550123", "Body": body}
    return signed_twilio("/webhooks/twilio/sms", params)


async def _stats(ctx: Context) -> SpoolStats:
    assert ctx.spool is not None
    return await ctx.spool.stats()


# --- the store -------------------------------------------------------------------------------
async def test_directory_spool_keeps_receive_order_and_writes_whole_private_files(
    tmp_path: Path,
) -> None:
    spool = DirectorySpool(tmp_path / "spool")
    t0 = datetime(2026, 12, 6, 17, 0, tzinfo=UTC)
    later = SpooledRequest.new(
        "/webhooks/vapi", "", {"X-Vapi-Secret": "s"}, b"{}", t0 + timedelta(seconds=1)
    )
    first = SpooledRequest.new("/webhooks/twilio/sms", "a=1", {"Cookie": "x"}, b"Body=STOP", t0)
    await spool.put(later)
    await spool.put(first)
    pending = await spool.pending(10)
    assert [p.path for p in pending] == ["/webhooks/twilio/sms", "/webhooks/vapi"]
    assert pending[0] == first and pending[0].body == b"Body=STOP" and pending[0].query == "a=1"
    assert pending[0].headers == {}  # only what verification needs is kept (no cookie)
    assert pending[1].headers == {"x-vapi-secret": "s"}
    assert await spool.stats() == SpoolStats(2, t0, 0)
    files = list((tmp_path / "spool" / "pending").iterdir())
    assert all(stat.S_IMODE(os.stat(f).st_mode) == 0o600 for f in files)
    assert not list((tmp_path / "spool" / "tmp").iterdir())  # renamed, nothing half-written
    await spool.set_aside(first, "HTTP 403: invalid Twilio signature")
    await spool.remove(later.id)
    await spool.remove(later.id)  # a second drainer's remove is harmless
    assert await spool.stats() == SpoolStats(0, None, 1)
    assert [a.reason for a in await spool.aside()] == ["HTTP 403: invalid Twilio signature"]


# --- answers during the outage ----------------------------------------------------------------
async def test_tool_call_gets_a_polite_line_and_the_booking_is_made_by_the_drain(
    ctx: Context, down: Context, db: Db, clock: ManualClock
) -> None:
    lead_id = await seed_lead(ctx, db, phone=DANA, name="Dana Whitfield")
    body = vapi_message("08-tool-calls-book-appointment.json")
    clock.set(vapi_time(body))
    async with client(down) as http:
        response = await post_vapi(http, body)
    assert response.status_code == 200
    assert response.json() == {
        "results": [{"toolCallId": TOOL_ID, "name": "bookAppointment", "result": TOOL_LINE}]
    }
    assert "\n" not in TOOL_LINE and (await _stats(ctx)).pending == 1
    assert db.count("appointments") == 0

    assert await drain_spool(ctx, ingest(ctx)) == {"spool_applied": 1}
    appointment = db.one("select lead_id, status, source from appointments")
    assert appointment == {"lead_id": lead_id, "status": "booked", "source": "vapi"}
    assert (await _stats(ctx)).pending == 0


async def test_a_drained_booking_whose_slot_was_taken_asks_the_operator_to_call_back(
    ctx: Context, down: Context, db: Db, clock: ManualClock, rebuild: Any
) -> None:
    """Dana was told "someone will call you back" during the outage; by the time the drain
    books, the calendar gave her 10:30 to someone else: the promise becomes an alert."""
    await seed_lead(ctx, db, phone=DANA, name="Dana Whitfield")
    body = vapi_message("08-tool-calls-book-appointment.json")
    clock.set(vapi_time(body))
    async with client(down) as http:
        assert (await post_vapi(http, body)).json()["results"][0]["result"] == TOOL_LINE
    # the calendar booked Sam into 10:30 meanwhile (a booking the database took first)
    start = datetime(2026, 3, 24, 15, 30, tzinfo=UTC)  # 10:30 in America/Chicago
    sam = BookingIn(external_id="booking:cal-taken-1", starts_at=start,
                    ends_at=start + timedelta(hours=1), name="Sam Ortiz", phone="+15125550777",
                    source="webhook")  # fmt: skip
    assert (await ctx.repos.appointments.upsert(sam, clock.now())).outcome == "booked"

    # the web app's drain (its loop stopped after one pass), with an on-call inbox
    web = await rebuild(oncall_emails=["oncall@example.com"])

    async def stop(_: float) -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await drain_forever(web, ingest(web), sleep=stop)
    assert db.count("appointments") == 1  # Sam's: Dana's slot was taken
    alert = db.one(
        "select key, severity, title, details from alerts where key like %s", ("callback:%",)
    )
    assert alert["key"] == f"callback:{CALL_ID}:{TOOL_ID}" and alert["severity"] == "warning"
    assert alert["title"].startswith(f"Call back {DANA}: their booking for 2026-03-24 10:30")
    assert "slot was just taken" in alert["details"]["reason"]
    assert alert["details"]["name"] == "Dana Whitfield"
    # dispatched by the drain at once, not at the guardian's next run
    sent = db.one("select to_address, payload from messages where kind = 'alert'")
    assert sent["to_address"] == "oncall@example.com" and DANA in json.dumps(sent["payload"])


async def test_opt_out_tool_is_promised_and_applied_by_the_drain(
    ctx: Context, down: Context, db: Db
) -> None:
    lead_id = await seed_lead(ctx, db, phone=DANA, name="Dana")
    message = {
        "message": {
            "type": "tool-calls",
            "call": {"id": "call-oo-1", "customer": {"number": DANA}},
            "toolCallList": [
                {
                    "id": "tc-oo-1",
                    "type": "function",
                    "function": {
                        "name": "optOut",
                        "arguments": {"scope": "calls", "reason": "asked"},
                    },
                }
            ],
        }
    }
    async with client(down) as http:
        response = await post_vapi(http, message)
    assert response.json()["results"][0]["result"] == OPT_OUT_LINE
    await drain_spool(ctx, ingest(ctx))
    lead = db.one("select calls_opted_out_at from leads where id = %s", (lead_id,))
    assert lead["calls_opted_out_at"] is not None


async def test_assistant_request_gets_the_default_assistant(down: Context) -> None:
    async with client(down) as http:
        response = await post_vapi(http, vapi_message("01-assistant-request.json"))
    assert response.status_code == 200
    assert response.json()["assistantId"] == "asst-default"
    assert (await _stats(down)).pending == 0  # nothing to keep: it changes no state


async def test_status_page_and_healthz_answer_503_not_500(rebuild: Any, ctx: Context) -> None:
    token = "t" * 40
    settings = ctx.settings.model_copy(update={"status_token": SecretStr(token)})
    async for graph in _down_graph(settings, ctx.clock, ctx.spool):  # type: ignore[arg-type]
        async with client(graph) as http:
            page = await http.get("/status", headers={"Authorization": f"Bearer {token}"})
            health = await http.get("/healthz")
    assert page.status_code == 503 and health.status_code == 503


async def test_unverified_requests_are_never_spooled(ctx: Context, down: Context) -> None:
    path, body, headers = _stop()
    async with client(down) as http:
        forged = await http.post(path, content=body, headers={**headers, "X-Twilio-Signature": "x"})
        vapi = await http.post(
            "/webhooks/vapi", content=b"{}", headers={"Content-Type": "application/json"}
        )
    assert (forged.status_code, vapi.status_code) == (403, 401)
    assert (await _stats(ctx)).pending == 0


async def test_spool_failure_too_is_503_so_the_provider_retries(
    settings: Settings, clock: ManualClock, tmp_path: Path
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")  # the spool cannot create its folders under it
    async for graph in _down_graph(settings, clock, DirectorySpool(blocked / "spool")):
        path, body, headers = _stop()
        async with client(graph) as http:
            response = await http.post(path, content=body, headers=headers)
    assert response.status_code == 503
    assert response.json() == {"error": "database unavailable"}


# --- the drain --------------------------------------------------------------------------------
async def test_resend_event_is_verified_at_its_receive_time_hours_later(
    ctx: Context, down: Context, db: Db, clock: ManualClock
) -> None:
    lead_id = await seed_lead(ctx, db, email="ana@example.org", name="Ana")
    await sent_email(ctx, lead_id, "ana@example.org", "em-1", "e1")
    body = json.dumps(
        {
            "type": "email.complained",
            "created_at": "2026-11-26T15:00:00Z",
            "data": {"email_id": "em-1", "to": ["ana@example.org"]},
        }
    ).encode()
    stamp = str(int(clock.now().timestamp()))
    headers = {
        "Content-Type": "application/json",
        "svix-id": "msg_spooled",
        "svix-timestamp": stamp,
        "svix-signature": svix_signature(RESEND_SECRET, "msg_spooled", stamp, body),
    }
    async with client(down) as http:
        response = await http.post("/webhooks/resend", content=body, headers=headers)
    assert response.status_code == 200 and response.json() == {"spooled": True}
    clock.advance(timedelta(hours=3))  # far beyond Svix's 5-minute tolerance
    assert await drain_spool(ctx, ingest(ctx)) == {"spool_applied": 1}
    assert db.one("select reason from suppressions")["reason"] == "complaint"


async def test_drain_keeps_order_stops_while_down_and_sets_aside_a_refusal(
    ctx: Context, down: Context, db: Db, rebuild: Any
) -> None:
    lead_id = await seed_lead(ctx, db, phone=USER, name="Ana")
    await seed_campaign(ctx)
    queued = await enqueue_sms(ctx, lead_id, USER, "drip-1")
    async with client(down) as http:
        for request in (_stop("SMa", "hello?"), _stop("SMb", "STOP")):
            assert (
                await http.post(request[0], content=request[1], headers=request[2])
            ).status_code == 200
    assert await drain_spool(down, ingest(down)) == {"spool_waiting": 2}  # still down: kept

    assert await drain_spool(ctx, ingest(ctx)) == {"spool_applied": 2}
    assert [
        r["dedupe_key"] for r in db.rows("select dedupe_key from webhook_events order by id")
    ] == ["twilio:SMa", "twilio:SMb"]  # receive order
    late = db.one("select level, code, message, context from system_logs where source = 'spool'")
    assert (late["level"], late["code"], late["context"]) == ("warning", "applied_late",
                                                              {"applied": 2})  # fmt: skip
    assert late["message"] == "2 spooled request(s) applied after a database outage"
    assert db.one("select status from messages where id = %s", (queued,))["status"] == "cancelled"

    # spooled, then the auth token rotated before the drain: refused for good, kept aside
    async with client(down) as http:
        path, body, headers = _stop("SMc", "STOP")
        await http.post(path, content=body, headers=headers)
    rotated = await rebuild(twilio_auth_token=SecretStr("0" * 32))
    assert await drain_spool(rotated, ingest(rotated)) == {"spool_set_aside": 1}
    assert ctx.spool is not None
    [aside] = await ctx.spool.aside()
    assert aside.reason is not None and aside.reason.startswith("HTTP 403")
    assert aside.body == body  # the request as received, for a human (never dropped)
    logged = db.one("select source, code, key, message from system_logs"
                    " where source = 'spool' and code = 'set_aside'")  # fmt: skip
    assert (logged["code"], logged["key"]) == ("set_aside", aside.id)
    assert logged["message"].startswith("HTTP 403")


async def test_an_unreadable_entry_is_set_aside_and_the_requests_after_it_are_applied(
    ctx: Context, down: Context, db: Db
) -> None:
    """An operator moved a hand-edited request back from aside/ with a typo in it: it is set
    aside again (raw bytes kept, the reason in system_logs) and never blocks the STOP
    spooled after it."""
    lead_id = await seed_lead(ctx, db, phone=USER, name="Ana")
    async with client(down) as http:
        path, body, headers = _stop("SMafter", "STOP")
        assert (await http.post(path, content=body, headers=headers)).status_code == 200
    assert isinstance(ctx.spool, DirectorySpool)  # received earlier than the STOP: first
    broken = b'{"id": "01764000000000000-edited", "path": "/webhooks/twilio/sms",'
    (ctx.spool.root / "pending" / "01764000000000000-edited.json").write_bytes(broken)

    assert await drain_spool(ctx, ingest(ctx)) == {"spool_applied": 1, "spool_set_aside": 1}
    assert db.one("select sms_opted_out_at from leads where id = %s", (lead_id,))[
        "sms_opted_out_at"
    ]
    [kept] = await ctx.spool.aside()
    assert kept.body == broken and kept.reason is not None
    assert kept.reason.startswith("unreadable spool entry: JSONDecodeError")
    logged = db.one("select code, key from system_logs where code = 'set_aside'")
    assert logged == {"code": "set_aside", "key": "01764000000000000-edited"}


async def test_every_job_drains_first_and_the_guardian_alerts_while_events_wait(
    ctx: Context, down: Context, db: Db, clock: ManualClock, rebuild: Any
) -> None:
    lead_id = await seed_lead(ctx, db, phone=USER, name="Ana")
    async with client(down) as http:
        path, body, headers = _stop()
        await http.post(path, content=body, headers=headers)
    watch = Watch(ctx.repos, clock, ctx.alerts)
    assert await check_spool(watch, ctx.spool, after=300) == 1  # young: no alert yet
    clock.advance(timedelta(minutes=6))
    await check_spool(watch, ctx.spool, after=300)
    assert SPOOL_PENDING in await ctx.alerts.firing_keys()

    draining = await rebuild(ctx.settings)
    graph = Overrides(clock=clock, transport=ctx.transport, spool=ctx.spool, ingest=ingest)
    async with bootstrap(ctx.settings, graph) as jobs:
        outcome = await run_job(jobs, "appointments")
    assert outcome.counts["spool_applied"] == 1
    assert db.one("select sms_opted_out_at from leads where id = %s", (lead_id,))[
        "sms_opted_out_at"
    ]
    await check_spool(Watch(draining.repos, clock, draining.alerts), ctx.spool, after=300)
    firing = await ctx.alerts.firing_keys()
    assert SPOOL_PENDING not in firing and SPOOL_ASIDE not in firing


# --- the Modal adapter --------------------------------------------------------------------------
class _Aio:
    """A method with an `.aio` twin, as the modal SDK's (the adapter only calls `.aio`)."""

    def __init__(self, fn: Any) -> None:
        self.aio = fn


class _DictLike:
    """The part of `modal.Dict`'s API the adapter uses (modal 1.6.4: `put(key, value)`,
    `get(key, default)`, `pop(key, default)`, `keys()` an async generator; keys unordered),
    in memory: Modal itself cannot be reached from a test."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}

        async def put(key: str, value: str) -> bool:
            self.data[key] = value
            return True

        async def get(key: str, default: Any = None) -> Any:
            return self.data.get(key, default)

        async def pop(key: str, default: Any = None) -> Any:
            return self.data.pop(key, default)

        async def keys() -> AsyncIterator[str]:
            for key in reversed(list(self.data)):  # the SDK promises no order
                yield key

        self.put, self.get, self.pop, self.keys = _Aio(put), _Aio(get), _Aio(pop), _Aio(keys)


async def test_modal_dict_spool_orders_by_receive_time_and_keeps_refusals_apart() -> None:
    store = _DictLike()
    spool = ModalDictSpool("nightshift-spool", store=store)
    t0 = datetime(2026, 12, 6, 17, 0, tzinfo=UTC)
    first = SpooledRequest.new("/webhooks/twilio/sms", "", {}, b"Body=STOP", t0)
    second = SpooledRequest.new("/webhooks/vapi", "", {}, b"{}", t0 + timedelta(seconds=2))
    await spool.put(second)
    await spool.put(first)
    assert [r.id for r in await spool.pending(10)] == [first.id, second.id]
    assert all(isinstance(v, str) for v in store.data.values())  # JSON text, never a pickle
    await spool.set_aside(first, "HTTP 422: invalid value")
    await spool.remove(second.id)
    assert await spool.stats() == SpoolStats(0, None, 1)
    assert [(r.id, r.reason) for r in await spool.aside()] == [
        (first.id, "HTTP 422: invalid value")
    ]


def test_the_store_follows_spool_backend(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    monkeypatch.delenv("MODAL_IS_REMOTE", raising=False)
    assert isinstance(build_spool(settings), DirectorySpool)  # auto, outside Modal
    local = settings.model_copy(update={"spool_backend": "directory", "spool_dir": "/x/spool"})
    spool = build_spool(local)
    assert isinstance(spool, DirectorySpool) and spool.root == Path("/x/spool")


async def test_one_click_unsubscribe_during_the_outage_is_applied_by_the_drain(
    ctx: Context, down: Context, db: Db
) -> None:
    lead_id = await seed_lead(ctx, db, email="ana@example.org", name="Ana")
    token = UnsubscribeToken("ana@example.org", lead_id)
    path = unsubscribe_url(ctx.settings, token).removeprefix(PUBLIC)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    async with client(down) as http:
        answer = await http.post(path, content=b"List-Unsubscribe=One-Click", headers=form)
        forged = await http.post(
            "/u/forged.token", content=b"List-Unsubscribe=One-Click", headers=form
        )
    assert answer.status_code == 200 and "no more emails" in answer.text
    assert forged.status_code == 404 and (await _stats(ctx)).pending == 1
    assert await drain_spool(ctx, ingest(ctx)) == {"spool_applied": 1}
    assert db.one("select channel, reason from suppressions") == {
        "channel": "email",
        "reason": "unsubscribe",
    }


async def test_the_web_app_starts_and_spools_with_its_database_down(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The production wiring: the app's own lifespan builds the graph from settings (2 s pool
    wait, connect timeout) without waiting for the database, so a new container comes up
    during an outage and spools what it cannot store."""
    env = {
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
        "NIGHTSHIFT_DRY_RUN": "1",
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "PUBLIC_BASE_URL": PUBLIC,
        "SPOOL_DIR": str(tmp_path / "spool"),
        "SPOOL_BACKEND": "directory",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    get_settings.cache_clear()
    try:
        app = create_app()
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=PUBLIC) as http:
                path, body, headers = _stop()
                answer = await http.post(path, content=body, headers=headers)
                health = await http.get("/healthz")
    finally:
        get_settings.cache_clear()
    assert answer.status_code == 200 and health.status_code == 503
    assert len(list((tmp_path / "spool" / "pending").iterdir())) == 1
