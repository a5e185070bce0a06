"""The database-down page remembers itself outside process memory (issue 15): on Modal each
guardian tick may run in a new container, which used to page again every 5 minutes instead
of every 30, and never recorded a page an earlier container sent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import respx

from app.alerts.direct import DB_DOWN_KEY, DirectPager, page_directly, record_direct_pages
from app.alerts.pager_memory import FilePagerMemory, ModalDictPagerMemory
from app.core.clock import ManualClock
from app.jobs.alerting import direct_line
from tests.alerts.support import (
    MESSAGES_URL,
    PHONE,
    RESEND,
    RESEND_EMAILS,
    TWILIO,
    MakeCtx,
    query,
    twilio_created,
)


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        router.post(MESSAGES_URL, name="sms").mock(
            return_value=httpx.Response(201, json=twilio_created("SM0001", PHONE, "x"))
        )
        router.post(RESEND_EMAILS, name="email").mock(
            return_value=httpx.Response(200, json={"id": "4ef9a417-02e9-4d39-ad75-9611e0fcc33c"})
        )
        yield router


def new_container(monkeypatch: pytest.MonkeyPatch) -> DirectPager:
    """A fresh process: its own, empty, process memory."""
    pager = DirectPager()
    monkeypatch.setattr("app.alerts.direct.PAGER", pager)
    return pager


async def test_a_new_container_does_not_page_again_within_the_repeat_interval(
    make_ctx: MakeCtx, clock: ManualClock, api: respx.MockRouter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    ctx = await make_ctx(**RESEND, **TWILIO)
    first = await page_directly(direct_line(ctx), DB_DOWN_KEY, "database unreachable", {})
    assert first is not None and api["sms"].call_count == 1

    new_container(monkeypatch)
    clock.advance(timedelta(minutes=5))  # the next guardian tick, another container
    assert await page_directly(direct_line(ctx), DB_DOWN_KEY, "database unreachable", {}) is None
    assert api["sms"].call_count == 1

    new_container(monkeypatch)
    clock.advance(timedelta(minutes=26))  # past ALERT_REPEAT_CRITICAL_MINUTES (30)
    assert await page_directly(direct_line(ctx), DB_DOWN_KEY, "database unreachable", {})
    assert api["sms"].call_count == 2


async def test_a_page_sent_by_one_container_is_recorded_by_the_next(
    make_ctx: MakeCtx, clock: ManualClock, api: respx.MockRouter, database_dsn: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    ctx = await make_ctx(**RESEND, **TWILIO)
    page = await page_directly(direct_line(ctx), DB_DOWN_KEY, "database unreachable", {})
    assert page is not None

    pager = new_container(monkeypatch)
    line = direct_line(ctx)
    assert await record_direct_pages(ctx.repos.alerts, ctx.clock, memory=line.memory) == 1
    (row,) = query(database_dsn, "select key, last_notified_at from alerts")
    assert row == {"key": DB_DOWN_KEY, "last_notified_at": page.sent_at}
    assert pager.unrecorded == []
    # recorded once: a third container finds nothing left to record
    new_container(monkeypatch)
    assert await record_direct_pages(ctx.repos.alerts, ctx.clock, memory=line.memory) == 0


async def test_an_unwritable_memory_still_pages_and_dedupes_in_process(
    make_ctx: MakeCtx, api: respx.MockRouter, tmp_path: Path
) -> None:
    ctx = await make_ctx(**RESEND, **TWILIO)
    (tmp_path / "blocked").write_text("a file where the directory should be")
    line = direct_line(ctx)
    broken = type(line)(line.sms, line.email, line.policy, line.clock,
                        memory=FilePagerMemory(tmp_path / "blocked" / "pager.json"))  # fmt: skip
    assert await page_directly(broken, DB_DOWN_KEY, "database unreachable", {}) is not None
    assert await page_directly(broken, DB_DOWN_KEY, "database unreachable", {}) is None
    assert api["sms"].call_count == 1


class FakeModalDict:
    """The two calls of modal.Dict the memory makes (`.get.aio`, `.put.aio`)."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        outer = self

        class _Get:
            async def aio(self, key: str) -> str | None:
                return outer.data.get(key)

        class _Put:
            async def aio(self, key: str, value: str) -> None:
                outer.data[key] = value

        self.get, self.put = _Get(), _Put()


async def test_the_modal_memory_keeps_the_state_as_json_text_under_one_key() -> None:
    store = FakeModalDict()
    memory = ModalDictPagerMemory("nightshift-spool", store=store)
    assert await memory.load() == {}
    await memory.save({"last_sent": {DB_DOWN_KEY: "2026-12-06T03:00:00+00:00"}})
    assert list(store.data) == ["pager:direct"] and isinstance(store.data["pager:direct"], str)
    assert (await memory.load())["last_sent"] == {DB_DOWN_KEY: "2026-12-06T03:00:00+00:00"}
