"""Where the database-down page remembers itself, outside process memory (issue 15 item 5).

The direct page (app/alerts/direct.py) is sent when the database is down, so its dedupe state
(when each key was last paged) and the pages not yet recorded in `alerts` cannot live in the
database. In process memory a new container forgot them: on Modal each guardian tick may run
in a fresh container, so an outage paged every 5 minutes instead of every 30, and a page sent
by one container was never recorded by the next.

It lives in the webhook spool's store, the one durable place that works while the database
is down and is already provisioned and documented (docs/webhooks.md): the same named
`modal.Dict` on Modal (key `pager:direct`; a Dict entry outlives every container and expires
only after 7 days without a read or write, far beyond the 30-minute repeat interval), and a
file `pager.json` in the spool directory locally (written to a temporary file, fsynced,
renamed: a crash leaves the old state or the new one). A spool of another kind (a test's
fake) has no pager memory: the process memory alone is used, as before.

Contract: `load()` returns the stored `DirectPager` (empty when nothing is stored); `save()`
replaces it. Both may raise; the caller (direct.py) logs and falls back to process memory.
"""

from __future__ import annotations

import asyncio
import os
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import orjson

from app.core.settings import Settings
from app.providers.spool import DirectorySpool, Spool
from app.providers.spool_store import ModalDictSpool

KEY = "pager:direct"
FILE = "pager.json"


class PagerMemory(Protocol):
    name: str

    async def load(self) -> dict[str, Any]: ...

    async def save(self, state: dict[str, Any]) -> None: ...


class FilePagerMemory:
    """The state as JSON in one file (0600, in a 0700 directory)."""

    name = "file"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    async def load(self) -> dict[str, Any]:
        # read at every guardian run; almost always absent (nothing was paged directly):
        # one stat here instead of a worker thread's round trip
        if not self.path.exists():
            return {}
        return await asyncio.to_thread(self._read)

    async def save(self, state: dict[str, Any]) -> None:
        await asyncio.to_thread(self._write, orjson.dumps(state))

    def _read(self) -> dict[str, Any]:
        try:
            data = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, raw: bytes) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, raw)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)


class ModalDictPagerMemory:
    """The state as JSON text under `pager:direct` in the spool's named `modal.Dict`."""

    name = "modal_dict"

    def __init__(self, dict_name: str, store: Any = None) -> None:
        if store is None:
            import modal  # only inside Modal: a local process never pays for the SDK

            store = modal.Dict.from_name(dict_name, create_if_missing=True)
        self._dict = store

    async def load(self) -> dict[str, Any]:
        raw = await self._dict.get.aio(KEY)
        data = orjson.loads(raw) if raw else {}
        return data if isinstance(data, dict) else {}

    async def save(self, state: dict[str, Any]) -> None:
        await self._dict.put.aio(KEY, orjson.dumps(state).decode())


def pager_memory_for(spool: Spool | None, settings: Settings) -> PagerMemory | None:
    """The pager memory in the same store as `spool` (see the module docstring)."""
    if isinstance(spool, DirectorySpool):
        return FilePagerMemory(spool.root / FILE)
    if isinstance(spool, ModalDictSpool):
        return ModalDictPagerMemory(settings.spool_modal_dict)
    return None


def encode_time(value: datetime) -> str:
    return value.isoformat()


def decode_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None
