"""Twilio (SMS) over httpx: `POST /2010-04-01/Accounts/{sid}/Messages.json` (form-encoded,
HTTP Basic AccountSid:AuthToken).

Never twice: Twilio has no idempotency key for message creation. The outbox row is claimed
before the POST; after an ambiguous failure (read timeout, dropped connection, 5xx) the next
attempt first lists the messages sent to the number (`GET Messages.json?To=&From=`) and
treats one created since the claim with the same body as ours — only when none exists does
it POST again. 429/20429 ("never processed") is retried directly. Errors: `classify_twilio`
(21610 is permanent and opts the lead out of SMS).

`fetch_message(sid)` reads one message back (`GET /2010-04-01/Accounts/{Sid}/Messages/
{MessageSid}.json`, under the retry policy; None on 404) for the reconciler of lost status
callbacks (app/campaigns/message_reconcile.py).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
from pydantic import SecretStr

from app.core.clock import Clock
from app.providers.errors import AmbiguousProviderError, classify_twilio
from app.providers.http import call_provider, decoded, fetch_resource, parsed_url, send_prepared
from app.providers.ports import ProviderRequest, SendCheck, SendResult, SmsMessage, go_or_cancel
from app.providers.ratelimit import KeyedRateLimiter
from app.providers.retry import RetryPolicy

TWILIO_API = "https://api.twilio.com"
# Clock skew allowance between our claim time and Twilio's date_created.
RECONCILE_SLACK = timedelta(seconds=120)
# `quote_plus` of each ASCII character: unreserved ones kept, a space "+", the rest %XX
_ALWAYS_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
_FORM_ASCII = {
    code: "+" if code == 32 else chr(code) if chr(code) in _ALWAYS_SAFE else f"%{code:02X}"
    for code in range(128)
}
_HEADERS_KEPT = 4096  # distinct Content-Length values whose headers a MessagePost keeps


def form_quote(value: str) -> str:
    """`quote_plus(value)`, the same string: an ASCII value (most texts, every number) by
    one `str.translate` (a third of quote_plus's CPU), any other by quote_plus itself."""
    return value.translate(_FORM_ASCII) if value.isascii() else quote_plus(value)


@dataclass(frozen=True)
class TwilioConfig:
    account_sid: str
    auth_token: SecretStr | None
    from_number: str | None
    messaging_service_sid: str | None
    public_base_url: str
    base_url: str = TWILIO_API

    @property
    def messages_url(self) -> str:
        return f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json"

    def message_url(self, sid: str) -> str:
        base = f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}"
        return f"{base}/Messages/{quote(sid, safe='')}.json"

    @property
    def sender(self) -> str:
        """The rate-limit key: the Messaging Service when set (it wins), else the number."""
        return self.messaging_service_sid or self.from_number or "default"


def _callback_prefix(config: TwilioConfig) -> str:
    return f"{config.public_base_url}/webhooks/twilio/status?outbox="


def status_callback_url(config: TwilioConfig, outbox_id: int) -> str:
    return f"{_callback_prefix(config)}{outbox_id}"


def _sender_field(config: TwilioConfig) -> dict[str, str]:
    """Who sends: the Messaging Service when set (it wins), else the number, else nothing."""
    if config.messaging_service_sid:
        return {"MessagingServiceSid": config.messaging_service_sid}
    return {"From": config.from_number} if config.from_number else {}


def build_sms_request(message: SmsMessage, config: TwilioConfig) -> ProviderRequest:
    """The exact request for one SMS, credentials excluded."""
    form = {"To": message.to, "Body": message.body, **_sender_field(config)}
    form["StatusCallback"] = status_callback_url(config, message.outbox_id)
    return ProviderRequest(method="POST", url=config.messages_url, form=form)


class MessagePost:
    """The `POST Messages.json` of one sender, built by hand: what is the same for every text
    (the URL, the headers with the credentials, the sender and the status callback's prefix
    form-encoded) once; per text only `To`, `Body` and the outbox id are encoded. The request
    is byte for byte the one `client.post(url, data=build_sms_request(...).form,
    auth=BasicAuth(sid, token))` builds (same header order, `urlencode` of the same form:
    tests/providers/test_twilio_prepared.py); it goes out through `send_prepared`. `headers`:
    the client's default headers, as they are when the sender is built."""

    def __init__(self, config: TwilioConfig, headers: httpx.Headers) -> None:
        self.config, self.url = config, parsed_url(config.messages_url)
        token = config.auth_token.get_secret_value() if config.auth_token else ""
        basic = base64.b64encode(f"{config.account_sid}:{token}".encode()).decode()
        self._head = [(b"Host", self.url.netloc), *headers.raw]
        self._tail = [
            (b"Content-Type", b"application/x-www-form-urlencoded"),
            (b"Authorization", f"Basic {basic}".encode()),
        ]
        # the form after Body: the sender, then the callback whose id comes last (an id's
        # digits need no quoting: quote_plus(prefix + id) == quote_plus(prefix) + id)
        sender = "".join(f"&{k}={quote_plus(v)}" for k, v in _sender_field(config).items())
        self._form_tail = f"{sender}&StatusCallback={quote_plus(_callback_prefix(config))}"
        # the whole header list by body length (only Content-Length differs): httpx copies
        # a Headers it is given as it is, where a list is normalised header by header
        self._headers: dict[int, httpx.Headers] = {}

    def __repr__(self) -> str:  # the headers hold the credentials
        return f"MessagePost({self.url})"

    def body(self, message: SmsMessage) -> bytes:
        """`urlencode(build_sms_request(message, config).form)`, encoded."""
        to, text = form_quote(message.to), form_quote(message.body)
        return f"To={to}&Body={text}{self._form_tail}{message.outbox_id}".encode()

    def request(self, message: SmsMessage) -> httpx.Request:
        content = self.body(message)
        headers = self._headers.get(len(content))
        if headers is None:
            if len(self._headers) >= _HEADERS_KEPT:
                self._headers.clear()
            length = [(b"Content-Length", str(len(content)).encode())]
            headers = self._headers[len(content)] = httpx.Headers(self._head + length + self._tail)
        request = httpx.Request("POST", self.url, headers=headers, stream=httpx.ByteStream(content))
        request.read()  # the body in hand, as a client-built request has it
        return request


