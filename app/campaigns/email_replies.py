"""A lead's email reply (Resend `email.received`): find the lead, read what they wrote,
decide what it means, stop their sequences, show it on their timeline.

Contract of `handle_received(deps, data)` (`data`: the event's verified `data` object):
- the body comes from Resend's receiving API (`deps.fetch`, the webhook carries metadata
  only); a fetch failure raises `ProviderError` and nothing is stored, so the webhook answers
  5xx and Resend's retries fetch again. Without a fetch (no API key: dry run) the metadata
  is used and the row says `body_fetched = false`;
- the lead: the signed reply token in To/Cc/Bcc/received_for first (app.core.tokens), else
  the sender's address;
- meaning: an automatic answer (app.campaigns.email_text) is `auto_reply` and changes
  nothing; otherwise the text the person wrote (quoted history stripped) goes through the
  same revocation classifier as texts (app.consent.revocation, channel "email"):
  `opt_out` opts out of the channels it covers (email at least), `ambiguous` holds the
  lead for a human, anything else is a `reply`: lead engaged, stop rules `on_reply`;
- the operator gets a copy of a reply or an ambiguous one (OPERATOR_EMAILS, else ONCALL_EMAILS);
- idempotent by Resend's email id (`resend:received:<id>`): a retry or replay changes nothing;
- one `email_replies` row per email: the lead's timeline reads it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from email.utils import getaddresses, parseaddr
from html import escape
from typing import Any

from app.campaigns.email_text import auto_reply_reason, reply_text
from app.consent.revocation import classify
from app.core.clock import Clock
from app.core.tokens import ReplyToken, read_reply_address
from app.db.outbox import MessageIn
from app.db.webhooks import EmailReplyResult, WebhookRepository
from app.providers.resend import ReceivedEmail

Fetch = Callable[[str], Awaitable[ReceivedEmail]]
_EMAIL_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
_RE_PREFIX = re.compile(r"^\s*((re|aw|sv|fwd?|rv)\s*:\s*)+", re.IGNORECASE)
_BODY_LIMIT = 20_000  # characters kept of what the person wrote


class NotAReply(ValueError):
    """The event has no usable email id: nothing to fetch or record."""


@dataclass(frozen=True)
class EmailReplyDeps:
    webhooks: WebhookRepository
    clock: Clock
    link_secret: bytes
    operator_emails: tuple[str, ...]
    email_provider: str  # the outbox provider name of the operator's copy
    fetch: Fetch | None = None  # None: no receiving API (dry run): metadata only


@dataclass(frozen=True)
class Meaning:
    kind: str  # reply | opt_out | ambiguous | auto_reply
    scope: tuple[str, ...] = ()
    reason: str = ""


def _addresses(values: Iterable[Any]) -> list[str]:
    flat = [v for v in values if isinstance(v, str)]
    return [addr.lower() for _, addr in getaddresses(flat) if addr]


def find_token(secret: bytes, addresses: Iterable[str]) -> ReplyToken | None:
    """The first genuine reply token among the addresses the email was sent to."""
    for address in addresses:
        token = read_reply_address(secret, address)
        if token is not None:
            return token
    return None


def meaning(text: str, subject: str | None, auto: str | None) -> Meaning:
    """auto_reply, else the consent classifier's verdict on the text (or on a subject the
    person wrote themselves when the text is empty or says nothing more)."""
    if auto is not None:
        return Meaning("auto_reply", reason=auto)
    verdict = classify(text, "email") if text else None
    own_subject = subject and not _RE_PREFIX.match(subject) and subject.strip()
    if (verdict is None or verdict.kind not in ("opt_out", "ambiguous")) and own_subject:
        by_subject = classify(subject or "", "email")
        if by_subject.kind in ("opt_out", "ambiguous"):
            verdict = by_subject
    if verdict is None or verdict.kind not in ("opt_out", "ambiguous"):
        return Meaning("reply", reason=verdict.reason if verdict else "empty body")
    scope = tuple(sorted({*verdict.scope, "email"})) if verdict.kind == "opt_out" else ()
    return Meaning(verdict.kind, scope, verdict.reason)


async def _content(deps: EmailReplyDeps, email_id: str, data: dict[str, Any]) -> ReceivedEmail:
    if deps.fetch is not None:
        return await deps.fetch(email_id)
    return ReceivedEmail.model_validate(
        {"id": email_id, "from": data.get("from") or "", "subject": data.get("subject"),
         "to": _list(data.get("to")), "cc": _list(data.get("cc")),
         "received_for": _list(data.get("received_for"))}
    )  # fmt: skip


def _list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


async def handle_received(deps: EmailReplyDeps, data: dict[str, Any]) -> EmailReplyResult:
    """Fetch, classify and record one received email (see the module contract)."""
    email_id = data.get("email_id")
    if not isinstance(email_id, str) or not _EMAIL_ID.match(email_id):
        raise NotAReply("email.received without a usable email_id")
    email = await _content(deps, email_id, data)
    sender = parseaddr(email.from_ or str(data.get("from") or ""))[1].lower()
    recipients = _addresses(
        [*email.to, *email.cc, *email.received_for, *_list(data.get("to")),
         *_list(data.get("cc")), *_list(data.get("bcc")), *_list(data.get("received_for"))]
    )  # fmt: skip
    token = find_token(deps.link_secret, recipients)
    text = reply_text(email.text, email.html)[:_BODY_LIMIT]
    subject = email.subject if email.subject is not None else data.get("subject")
    found = meaning(text, subject, auto_reply_reason(email.headers, subject, sender))
    reply = {
        "email_id": email_id, "kind": found.kind, "scope": list(found.scope),
        "reason": found.reason or None, "from_address": sender, "subject": subject,
        "body": text, "body_fetched": deps.fetch is not None,
        "lead_id": token.lead_id if token else None,
        "enrollment_id": token.enrollment_id if token else None,
        "position": token.position if token else None,
    }  # fmt: skip
    notify = _operator_copy(deps, email_id, sender, subject, text, found.kind)
    return await deps.webhooks.apply_resend_inbound(
        f"resend:received:{email_id}", reply, {"type": "email.received", "data": data},
        notify, deps.clock.now(),
    )  # fmt: skip


def _operator_copy(
    deps: EmailReplyDeps, email_id: str, sender: str, subject: str | None, text: str, kind: str
) -> list[MessageIn]:
    if kind not in ("reply", "ambiguous"):
        return []
    title = (f"Needs review: is this an opt-out? ({sender})" if kind == "ambiguous"
             else f"A lead replied by email ({sender})")  # fmt: skip
    html = (f"<p>{escape(sender)} wrote (subject: {escape(subject or '')}):</p>"
            f"<blockquote>{escape(text)}</blockquote>")  # fmt: skip
    payload = {"subject": title, "html": html, "text": f"{sender}: {text}"}
    return [
        MessageIn(idempotency_key=f"email-reply-notify:{email_id}:{to}", channel="email",
                  to_address=to, provider=deps.email_provider, kind="transactional",
                  payload=payload)
        for to in deps.operator_emails
    ]  # fmt: skip
