"""What the drip loop runs beside its batches, and the heap it runs on.

- `NextClaim`: the next batch's claim, started once this batch's rows are all claimed, run
  while this batch's texts are in flight;
- `Settling`: a batch's settle, left running in the database while the next batch is planned;
- `heap_frozen`: the process's long-lived objects kept out of the garbage collector's scans
  for the length of a run.
"""

from __future__ import annotations

import asyncio
import gc
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

from app.db.campaigns import ClaimedStep


class NextClaim:
    """The next batch's claim, started while this batch's sends are in flight, so the
    database works on it while Python sends. It starts only once every outbox row of this
    batch is written and claimed (`start`, from the delivery's `all_claimed`): the claim's
    snapshot of each lead (its recent texts for the state attempt caps, the campaign's sends
    today for the daily caps) then counts this batch's texts, exactly as a claim made after
    the batch would."""

    def __init__(self, claim: Callable[[], Coroutine[Any, Any, list[ClaimedStep]]]) -> None:
        self._claim = claim
        self._task: asyncio.Task[list[ClaimedStep]] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._claim())

    async def result(self) -> list[ClaimedStep]:
        self.start()
        assert self._task is not None
        return await self._task

    async def abandon(self) -> None:
        """This batch failed: wait for a claim in flight and drop it (its steps stay leased
        until the next tick frees orphan claims, as after a crash mid-batch)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)


@contextmanager
def heap_frozen() -> Iterator[None]:
    """The objects alive now (modules, settings, the graph; ~90,000 tracked containers when
    the bench's run starts) left out of the cyclic garbage collector's scans until the block
    ends (`gc.freeze`, undone by `gc.unfreeze`, both O(1)). A drip run allocates per step
    (claimed snapshots, plans, rows, requests) and most of it survives a batch, so Python's
    full collections trigger every few batches, and each walked all of that too: ~115 ms
    each, ~1 s of CPU per 10,000 steps, half of the run's Python (bench/dispatch.py; frozen,
    ~4 ms each). Frozen objects are still freed by reference counting; a cycle that dies
    inside the block is collected after it. Runs that overlap in one process nest harmlessly:
    the first to end unfreezes, the others run on unfrozen."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class Settling:
    """A batch's settle (`complete_steps`), sent to the database and left running while the
    loop plans the next batch (pure Python, which needs nothing of it); `done()` is awaited
    before the next batch's first database call, so the database sees the same statements
    in the same order as a settle awaited at once."""

    def __init__(self, task: asyncio.Task[Any], counts: Counter[str]) -> None:
        self._task, self.counts = task, counts

    async def done(self) -> Any:
        """The settle's result, once it has ended."""
        return await self._task

    async def abandon(self) -> None:
        await asyncio.gather(self._task, return_exceptions=True)