def _created_at(item: dict[str, Any]) -> datetime | None:
    try:
        return parsedate_to_datetime(str(item.get("date_created")))  # RFC 2822
    except (TypeError, ValueError):
        return None


def is_same_message(item: dict[str, Any], message: SmsMessage, since: datetime) -> bool:
    """A listed Twilio message is ours: same recipient and body, created since the claim.
    (Trial accounts prefix the body, hence endswith.)"""
    created = _created_at(item)
    return (
        item.get("to") == message.to
        and str(item.get("body") or "").endswith(message.body)
        and created is not None
        and created >= since - RECONCILE_SLACK
    )


class TwilioSmsSender:
    """SmsSender for Twilio; rate-limited per sender, retried by the one policy."""

    name = "twilio"

    def __init__(
        self,
        config: TwilioConfig,
        *,
        client: httpx.AsyncClient,
        retry: RetryPolicy,
        limiter: KeyedRateLimiter,
        clock: Clock,
    ) -> None:
        if config.auth_token is None:
            raise ValueError("TwilioSmsSender needs an auth token (use the dry-run twin)")
        self.config = config
        self.client = client
        self.retry = retry
        self.limiter = limiter
        self.clock = clock
        self._auth = httpx.BasicAuth(config.account_sid, config.auth_token.get_secret_value())
        self._post = MessagePost(config, client.headers)

    async def send(self, message: SmsMessage, check: SendCheck | None = None) -> SendResult:
        """Send (or find, after an ambiguous attempt) the text; `check` runs after the
        limiter's wait, right before each POST (see ports)."""
        since = message.ambiguous_since

        async def attempt() -> SendResult:
            nonlocal since
            if since is not None:
                found = await self.find_sent(message, since)
                if found is not None:
                    return found
            await self.limiter.acquire(self.config.sender)
            await go_or_cancel(check, message.outbox_id)
            try:
                data = await self._create(message)
            except AmbiguousProviderError:
                since = since or message.claimed_at
                raise
            return SendResult("twilio", str(data["sid"]), str(data.get("status", "queued")))

        return await self.retry.run(attempt, what=f"twilio sms outbox={message.outbox_id}")

    async def find_sent(self, message: SmsMessage, since: datetime) -> SendResult | None:
        """Reconcile: the message Twilio created for this row since `since`, if any."""
        params = {"To": message.to, "PageSize": "50"}
        if self.config.from_number and not self.config.messaging_service_sid:
            params["From"] = self.config.from_number
        lookup = ProviderRequest(method="GET", url=self.config.messages_url)
        data = await self._call(lookup, params=params)
        for item in data.get("messages") or []:
            if is_same_message(item, message, since):
                status = str(item.get("status", "queued"))
                return SendResult("twilio", str(item["sid"]), status, reconciled=True)
        return None

    async def fetch_message(self, provider_id: str) -> dict[str, Any] | None:
        """The Message resource as Twilio has it now; None when Twilio does not know it (404)."""
        lookup = ProviderRequest(method="GET", url=self.config.message_url(provider_id))
        return await fetch_resource(
            self._call, self.retry, lookup, what=f"twilio get message {provider_id}"
        )

    async def _create(self, message: SmsMessage) -> Any:
        """POST the text (the prepared request, `MessagePost`): Twilio's JSON answer, or the
        classified error, exactly as `_call` with `build_sms_request` would give."""
        if self._post.config is not self.config:  # the config was replaced: build anew
            self._post = MessagePost(self.config, self.client.headers)
        response = await send_prepared(self.client, self._post.request(message), provider="twilio")
        return decoded(response, "twilio", classify_twilio, self.clock.now())

    async def _call(self, request: ProviderRequest, params: dict[str, str] | None = None) -> Any:
        return await call_provider(
            self.client, "twilio", request, auth=self._auth, params=params,
            classify=classify_twilio, now=self.clock.now(),
        )  # fmt: skip
