"""Simulated Resend, Twilio and Vapi: adapters of the provider ports that accept instantly,
record every send, and schedule the webhooks the real provider (and the lead) would send.

Contract:
- `send`/`place` never fail and never sleep; each accepted send appends a `Sent` record
  (channel, virtual time, address, outbox id, idempotency key) to `World.sent` — the audit
  reads only that record, never nightshift's own bookkeeping;
- what follows a send is drawn from the lead's hidden propensities with a generator seeded
  by (run seed, channel, outbox key), independent of send order: email → delivered or a
  hard bounce, later maybe a click (more likely the warmer the lead's intent); SMS →
  delivered, later maybe STOP or a reply (likewise); call → ringing, then answered (by the
  lead's answer rate at its local hour) or not, a booking (its book rate, cooled by the
  days since its enquiry) through the real tool-call path, an end-of-call report;
- `find_sent`/`find_placed` return None (a simulated provider never loses an answer).
"""

from __future__ import annotations

import hashlib
import itertools
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import numpy as np

from app.core.clock import Clock
from app.providers.ports import (
    CallRequest,
    CallResult,
    EmailMessage,
    SendCheck,
    SendResult,
    SmsMessage,
    go_or_cancel,
)
from app.simulate import events as ev
from app.simulate.assistants import SimAssistants
from app.simulate.booking import book_by_phone
from app.simulate.population import SimLead
from app.simulate.wording import Revocation, text_revocation, voice_revocation


@dataclass(frozen=True)
class Sent:
    channel: str  # email | sms | call
    at: datetime
    to: str
    outbox_id: int
    key: str
    seq: int  # order among all sends and opt-outs (several can share one virtual instant)


@dataclass
class World:
    """Everything the simulated outside world knows: who is who, what was sent, outcomes."""

    clock: Clock
    rng: np.random.Generator
    queue: ev.EventQueue
    by_address: dict[str, SimLead]
    seed: int = 0
    sent: list[Sent] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    booked: set[int] = field(default_factory=set)  # lead indexes
    ids: itertools.count[int] = field(default_factory=itertools.count)
    focused: str = ""  # the send whose outcomes are being drawn (see `focus`)
    order: itertools.count[int] = field(default_factory=itertools.count)
    opt_outs: dict[tuple[str, str], int] = field(default_factory=dict)  # (address, channel)
    revocations: Counter[str] = field(default_factory=Counter)  # by scope (World.revoked)
    start: datetime | None = None  # the run's first instant: leads arrive after it
    booked_at: dict[int, datetime] = field(default_factory=dict)  # lead index -> booking
    assistants: SimAssistants | None = None  # assistant versions on trial (--assistants)

    def age(self, lead: SimLead) -> float:
        """Days since the lead's enquiry came in."""
        start = self.start or self.clock.now()
        arrived = start + timedelta(days=lead.arrives_after)
        return (self.clock.now() - arrived).total_seconds() / 86400

    def record(self, channel: str, to: str, outbox_id: int, key: str) -> None:
        self.sent.append(Sent(channel, self.clock.now(), to, outbox_id, key, next(self.order)))

    def opted_out(self, address: str, channel: str) -> None:
        """The opt-out webhook was accepted: from now on this is a violation to contact."""
        self.opt_outs.setdefault((address, channel), next(self.order))

    def revoked(self, lead: SimLead, scope: str) -> None:
        """The lead's revocation (any wording) reached nightshift: from now on a contact on
        a channel its words cover is a violation ("sms"; "calls"; "phone": calls and texts;
        "all": every channel)."""
        self.revocations[scope] += 1
        channels = {"sms": ("sms",), "calls": ("call",), "phone": ("sms", "call"),
                    "all": ("sms", "call", "email")}[scope]  # fmt: skip
        for channel in channels:
            self.opted_out(lead.email if channel == "email" else lead.phone, channel)

    def focus(self, channel: str, key: str) -> None:
        """Draw what follows this send from its own stream (seed, channel, outbox key), so
        outcomes do not depend on the order in which nightshift happens to send."""
        self.rng = np.random.default_rng([self.seed, zlib.crc32(f"{channel}:{key}".encode())])
        self.focused, self.ids = f"{channel}:{key}", itertools.count()

    def later(self, lo: float, hi: float) -> datetime:
        """A virtual instant `lo`..`hi` seconds from now."""
        return self.clock.now() + timedelta(seconds=float(self.rng.uniform(lo, hi)))

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def new_id(self, prefix: str) -> str:
        """A provider id from the send in focus (its key, then a count within it): the same
        for the same send however concurrent sends interleave."""
        digest = hashlib.sha1(f"{self.seed}:{self.focused}".encode()).hexdigest()[:16]
        return f"{prefix}{digest}{next(self.ids):02d}"


