"""PostgresTransport.call keeps a cursor per call text on each pooled connection and
builds row dicts from tuples (bench/transport_call_ab.py): the result shapes stay those of
its docstring, and no call sees another's rows — after a failed call, a cancelled call, a
dropped connection, or with calls running side by side on the pool — and a large result
is not kept on an idle connection."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import psycopg
import pytest

from app.db.errors import DatabaseUnavailable, InvalidInput, NotFound
from app.db.transport import PostgresTransport

SHAPES = """
create function t_echo_lead(p_lead uuid, p_note text, p_meta jsonb)
returns table (lead_id uuid, note text, meta jsonb, channel text)
language sql as $$ select p_lead, p_note, p_meta, p_meta ->> 'channel' $$;

create function t_steps(p_count int)
returns table (step int, body text)
language sql as $$
  select g, 'Hi Dana, reminder ' || g || ' - reply STOP to opt out'
  from generate_series(1, p_count) g
$$;

create function t_count_leads() returns bigint language sql as $$ select 42::bigint $$;

create function t_touch(p_lead uuid) returns void language sql as $$ select $$;

create function t_wait(p_seconds float8) returns void language sql as $$
  select pg_sleep(p_seconds)
$$;

create function t_claim(p_lead uuid) returns table (lead_id uuid) language plpgsql as $$
begin
  raise exception 'lead % is opted out', p_lead using errcode = 'P0001';
end $$;
"""
ACTIVE = "select 1 from pg_stat_activity where pid = %s and query like '%%t_wait%%'"
LEAD = uuid.UUID("5f0c6a52-6c1e-4f57-9a57-1b8f1d0c2a11")


@pytest.fixture
async def one_conn(database_dsn: str) -> AsyncIterator[PostgresTransport]:
    """The shape functions, and a transport with a single pooled connection: every call
    goes through the same connection (and so the same call cursor) unless it is replaced."""
    with psycopg.connect(database_dsn, autocommit=True) as admin:
        admin.execute(SHAPES)
    pg = await PostgresTransport(database_dsn, max_size=1).open()
    yield pg
    await pg.close()


async def test_result_shapes_are_those_of_the_contract(one_conn: PostgresTransport) -> None:
    meta = {"channel": "sms", "tags": ["drip", "day-2"]}
    assert await one_conn.call("t_echo_lead", {"p_lead": LEAD, "p_note": "Hi", "p_meta": meta}) == [
        {"lead_id": LEAD, "note": "Hi", "meta": meta, "channel": "sms"}
    ]
    assert await one_conn.call("t_count_leads") == [{"t_count_leads": 42}]
    assert await one_conn.call("t_touch", {"p_lead": LEAD}) == [{"t_touch": None}]
    assert await one_conn.call("t_steps", {"p_count": 0}) == []
    steps = await one_conn.call("t_steps", {"p_count": 50})
    assert [row["step"] for row in steps] == list(range(1, 51))
    assert list(steps[0]) == ["step", "body"]
    assert steps[49]["body"] == "Hi Dana, reminder 50 - reply STOP to opt out"
    ping = await one_conn.call("db_ping", {})
    assert list(ping[0]) == ["server_time", "server_version"]


async def test_a_failed_call_leaves_nothing_for_the_next(one_conn: PostgresTransport) -> None:
    assert len(await one_conn.call("t_steps", {"p_count": 3})) == 3
    with pytest.raises(InvalidInput, match="is opted out"):
        await one_conn.call("t_claim", {"p_lead": LEAD})
    with pytest.raises(NotFound):
        await one_conn.call("t_no_such_function", {"p_lead": LEAD})
    assert await one_conn.call("t_touch", {"p_lead": LEAD}) == [{"t_touch": None}]
    assert await one_conn.call("t_steps", {"p_count": 2}) == [
        {"step": 1, "body": "Hi Dana, reminder 1 - reply STOP to opt out"},
        {"step": 2, "body": "Hi Dana, reminder 2 - reply STOP to opt out"},
    ]


async def test_a_cancelled_call_does_not_hand_its_rows_to_the_next(
    one_conn: PostgresTransport, database_dsn: str
) -> None:
    before = (await one_conn.call("pg_backend_pid"))[0]["pg_backend_pid"]
    slow = asyncio.create_task(one_conn.call("t_wait", {"p_seconds": 2}))
    with psycopg.connect(database_dsn, autocommit=True) as admin:
        for _ in range(1000):  # the task runs between polls; cancelled once the server runs it
            await asyncio.sleep(0.01)
            if admin.execute(ACTIVE, [before]).fetchone():
                break
        else:
            pytest.fail("t_wait never started")
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    assert await one_conn.call("t_steps", {"p_count": 1}) == [
        {"step": 1, "body": "Hi Dana, reminder 1 - reply STOP to opt out"}
    ]
    assert await one_conn.call("t_count_leads") == [{"t_count_leads": 42}]


async def test_a_dropped_connection_is_replaced_with_its_cursor(
    one_conn: PostgresTransport, database_dsn: str
) -> None:
    before = (await one_conn.call("pg_backend_pid"))[0]["pg_backend_pid"]
    with psycopg.connect(database_dsn, autocommit=True) as admin:
        admin.execute("select pg_terminate_backend(%s)", [before])
    with pytest.raises(DatabaseUnavailable):
        await one_conn.call("t_steps", {"p_count": 1})
    after = (await one_conn.call("pg_backend_pid"))[0]["pg_backend_pid"]
    assert after != before
    assert await one_conn.call("t_touch", {"p_lead": LEAD}) == [{"t_touch": None}]


async def test_calls_side_by_side_each_get_their_own_rows(database_dsn: str) -> None:
    with psycopg.connect(database_dsn, autocommit=True) as admin:
        admin.execute(SHAPES)
    pg = await PostgresTransport(database_dsn, max_size=3).open()
    try:
        leads = [uuid.UUID(int=i + 1) for i in range(60)]
        echoes = [
            pg.call("t_echo_lead", {"p_lead": lead, "p_note": f"n{i}", "p_meta": {"i": i}})
            for i, lead in enumerate(leads)
        ]
        steps = [pg.call("t_steps", {"p_count": n}) for n in range(60)]
        results = await asyncio.gather(
            *(c for pair in zip(echoes, steps, strict=True) for c in pair)
        )
    finally:
        await pg.close()
    for i, lead in enumerate(leads):
        assert results[2 * i] == [
            {"lead_id": lead, "note": f"n{i}", "meta": {"i": i}, "channel": None}
        ]
        assert [row["step"] for row in results[2 * i + 1]] == list(range(1, i + 1))


async def test_a_large_result_is_not_kept_on_the_idle_connection(
    one_conn: PostgresTransport,
) -> None:
    for _ in range(2):  # the second time on a new cursor, the same rows
        steps = await one_conn.call("t_steps", {"p_count": 500})  # ~25 kB
        assert [row["step"] for row in steps] == list(range(1, 501))
    assert len(await one_conn.call("t_steps", {"p_count": 2})) == 2
    async with one_conn._pool.connection() as conn:
        kept = [cur.pgresult for cur in (conn.call_cursors or {}).values()]
    assert kept, "small results keep their cursor"
    assert all(res and res.ntuples <= 2 for res in kept)
