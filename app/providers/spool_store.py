"""The spool's Modal adapter and the choice of store (app/providers/spool.py is the port).

`ModalDictSpool` keeps each spooled request in a named `modal.Dict` (docs/notes/
modal-storage.md): entries of a Dict created after 2025-05-20 are written to durable storage,
outlive every container and redeploy, and expire only after 7 days without a read or write
(the guardian alerts within minutes of the first one waiting). A Queue was refused: it is
in-memory without a durability promise, expires 24 h after the last put and its `get`
removes (a drainer that crashed would lose the event). A Volume was refused: a write is lost
if the container dies before a commit. Keys are plain strings (`pending:<id>`,
`aside:<id>`); values the request's JSON text (never a pickled object).

`build_spool(settings)`: SPOOL_BACKEND `modal`, `directory`, or `auto` (the Dict inside a
Modal container, where Modal sets MODAL_IS_REMOTE=1; the directory SPOOL_DIR elsewhere).
"""

from __future__ import annotations

import os
from typing import Any

from app.core.settings import Settings
from app.providers.spool import (
    DirectorySpool,
    Spool,
    SpooledRequest,
    SpoolStats,
    parse_entry,
    received_at_of,
    with_reason,
)

PENDING, ASIDE = "pending:", "aside:"


class ModalDictSpool:
    """A spool in the named `modal.Dict` `name` (created when missing), through the
    SDK's async (`.aio`) calls: each is one network round trip of a few dozen ms."""

    name = "modal_dict"

    def __init__(self, name: str, store: Any = None) -> None:
        if store is None:
            import modal  # only inside Modal: a local process never pays for the SDK

            store = modal.Dict.from_name(name, create_if_missing=True)
        self._dict = store

    async def _keys(self, prefix: str) -> list[str]:
        return sorted([k async for k in self._dict.keys.aio() if str(k).startswith(prefix)])

    async def put(self, request: SpooledRequest) -> None:
        await self._dict.put.aio(PENDING + request.id, request.to_json().decode())

    async def pending(self, limit: int) -> list[SpooledRequest]:
        found = []
        for key in (await self._keys(PENDING))[:limit]:
            raw = await self._dict.get.aio(key)
            if raw is not None:  # another drainer took it
                found.append(parse_entry(key.removeprefix(PENDING), raw))
        return found

    async def remove(self, request_id: str) -> None:
        await self._dict.pop.aio(PENDING + request_id, None)

    async def set_aside(self, request: SpooledRequest, reason: str) -> None:
        kept = with_reason(request, reason)
        await self._dict.put.aio(ASIDE + request.id, kept.to_json().decode())
        await self.remove(request.id)

    async def aside(self) -> list[SpooledRequest]:
        keys = await self._keys(ASIDE)
        return [SpooledRequest.from_json(await self._dict.get.aio(k)) for k in keys]

    async def stats(self) -> SpoolStats:
        pending, aside = await self._keys(PENDING), await self._keys(ASIDE)
        oldest = received_at_of(pending[0].removeprefix(PENDING)) if pending else None
        return SpoolStats(len(pending), oldest, len(aside))


def build_spool(settings: Settings) -> Spool:
    """The spool SPOOL_BACKEND names; see the module docstring."""
    backend = settings.spool_backend
    if backend == "auto":
        backend = "modal" if os.environ.get("MODAL_IS_REMOTE") == "1" else "directory"
    if backend == "modal":
        return ModalDictSpool(settings.spool_modal_dict)
    return DirectorySpool(settings.spool_dir)