class SimEmail:
    name = "resend"

    def __init__(self, world: World) -> None:
        self.world = world

    async def send(self, message: EmailMessage, check: SendCheck | None = None) -> SendResult:
        await go_or_cancel(check, message.outbox_id)
        w, to = self.world, message.to
        w.record("email", to, message.outbox_id, message.idempotency_key)
        w.focus("email", message.idempotency_key)
        email_id = w.new_id("em_")
        lead = w.by_address.get(to)
        if lead is not None:
            self._follow_up(lead, email_id, to)
        return SendResult(self.name, email_id, "sent")

    def _follow_up(self, lead: SimLead, email_id: str, to: str) -> None:
        w = self.world
        if lead.bounces:
            bounce = {"type": "Permanent", "subType": "General", "message": "no such user"}
            at = w.later(5, 120)
            body = ev.resend_event("email.bounced", email_id, to, at, bounce=bounce)
            w.outcomes["email_bounced"] += 1
        else:
            at = w.later(5, 60)
            body = ev.resend_event("email.delivered", email_id, to, at)
        self._post(at, body, opt_out=to if lead.bounces else None)
        if not lead.bounces and w.chance(lead.click_chance(w.age(lead))):
            at = w.later(600, 6 * 3600)
            click = {"link": "https://sim.example.com/book", "timestamp": ev.iso(at)}
            self._post(at, ev.resend_event("email.clicked", email_id, to, at, click=click))
            w.outcomes["email_clicked"] += 1

    def _post(self, at: datetime, body: dict[str, object], opt_out: str | None = None) -> None:
        world, svix = self.world, self.world.new_id("msg_")

        async def action(http: httpx.AsyncClient) -> None:
            headers = {"svix-id": svix}
            response = await world.queue.post(http, "/webhooks/resend", json_body=body,
                                              headers=headers)  # fmt: skip
            if opt_out and response.is_success:
                world.opted_out(opt_out, "email")

        world.queue.schedule(at, action)


class SimSms:
    name = "twilio"

    def __init__(self, world: World) -> None:
        self.world = world

    async def send(self, message: SmsMessage, check: SendCheck | None = None) -> SendResult:
        await go_or_cancel(check, message.outbox_id)
        w, to = self.world, message.to
        w.record("sms", to, message.outbox_id, message.idempotency_key)
        w.focus("sms", message.idempotency_key)
        sid = w.new_id("SM")
        status = ev.twilio_status(sid, "delivered", to)
        self._post(w.later(2, 30), f"/webhooks/twilio/status?outbox={message.outbox_id}", status)
        lead = w.by_address.get(to)
        if lead is not None:
            if w.chance(lead.stop_rate):  # said as people say it (app/simulate/wording.py)
                w.outcomes["sms_stop"] += 1
                at = w.later(60, 4 * 3600)
                self._revoke(at, lead, text_revocation(w.rng))
            elif w.chance(lead.reply_chance(w.age(lead))):
                w.outcomes["sms_reply"] += 1
                self._inbound(w.later(60, 4 * 3600), to, "Yes please call me tomorrow")
        return SendResult(self.name, sid, "queued")

    async def find_sent(self, message: SmsMessage, since: datetime) -> SendResult | None:
        return None

    async def fetch_message(self, provider_id: str) -> dict[str, Any] | None:
        return None  # the simulated world never loses a status callback

    def _inbound(self, at: datetime, sender: str, body: str) -> None:
        form = ev.twilio_inbound(self.world.new_id("SM"), sender, body)
        self._post(at, "/webhooks/twilio/sms", form)

    def _revoke(self, at: datetime, lead: SimLead, revocation: Revocation) -> None:
        """The lead texts its revocation; once nightshift accepted it, the world holds it
        to the channels the words cover."""
        form = ev.twilio_inbound(self.world.new_id("SM"), lead.phone, revocation.text)
        self._post(at, "/webhooks/twilio/sms", form, revoked=(lead, revocation.scope))

    def _post(
        self, at: datetime, path: str, form: dict[str, str],
        revoked: tuple[SimLead, str] | None = None,
    ) -> None:  # fmt: skip
        world = self.world

        async def action(http: httpx.AsyncClient) -> None:
            response = await world.queue.post(http, path, form=form)
            if revoked and response.is_success:
                world.revoked(*revoked)

        world.queue.schedule(at, action)


