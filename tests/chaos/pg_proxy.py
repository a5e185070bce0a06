"""A TCP proxy in front of the test Postgres that can be cut: the database "stops" for the
app (every open connection dropped, new ones refused) while the real server keeps running,
and "restarts" on the same address. The app's pool meets real network faults; nothing of
the database is mocked."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from psycopg import conninfo


class PgProxy:
    """`await PgProxy(dsn).start()`; `.dsn` is the database through the proxy;
    `await down()` cuts it, `await up()` restores it, `await close()` ends it."""

    def __init__(self, dsn: str) -> None:
        params = conninfo.conninfo_to_dict(dsn)
        self._target: dict[str, Any] = params
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()
        self.port = 0
        self.refused = 0  # connections refused or cut while down (faults injected)

    @property
    def dsn(self) -> str:
        params = {k: v for k, v in self._target.items() if k not in ("host", "port", "hostaddr")}
        return conninfo.make_conninfo(host="127.0.0.1", port=str(self.port), **params)

    async def _open_target(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        host, port = str(self._target.get("host") or "/tmp"), str(self._target.get("port") or 5432)
        if host.startswith("/"):  # the embedded server listens on a Unix socket
            return await asyncio.open_unix_connection(f"{host}/.s.PGSQL.{port}")
        return await asyncio.open_connection(host, int(port))

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await self._open_target()
        except OSError:
            writer.close()
            return
        self._pipes.update((writer, up_writer))
        await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))
        self._pipes.difference_update((writer, up_writer))

    async def start(self) -> PgProxy:
        await self.up()
        return self

    async def up(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        """Refuse new connections and drop every open one (as a stopped server would)."""
        if self._server is not None:
            self._server.close()
            self._server = None
        self.refused += len(self._pipes) // 2
        for pipe in list(self._pipes):
            pipe.transport.abort()
        self._pipes.clear()

    async def close(self) -> None:
        await self.down()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.transport.abort()
