"""The last-moment check: re-check a claimed outbox row right before its provider request.

A batch claims its rows a little ahead of their sends (`CLAIM_AHEAD`) and then each waits in
its channel's rate limiter; an opt-out (a STOP, a do-not-contact) or the end of the permitted
window can land in between. So each adapter awaits the row's `SendCheck` after the limiter let
it go and before the HTTP request (app/providers/ports.py), and the check is one
`mark_sending` round trip, which re-checks opt-outs, suppressions and the window and, in the
same statement, takes a refused row out of 'sending' (cancelled, or back to the queue) so no
other path sends it either (supabase/schemas/03_outbox.sql).

Throughput: the checks of rows whose turn comes together (a limiter that spaces nothing, a
fast provider with many sends in flight) are coalesced into ONE call: every check asked for
before the event loop comes round again shares a `mark_sending`. At Twilio's 1 text/s each
text has its own, which costs a round trip per second.
"""

from __future__ import annotations

import asyncio

from app.core.clock import Clock
from app.db.outbox import OutboxRepository, SendVerdict
from app.providers.ports import SendCheck


class LastMomentChecks:
    """Hands out each row's `SendCheck` and remembers each verdict (`verdicts`)."""

    def __init__(self, outbox: OutboxRepository, clock: Clock) -> None:
        self.outbox = outbox
        self.clock = clock
        self.verdicts: dict[int, SendVerdict] = {}
        self._pending: dict[int, asyncio.Future[SendVerdict]] = {}
        self._flush: asyncio.Task[None] | None = None

    def check_for(self, row_id: int) -> SendCheck:
        """The check the adapter awaits for `row_id`: True when the row may go now."""

        async def check() -> bool:
            verdict = await self._verdict(row_id)
            self.verdicts[row_id] = verdict
            return verdict == "go"

        return check

    async def _verdict(self, row_id: int) -> SendVerdict:
        future: asyncio.Future[SendVerdict] = asyncio.get_running_loop().create_future()
        self._pending[row_id] = future
        if self._flush is None:
            self._flush = asyncio.create_task(self._mark())
        return await future

    async def _mark(self) -> None:
        await asyncio.sleep(0)  # the checks asked for in this same turn of the loop join in
        batch, self._pending, self._flush = self._pending, {}, None
        try:
            verdicts = await self.outbox.mark_sending(list(batch), self.clock.now())
        except Exception as exc:  # no verdict, no send: each waiting adapter gets the error
            for future in batch.values():
                if not future.done():
                    future.set_exception(exc)
            return
        for row_id, future in batch.items():
            if not future.done():  # a waiting send may have been cancelled meanwhile
                future.set_result(verdicts.get(row_id, "done"))