class SimCalls:
    name = "vapi"

    def __init__(self, world: World) -> None:
        self.world = world

    async def place(self, request: CallRequest, check: SendCheck | None = None) -> CallResult:
        await go_or_cancel(check, request.outbox_id)
        w, to = self.world, request.to
        w.record("call", to, request.outbox_id, request.idempotency_key)
        w.focus("call", request.idempotency_key)
        call_id = w.new_id("call-")
        call = ev.vapi_call(call_id, to, dict(request.metadata))
        lead = w.by_address.get(to)
        version = await w.assistants.choose(request) if w.assistants else None
        self._schedule(call, lead, version)
        return CallResult(self.name, call_id, "queued")

    async def find_placed(self, request: CallRequest, since: datetime) -> CallResult | None:
        return None

    async def fetch_call(self, call_id: str) -> dict[str, Any] | None:
        return None  # the simulated world delivers every report

    def _schedule(
        self, call: dict[str, object], lead: SimLead | None, version: str | None = None
    ) -> None:
        w = self.world
        trial = w.assistants
        ringing = w.later(2, 10)
        self._post(ringing, ev.vapi_status(call, "ringing", ringing))
        hour = w.clock.now().astimezone(_zone(lead)).hour if lead else 12
        answered = lead is not None and w.chance(lead.answer_rate(hour))
        if not answered:
            reason = "voicemail" if w.chance(0.3) else "customer-did-not-answer"
            w.outcomes[f"call_{reason}"] += 1
            if trial:
                trial.observe(version, answered=False, booked=False)
            ended = ringing + timedelta(seconds=30)
            self._post(ended, ev.vapi_report(call, reason, ringing, ended, False))
            return
        assert lead is not None
        start = ringing + timedelta(seconds=5)
        self._post(start, ev.vapi_status(call, "in-progress", start))
        factor = trial.factor(version) if trial else 1.0
        books = w.chance(min(1.0, lead.book_chance(w.age(lead)) * factor))
        ended = start + timedelta(seconds=float(w.rng.uniform(60, 300)))
        w.outcomes["call_answered"] += 1
        said = voice_revocation(w.rng) if w.chance(lead.voice_stop_rate) else None
        if said is not None:  # asked not to be called: no booking; the tool, or only words
            w.outcomes["call_opt_out"] += 1
            if trial:
                trial.observe(version, answered=True, booked=False)
            self._finish(call, lead, start, ended, False, said, by_tool=w.chance(0.5))
            return
        self._finish(call, lead, start, ended, books, version=version)

    def _finish(
        self, call: dict[str, object], lead: SimLead, start: datetime, ended: datetime,
        books: bool, said: Revocation | None = None, by_tool: bool = False,
        version: str | None = None,
    ) -> None:  # fmt: skip
        w, queue = self.world, self.world.queue
        tool_id = w.new_id("tool_")

        async def action(http: httpx.AsyncClient) -> None:
            if said is not None:
                await self._voice_opt_out(http, call, lead, tool_id, said, by_tool, ended)
                return
            booked = books and await book_by_phone(queue, http, call, tool_id, lead, start)
            if booked:
                w.booked.add(lead.index)
                w.booked_at.setdefault(lead.index, w.clock.now())
                w.outcomes["call_booked"] += 1
            if w.assistants:
                w.assistants.observe(version, answered=True, booked=booked)
            reason = "assistant-ended-call" if booked else "customer-ended-call"
            report = ev.vapi_report(call, reason, start, ended, booked)
            await queue.post(http, "/webhooks/vapi", json_body=report)

        queue.schedule(ended, action)

    async def _voice_opt_out(
        self, http: httpx.AsyncClient, call: dict[str, object], lead: SimLead, tool_id: str,
        said: Revocation, by_tool: bool, ended: datetime,
    ) -> None:  # fmt: skip
        """The lead says stop on the call: the assistant calls `optOut` (by_tool), or only the
        end-of-call transcript holds the words (nightshift's fallback reads it)."""
        w, queue = self.world, self.world.queue
        told = False
        if by_tool:
            args = {"scope": "all" if said.scope == "all" else "calls", "reason": said.text}
            body = ev.vapi_tool(call, f"{tool_id}-optout", "optOut", args)
            told = (await queue.post(http, "/webhooks/vapi", json_body=body)).is_success
            if told:
                w.revoked(lead, said.scope)
        transcript = f"AI: Hi, this is Acme Home Services.\nUser: {said.text}\nAI: Understood."
        start = ended - timedelta(seconds=40)
        report = ev.vapi_report(call, "customer-ended-call", start, ended, False, transcript)
        if (await queue.post(http, "/webhooks/vapi", json_body=report)).is_success and not told:
            w.revoked(lead, said.scope)

    def _post(self, at: datetime, body: dict[str, object]) -> None:
        queue = self.world.queue

        async def action(http: httpx.AsyncClient) -> None:
            await queue.post(http, "/webhooks/vapi", json_body=body)

        queue.schedule(at, action)


def _zone(lead: SimLead | None) -> ZoneInfo:
    return ZoneInfo(lead.region.timezone if lead else "America/New_York")
