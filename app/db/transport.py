"""The Transport port and its Postgres adapter.

A transport calls one Postgres function by name with named arguments and returns its rows
as dicts. A function returning a scalar comes back as one row `{function_name: value}`;
`setof`/`table` functions as one dict per row; `void` as `[{fn: None}]` or `[]`.
Arguments that are dicts or lists of dicts are sent as jsonb.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Protocol

import orjson
import psycopg
from psycopg import pq, sql
from psycopg.types.json import Jsonb, set_json_dumps, set_json_loads
from psycopg_pool import AsyncConnectionPool

from app.db.errors import DatabaseUnavailable, translate

Row = dict[str, Any]
_ROW_SETS = frozenset(
    {pq.ExecStatus.TUPLES_OK, pq.ExecStatus.SINGLE_TUPLE, pq.ExecStatus.TUPLES_CHUNK}
)
_KEEP_BYTES = 8192  # a kept cursor's last result: at most ~8 kB per call text and connection
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class Transport(Protocol):
    """Calls a Postgres function by name. Implementations raise only app.db.errors types."""

    name: str

    async def call(self, function: str, args: Mapping[str, Any] | None = None) -> list[Row]: ...

    async def close(self) -> None: ...


def check_identifier(name: str) -> str:
    """Refuse anything that is not a plain lower-case identifier (function or argument)."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a valid function or argument name: {name!r}")
    return name


def _adapt(value: Any) -> Any:
    if isinstance(value, dict) or (
        isinstance(value, list) and any(isinstance(v, dict | list) for v in value)
    ):
        return Jsonb(value)
    return value


def build_call(function: str, args: Mapping[str, Any]) -> sql.Composed:
    """`select * from fn(p_a => %(p_a)s, ...)` with every name checked and quoted."""
    named = sql.SQL(", ").join(
        sql.SQL("{} => {}").format(sql.Identifier(check_identifier(k)), sql.Placeholder(k))
        for k in args
    )
    return sql.SQL("select * from {}({})").format(sql.Identifier(check_identifier(function)), named)


@lru_cache(maxsize=1024)
def call_text(function: str, names: tuple[str, ...]) -> bytes:
    """`build_call` rendered once per function and argument names: composing it again on
    every call cost ~0.1 ms, a fifth of a round trip (a simulated month makes ~500,000)."""
    return build_call(function, dict.fromkeys(names)).as_bytes(None)


class PostgresTransport:
    """psycopg 3 async pool. `prepare_threshold=None`: Supabase's transaction pooler
    (Supavisor, port 6543) does not support prepared statements.

    Fast failure (issue 15): a call waits at most `acquire_timeout` for a pooled connection
    and a new connection at most `connect_timeout` (libpq, whole seconds, at least 2), so a
    dead database answers `DatabaseUnavailable` in about 2 s, not 30 (webhooks are then
    spooled). `open(wait=False)` starts without the database (the web app: it must come up
    to spool events during an outage); the pool keeps reconnecting in the background."""

    name = "postgres"

    def __init__(
        self,
        dsn: str,
        *,
        max_size: int = 10,
        min_size: int = 1,
        open_timeout: float = 15.0,
        acquire_timeout: float = 30.0,
        connect_timeout: int = 2,
    ) -> None:
        self._open_timeout = open_timeout
        self._pool = AsyncConnectionPool(
            dsn,
            connection_class=_CallConnection,
            min_size=min_size,
            max_size=max_size,
            open=False,
            timeout=acquire_timeout,
            kwargs={
                "autocommit": True,
                "prepare_threshold": None,
                "connect_timeout": max(2, connect_timeout),
            },
            configure=_configure,
        )

    async def open(self, *, wait: bool = True) -> PostgresTransport:
        try:
            await self._pool.open(wait=wait, timeout=self._open_timeout)
        except Exception as exc:  # psycopg_pool.PoolTimeout, OperationalError
            raise DatabaseUnavailable(f"cannot connect to Postgres: {exc}") from exc
        return self

    async def call(self, function: str, args: Mapping[str, Any] | None = None) -> list[Row]:
        if args:
            query = call_text(function, tuple(args))
            params: dict[str, Any] | None = {k: _adapt(v) for k, v in args.items()}
        else:  # psycopg sends an empty mapping the same way: simple protocol, no parameters
            query, params = call_text(function, ()), None
        pool = self._pool
        try:
            # getconn/putconn, not `pool.connection()`: that context also enters the
            # connection's own context, whose commit/rollback is a no-op in autocommit
            # (putconn still rolls back or discards a connection left in a bad state).
            conn = await pool.getconn()
            try:
                return await _execute(conn, query, params)
            finally:
                await pool.putconn(conn)
        except psycopg.OperationalError as exc:
            if exc.sqlstate is None:  # the connection broke: no server answered at all
                raise DatabaseUnavailable(_message(exc), function=function) from exc
            raise translate(exc.sqlstate, _message(exc), function) from exc
        except psycopg.Error as exc:
            raise translate(exc.sqlstate, _message(exc), function) from exc
        except Exception as exc:  # pool timeout or closed pool
            if exc.__class__.__module__.startswith("psycopg_pool"):
                raise DatabaseUnavailable(str(exc), function=function) from exc
            raise

    async def close(self) -> None:
        await self._pool.close()


