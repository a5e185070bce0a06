"""The Supabase (PostgREST) path fails as fast as direct Postgres (issue 15 item 1): a web
request never waits longer than DB_ACQUIRE_TIMEOUT_SECONDS for PostgREST, and a verified
event it cannot take falls to the spool, applied by the drain once the database is back.
PostgREST is mocked with respx at the HTTP transport (a hang, a gateway's error page)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import respx
from pydantic import SecretStr

from app.core.clock import ManualClock
from app.core.settings import Settings
from app.db.errors import DatabaseUnavailable
from app.db.supabase import SupabaseTransport
from app.jobs.bootstrap import Context, Overrides, bootstrap
from app.jobs.spool import drain_spool
from app.webhooks import ingest
from tests.webhooks.helpers import Db, client, seed_campaign, seed_lead, signed_twilio

SUPABASE = "https://abcd1234.supabase.co"
RPC = f"{SUPABASE}/rest/v1/rpc/"
USER = "+14155550199"


def on_supabase(settings: Settings) -> Settings:
    return settings.model_copy(update={
        "supabase_url": SUPABASE, "supabase_service_role_key": SecretStr("service-role-key"),
        "db_acquire_timeout_seconds": 0.2,  # the test's bound (production: 2 s)
        "nightshift_dry_run": True,  # providers as dry runs, on purpose
    })  # fmt: skip


async def hang(request: httpx.Request) -> httpx.Response:
    """PostgREST accepted the connection and never answers (its database pool is stuck)."""
    await asyncio.sleep(3600)
    raise AssertionError("unreachable")


@pytest.fixture
async def supabase_web(
    settings: Settings, clock: ManualClock, ctx: Context
) -> AsyncIterator[Context]:
    """The web app's graph on Supabase (the transport the web bootstrap builds), sharing the
    test's spool; every PostgREST call hangs."""
    with respx.mock(assert_all_called=False) as router:
        router.post(url__startswith=RPC).mock(side_effect=hang)
        transport = await SupabaseTransport.from_settings(on_supabase(settings), web=True).open()
        overrides = Overrides(clock=clock, transport=transport, spool=ctx.spool)
        async with bootstrap(on_supabase(settings), overrides) as graph:
            yield graph


async def test_a_hanging_postgrest_spools_a_signed_stop_and_the_drain_applies_it(
    ctx: Context, supabase_web: Context, db: Db
) -> None:
    lead_id = await seed_lead(ctx, db, phone=USER, name="Ana")
    await seed_campaign(ctx)
    path, body, headers = signed_twilio(
        "/webhooks/twilio/sms",
        {"MessageSid": "SMhang1", "From": USER, "To": "+14155550123", "Body": "STOP"},
    )
    async with client(supabase_web) as http:
        answer = await http.post(path, content=body, headers=headers)
    assert answer.status_code == 200 and "<Response" in answer.text  # Twilio is answered
    assert ctx.spool is not None and (await ctx.spool.stats()).pending == 1

    assert await drain_spool(ctx, ingest(ctx)) == {"spool_applied": 1}  # the database is back
    lead = db.one("select sms_opted_out_at from leads where id = %s", (lead_id,))
    assert lead["sms_opted_out_at"] is not None


async def test_only_the_web_graph_bounds_the_whole_call(settings: Settings) -> None:
    """Jobs keep PostgREST's time for their long functions; both bound the way in."""
    web = SupabaseTransport.from_settings(on_supabase(settings), web=True)
    job = SupabaseTransport.from_settings(on_supabase(settings), web=False)
    assert (web.call_timeout, job.call_timeout) == (0.2, None)


@pytest.mark.parametrize("status", [502, 503, 504, 522])
@respx.mock
async def test_a_gateway_error_page_in_front_of_postgrest_is_unavailable(status: int) -> None:
    """Supabase's proxy or Cloudflare answers with an HTML page, not PostgREST's JSON."""
    page = "<html><body>error code: 522</body></html>"
    respx.post(f"{RPC}db_ping").mock(return_value=httpx.Response(status, text=page))
    transport = await SupabaseTransport(SUPABASE, "service-role-key").open()
    with pytest.raises(DatabaseUnavailable) as info:
        await transport.call("db_ping")
    assert info.value.code == str(status) and "<html>" not in str(info.value)


@respx.mock
async def test_a_hanging_postgrest_is_unavailable_after_the_bound() -> None:
    respx.post(f"{RPC}db_ping").mock(side_effect=hang)
    transport = await SupabaseTransport(SUPABASE, "key", call_timeout=0.05).open()
    with pytest.raises(DatabaseUnavailable, match=r"did not answer within 0\.05 s"):
        await transport.call("db_ping")
