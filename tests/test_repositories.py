"""The repository layer over PostgresTransport against a real Postgres, and
SupabaseTransport's exact PostgREST requests and error translation (respx)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import httpx
import pytest
import respx

from app.core.clock import ManualClock
from app.db import ConflictError, DatabaseUnavailable, InvalidInput, NotFound, Repositories
from app.db.models import LeadIn
from app.db.supabase import SupabaseTransport
from app.db.transport import PostgresTransport, build_call
from tests.conftest import START

SUPABASE = "https://abcd1234.supabase.co"
KEY = "service-role-test-key"


async def test_ping_returns_server_time(transport: PostgresTransport) -> None:
    ping = await Repositories(transport).health.ping()
    assert ping.server_version.startswith("16") or ping.server_version[:2].isdigit()


async def test_leads_upsert_merges_on_phone_then_email(
    transport: PostgresTransport, clock: ManualClock
) -> None:
    repos = Repositories(transport)
    first = await repos.leads.upsert(
        [
            LeadIn(name="Ann", phone="+15125550100", state="TX"),
            LeadIn(name="Bob", email="bob@example.com"),
        ],
        clock.now(),
    )
    assert (first.inserted, first.updated) == (2, 0)
    again = await repos.leads.upsert(
        [
            LeadIn(name="Ann B", phone="+15125550100", email="ann@example.com"),
            LeadIn(email="BOB@example.com", phone="+15125550199"),
        ],
        clock.now(),
    )
    assert (again.inserted, again.updated) == (0, 2)
    counts = await repos.leads.counts()
    assert counts.total == 2 and counts.by_status == {"new": 2}


async def test_check_violation_is_invalid_input(
    transport: PostgresTransport, clock: ManualClock
) -> None:
    with pytest.raises(InvalidInput) as info:
        await Repositories(transport).leads.upsert([LeadIn(phone="555-0100")], clock.now())
    assert info.value.code == "23514" and info.value.function == "upsert_leads"


async def test_unknown_function_is_not_found(transport: PostgresTransport) -> None:
    with pytest.raises(NotFound):
        await transport.call("no_such_function", {"p_x": 1})


async def test_unique_violation_is_conflict(
    transport: PostgresTransport, clock: ManualClock
) -> None:
    repos = Repositories(transport)
    run_id = uuid.uuid4()
    await repos.job_runs.start("drip", run_id, "h", 60, clock.now())
    with pytest.raises(ConflictError):  # the same run id twice (lease expired, id reused)
        await repos.job_runs.start("drip", run_id, "h", 60, clock.now() + timedelta(hours=1))


async def test_logs_written_and_read_back_newest_first(
    transport: PostgresTransport, clock: ManualClock
) -> None:
    repos = Repositories(transport)
    await repos.logs.write("info", "test", "first", clock.now())
    await repos.logs.write("error", "test", "second", clock.advance(timedelta(seconds=1)), {"a": 1})
    logs = await repos.logs.recent(10)
    assert [entry.message for entry in logs] == ["second", "first"]
    assert logs[0].context == {"a": 1}
    assert [e.message for e in await repos.logs.recent(10, min_level="warning")] == ["second"]


def test_names_are_checked_and_quoted() -> None:
    with pytest.raises(ValueError):
        build_call("drop table leads; --", {})
    with pytest.raises(ValueError):
        build_call("db_ping", {"p_x) or 1=1 --": 1})


async def test_unreachable_postgres_is_database_unavailable() -> None:
    pg = PostgresTransport("postgresql://nobody@127.0.0.1:1/none", max_size=1, open_timeout=0.5)
    with pytest.raises(DatabaseUnavailable):
        await pg.open()
    await pg.close()


# --- SupabaseTransport over PostgREST ---------------------------------------------------------


@respx.mock
async def test_supabase_rpc_request_shape() -> None:
    route = respx.post(f"{SUPABASE}/rest/v1/rpc/upsert_leads").mock(
        return_value=httpx.Response(200, json=[{"inserted": 1, "updated": 0}])
    )
    repos = Repositories(await SupabaseTransport(SUPABASE, KEY).open())
    counts = await repos.leads.upsert(
        [LeadIn(name="Ann", phone="+15125550100")],
        ManualClock(START).now(),
    )
    assert (counts.inserted, counts.updated) == (1, 0)
    request = route.calls.last.request
    assert request.headers["apikey"] == KEY
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {
        "p_leads": [{"name": "Ann", "phone": "+15125550100", "attributes": {}, "consents": []}],
        "p_now": "2026-11-26 15:00:00+00:00",
    }


@respx.mock
async def test_supabase_scalar_result_has_the_postgres_shape() -> None:
    respx.post(f"{SUPABASE}/rest/v1/rpc/write_system_log").mock(
        return_value=httpx.Response(200, json=42)
    )
    transport = await SupabaseTransport(SUPABASE, KEY).open()
    assert await transport.call("write_system_log", {}) == [{"write_system_log": 42}]


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (
            409,
            {
                "code": "23505",
                "details": "Key (id)=(1) exists.",
                "hint": None,
                "message": "duplicate key value violates unique constraint",
            },
            ConflictError,
        ),
        (
            400,
            {
                "code": "22023",
                "details": None,
                "hint": None,
                "message": "p_lease_seconds must be positive",
            },
            InvalidInput,
        ),
        (
            404,
            {
                "code": "PGRST202",
                "details": "Searched for the function public.nope",
                "hint": None,
                "message": "Could not find the function public.nope",
            },
            NotFound,
        ),
        (
            503,
            {
                "code": "PGRST003",
                "details": None,
                "hint": None,
                "message": "Timed out acquiring connection from connection pool.",
            },
            DatabaseUnavailable,
        ),
    ],
)
@respx.mock
async def test_supabase_errors_are_translated(
    status: int, body: dict[str, object], error: type
) -> None:
    respx.post(f"{SUPABASE}/rest/v1/rpc/start_job_run").mock(
        return_value=httpx.Response(status, json=body)
    )
    transport = await SupabaseTransport(SUPABASE, KEY).open()
    with pytest.raises(error) as info:
        await transport.call("start_job_run", {"p_job": "drip"})
    assert info.value.code == body["code"]
    assert KEY not in str(info.value)


@respx.mock
async def test_supabase_connection_failure_is_unavailable() -> None:
    respx.post(f"{SUPABASE}/rest/v1/rpc/db_ping").mock(side_effect=httpx.ConnectError("refused"))
    transport = await SupabaseTransport(SUPABASE, KEY).open()
    with pytest.raises(DatabaseUnavailable):
        await transport.call("db_ping")
