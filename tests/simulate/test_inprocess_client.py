"""The simulator's in-process client hands the app the request httpx's ASGITransport would:
the same method, path, query, body and headers that matter, the app finished (background work
included) before the answer comes back, and an app's exception raised to the caller."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from app.simulate.asgi import InProcessClient

BASE = "https://nightshift.example.com"
CLIENT = ("127.0.0.1", 5555)
BODY = b"MessageSid=SM1&MessageStatus=delivered&To=%2B14155550199"
HEADERS = {"Content-Type": "application/x-www-form-urlencoded",
           "X-Twilio-Signature": "KbMqqA1kxstkWmIbxfTplB3i/nQ="}  # fmt: skip


class Echo:
    """Records what it was handed; answers 201 with a header and the body back."""

    def __init__(self) -> None:
        self.scope: dict[str, Any] = {}
        self.body = b""
        self.after_answer: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = dict(scope)
        more = True
        while more:
            message = await receive()
            self.body += message.get("body", b"")
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 201,
                    "headers": [(b"content-type", b"text/plain"), (b"x-echo", b"1")]})  # fmt: skip
        await send({"type": "http.response.body", "body": self.body})
        await asyncio.sleep(0)  # a background task runs after the answer is sent
        self.after_answer.append("done")


def _view(scope: dict[str, Any]) -> dict[str, Any]:
    """What the app reads from a scope (httpx adds user-agent, accept, ... it never reads)."""
    ours = {"content-type", "x-twilio-signature", "host", "content-length"}
    headers = sorted((k, v) for k, v in scope["headers"] if k.decode() in ours)
    keys = ("type", "http_version", "method", "scheme", "path", "raw_path", "query_string",
            "root_path", "server", "client")  # fmt: skip
    return {**{k: scope[k] for k in keys}, "headers": headers}


async def test_the_app_sees_what_httpx_would_hand_it() -> None:
    path = "/webhooks/twilio/status?outbox=42"
    via_httpx, ours = Echo(), Echo()
    transport = httpx.ASGITransport(app=via_httpx, client=CLIENT)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        expected = await http.post(path, content=BODY, headers=HEADERS)
    async with InProcessClient(ours, BASE, CLIENT) as client:
        answer = await client.post(path, content=BODY, headers=HEADERS)
    assert _view(ours.scope) == _view(via_httpx.scope)
    assert ours.scope["path"] == "/webhooks/twilio/status"
    assert ours.scope["query_string"] == b"outbox=42"
    assert ours.body == via_httpx.body == BODY
    assert (answer.status_code, answer.text, answer.headers["x-echo"]) == (
        expected.status_code, expected.text, expected.headers["x-echo"])  # fmt: skip
    assert answer.is_success


async def test_a_base_url_with_a_path_is_joined_as_httpx_joins_it() -> None:
    via_httpx, ours = Echo(), Echo()
    transport = httpx.ASGITransport(app=via_httpx, client=CLIENT)
    async with httpx.AsyncClient(transport=transport, base_url=BASE + "/hooks") as http:
        await http.post("/webhooks/resend?a=1", content=b"{}", headers={})
    async with InProcessClient(ours, BASE + "/hooks", CLIENT) as client:
        await client.post("/webhooks/resend?a=1", content=b"{}", headers={})
    assert _view(ours.scope) == _view(via_httpx.scope)
    assert ours.scope["path"] == "/hooks/webhooks/resend"


async def test_the_answer_comes_back_once_the_app_has_finished() -> None:
    app = Echo()
    async with InProcessClient(app, BASE, CLIENT) as client:
        await client.post("/webhooks/resend", content=b"{}", headers={})
    assert app.after_answer == ["done"]


async def test_a_later_receive_waits_for_the_answer_then_says_the_client_left() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()

        async def listen() -> None:
            message: Message = await receive()
            seen.append(message["type"])

        listener = asyncio.create_task(listen())
        await asyncio.sleep(0)
        assert seen == []  # still waiting: the answer is not complete
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        await listener

    async with InProcessClient(app, BASE, CLIENT) as client:
        assert (await client.post("/x", content=b"", headers={})).text == "ok"
    assert seen == ["http.disconnect"]


async def test_an_app_exception_reaches_the_caller_and_other_calls_are_refused() -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("handler exploded")

    async with InProcessClient(broken, BASE, CLIENT) as client:
        with pytest.raises(RuntimeError, match="handler exploded"):
            await client.post("/webhooks/vapi", content=b"{}", headers={})
        with pytest.raises(TypeError):
            await client.post("/webhooks/vapi", json={"a": 1})
        with pytest.raises(TypeError):
            await client.post("https://elsewhere.example/webhooks/vapi", content=b"", headers={})
