"""A small Chrome DevTools Protocol client for the browser tests: headless Chromium (the
Debian package) driven over its websocket, as a person would use the pages — load, type,
click (real mouse events at the element's position), wait for the next page, screenshot.

Only what the tests need; every wait has a timeout so a broken page fails the test instead
of hanging it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

TIMEOUT = 60.0


class Page:
    """One tab: commands go to its session, its events queue up for `wait_for`."""

    def __init__(self, ws: ClientConnection, session: str) -> None:
        self.ws, self.session = ws, session
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.next_id = 0

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if self.session:  # "": the browser itself
            message["sessionId"] = self.session
        await self.ws.send(json.dumps(message))
        answer = await asyncio.wait_for(future, TIMEOUT)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        result: dict[str, Any] = answer.get("result", {})
        return result

    def drain(self) -> None:
        while not self.events.empty():
            self.events.get_nowait()

    async def wait_for(self, method: str) -> dict[str, Any]:
        async def first() -> dict[str, Any]:
            while True:
                event = await self.events.get()
                if event["method"] == method:
                    return event

        return await asyncio.wait_for(first(), TIMEOUT)

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    async def goto(self, url: str) -> None:
        self.drain()
        await self.send("Page.navigate", url=url)
        await self.wait_for("Page.loadEventFired")

    async def html(self) -> str:
        return str(await self.evaluate("document.documentElement.outerHTML"))

    async def type_into(self, selector: str, text: str) -> None:
        find = f"document.querySelector({json.dumps(selector)})"
        found = await self.evaluate(
            "(() => { const e = " + find + "; if (!e) return false;"
            " e.focus(); if (e.select) e.select(); return true; })()"
        )
        assert found, f"nothing matches {selector}"
        await self.send("Input.insertText", text=text)

    async def click(self, selector: str, *, navigates: bool = True) -> None:
        """A real left click at the middle of the first element matching `selector`."""
        find = f"document.querySelector({json.dumps(selector)})"
        box = await self.evaluate(
            "(() => { const e = " + find + "; if (!e) return null;"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        assert box, f"nothing matches {selector}"
        self.drain()
        for kind in ("mousePressed", "mouseReleased"):
            await self.send("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1],
                            button="left", clickCount=1)  # fmt: skip
        if navigates:
            await self.wait_for("Page.loadEventFired")

    async def screenshot(self, path: Path) -> bytes:
        shot = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        png = base64.b64decode(shot["data"])
        await asyncio.to_thread(path.write_bytes, png)
        return png


async def _read(ws: ClientConnection, pages: dict[str, Page]) -> None:
    async for raw in ws:
        message = json.loads(raw)
        page = pages.get(message.get("sessionId", ""))
        if page is None:
            continue
        if "id" in message:
            future = page.pending.pop(message["id"], None)
            if future is not None and not future.done():
                future.set_result(message)
        else:
            page.events.put_nowait(message)


@asynccontextmanager
async def browser(binary: str, profile: Path, width: int = 1280,
                  height: int = 1000) -> AsyncIterator[Page]:  # fmt: skip
    """Headless Chromium with one tab open, closed (and its process ended) on exit."""
    proc = await asyncio.create_subprocess_exec(
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--hide-scrollbars", f"--user-data-dir={profile}", "about:blank",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        url = ""
        while not url:
            line = (await asyncio.wait_for(proc.stderr.readline(), TIMEOUT)).decode()
            assert line, "chromium exited before listening"
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            url = found.group(1) if found else ""
        async with connect(url, max_size=None) as ws:
            pages: dict[str, Page] = {}
            reader = asyncio.create_task(_read(ws, pages))
            root = Page(ws, "")
            pages[""] = root
            target = await root.send("Target.createTarget", url="about:blank")
            attached = await root.send("Target.attachToTarget", targetId=target["targetId"],
                                       flatten=True)  # fmt: skip
            page = Page(ws, attached["sessionId"])
            pages[page.session] = page
            await page.send("Page.enable")
            await page.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                            deviceScaleFactor=1, mobile=False)  # fmt: skip
            try:
                yield page
            finally:
                reader.cancel()
    finally:
        proc.kill()
        await proc.wait()