class _CallConnection(psycopg.AsyncConnection[tuple[Any, ...]]):
    """A pooled connection that keeps a cursor per call text (function and argument names).

    A new cursor per call builds its adapters map and transformer again, and a cursor
    keeps its transformer (the dumpers and loaders it looked up) only while it runs the
    same query object again: ~30-45 us of this process's CPU a call in all
    (bench/transport_call_ab.py). The pool lends a connection to one task at a time, so
    its cursors are never shared; a broken connection is discarded with its cursors. A
    kept cursor holds its last result until its next call, so a cursor whose result is
    larger than `_KEEP_BYTES` is closed instead of kept."""

    call_cursors: dict[bytes, psycopg.AsyncCursor[tuple[Any, ...]]] | None = None


async def _execute(conn: _CallConnection, query: bytes, params: dict[str, Any] | None) -> list[Row]:
    """Run `query` on `conn`'s cursor for it; its rows as dicts keyed by column name.

    Rows come as tuples and are zipped with the names read once from the result: psycopg's
    `dict_row` and `cursor.description` each build a `Column` object per column per call.
    No rows when the result has no columns and is not a row set (as `cursor.description`
    is None then)."""
    cursors = conn.call_cursors
    if cursors is None:
        cursors = conn.call_cursors = {}
    cur = cursors.get(query)
    if cur is None:
        cur = cursors[query] = conn.cursor()
    await cur.execute(query, params)
    res = cur.pgresult
    if res is None or not (res.nfields or res.status in _ROW_SETS):
        return []
    encoding = conn.info.encoding
    nfields = res.nfields
    names = [
        fname.decode(encoding) if (fname := res.fname(i)) else f"column_{i + 1}"
        for i in range(nfields)
    ]
    rows = [dict(zip(names, row, strict=True)) for row in await cur.fetchall()]
    # the result's size estimated from its first row: exact for the usual one-row result
    if (
        rows
        and len(rows) * sum(len(res.get_value(0, i) or b"") for i in range(nfields)) > _KEEP_BYTES
    ):
        del cursors[query]
        await cur.close()
    return rows


def _dumps(value: Any) -> bytes:
    # OPT_NON_STR_KEYS: int keys become strings, as the stdlib's json.dumps does
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


async def _configure(conn: _CallConnection) -> None:
    """jsonb through orjson on this connection: a drip batch decodes ~700 kB of claimed
    steps, 57 ms with the stdlib json, 5.5 ms with orjson (measured, bench/RESULTS.md)."""
    set_json_loads(orjson.loads, conn)
    set_json_dumps(_dumps, conn)


def _message(exc: psycopg.Error) -> str:
    diag = exc.diag
    primary = diag.message_primary or str(exc).strip()
    return f"{primary} ({diag.message_detail})" if diag.message_detail else primary
