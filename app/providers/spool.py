"""The webhook spool: where a *verified* request waits while the database cannot take it.

Contract (issue 15 item 1, docs/webhooks.md "Database outage: the spool"):
- `Spool` is the port: `put` keeps one raw request (the headers needed to verify it again,
  the body bytes, its route, the time it was received) durably before the provider gets its
  2xx; `pending` lists what waits, oldest received first; `remove` forgets an applied one;
  `set_aside` keeps one that failed for good with its reason (never dropped); `stats` says how
  much waits and since when (the guardian's alert).
- Adapters: `DirectorySpool` (a directory, `.nightshift/spool/` by default: each request is
  one JSON file written to `tmp/`, fsynced, renamed into `pending/`, the directory fsynced,
  so a crash leaves either the whole file or none) and `ModalDictSpool`
  (app/providers/spool_modal.py: a named `modal.Dict`, which outlives every container).
- `drain(spool, apply, limit)` applies pending requests in receive order through `apply`
  (the web app's own routes: app/webhooks/drain.py) and stops at the first one the database
  still cannot take; a request `apply` refuses for good is set aside with the reason, and
  so is an entry that cannot be read (`parse_entry`: kept with its raw bytes), never
  blocking the requests after it.
- Nothing here reads a credential: the headers are kept as the provider sent them, and the
  store is private (files 0600 in a 0700 directory; a Dict of the deploying workspace).
"""

from __future__ import annotations

import base64
import contextlib
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import orjson
import structlog

log = structlog.get_logger(__name__)

# What re-verification needs (Twilio, Vapi, Svix/Resend, the booking HMAC, Cal.com) and the
# content type the routes check; every other header is dropped.
KEPT_HEADERS = frozenset(
    {
        "content-type",
        "x-twilio-signature",
        "x-vapi-secret",
        "authorization",
        "x-signature",
        "x-timestamp",
        "svix-id",
        "svix-timestamp",
        "svix-signature",
        "x-booking-signature",
        "x-cal-signature-256",
    }
)
VERSION = 1


@dataclass(frozen=True)
class SpooledRequest:
    """One verified request as it arrived. `id` sorts in receive order."""

    id: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    received_at: datetime
    method: str = "POST"
    reason: str | None = None  # why it was set aside (None while pending)

    @classmethod
    def new(
        cls, path: str, query: str, headers: Mapping[str, str], body: bytes, received_at: datetime
    ) -> SpooledRequest:
        """A request to spool; its id is the receive time (µs), a tie-breaker, a random tail."""
        at = received_at.astimezone(UTC)
        micros = int(at.timestamp() * 1_000_000)
        name = f"{micros:017d}-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        kept = {k.lower(): v for k, v in headers.items() if k.lower() in KEPT_HEADERS}
        return cls(name, path, query, kept, body, at)

    def to_json(self) -> bytes:
        data: dict[str, Any] = {
            "version": VERSION, "id": self.id, "method": self.method, "path": self.path,
            "query": self.query, "headers": self.headers,
            "body_b64": base64.b64encode(self.body).decode("ascii"),
            "received_at": self.received_at.isoformat(), "reason": self.reason,
        }  # fmt: skip
        return orjson.dumps(data)

    @classmethod
    def from_json(cls, raw: bytes | str) -> SpooledRequest:
        data = orjson.loads(raw)
        return cls(
            id=str(data["id"]), path=str(data["path"]), query=str(data.get("query", "")),
            headers={str(k): str(v) for k, v in dict(data["headers"]).items()},
            body=base64.b64decode(data["body_b64"]),
            received_at=datetime.fromisoformat(data["received_at"]),
            method=str(data.get("method", "POST")), reason=data.get("reason"),
        )  # fmt: skip


@dataclass(frozen=True)
class SpoolStats:
    pending: int
    oldest_received_at: datetime | None
    aside: int


class Spool(Protocol):
    """The port; see the module contract. Implementations are safe to share between tasks,
    and two drainers at once are harmless (every apply is idempotent by its dedupe key)."""

    name: str

    async def put(self, request: SpooledRequest) -> None: ...

    async def pending(self, limit: int) -> list[SpooledRequest]: ...

    async def remove(self, request_id: str) -> None: ...

    async def set_aside(self, request: SpooledRequest, reason: str) -> None: ...

    async def aside(self) -> list[SpooledRequest]: ...

    async def stats(self) -> SpoolStats: ...


def parse_entry(request_id: str, raw: bytes | str) -> SpooledRequest:
    """The request kept under `request_id`. An entry that cannot be read (a hand edit gone
    wrong when a request was moved back from aside) comes back as a placeholder: no path,
    its raw bytes as the body, `reason` saying why. The drain sets it aside instead of
    failing on it at every run (which would keep every later request waiting)."""
    try:
        return SpooledRequest.from_json(raw)
    except (ValueError, KeyError, TypeError) as exc:  # JSON, base64 and date errors too
        try:
            at = received_at_of(request_id)
        except (ValueError, OverflowError, OSError):
            at = datetime.fromtimestamp(0, UTC)
        body = raw if isinstance(raw, bytes) else raw.encode()
        reason = f"unreadable spool entry: {type(exc).__name__}: {exc}"[:300]
        return SpooledRequest(request_id, "", "", {}, body, at, reason=reason)


def received_at_of(request_id: str) -> datetime:
    """The receive time encoded in an id (no read of the entry itself)."""
    return datetime.fromtimestamp(int(request_id.split("-", 1)[0]) / 1_000_000, UTC)


class DirectorySpool:
    """A spool in a local directory: `pending/`, `aside/` and `tmp/` under `root`."""

    name = "directory"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _dir(self, part: str) -> Path:
        path = self.root / part
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def _names(self, part: str) -> list[str]:
        """The entries of `part`, sorted (receive order); reading never creates folders."""
        try:  # scandir, not glob: the drain asks on every run, and glob's matching cost more
            with os.scandir(self.root / part) as entries:
                return sorted(e.name for e in entries if e.name.endswith(".json"))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def _write(self, part: str, request: SpooledRequest) -> None:
        tmp = self._dir("tmp") / f"{request.id}.json"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, request.to_json())
            os.fsync(fd)  # the bytes are on disk before the name appears
        finally:
            os.close(fd)
        target = self._dir(part)
        os.replace(tmp, target / tmp.name)
        _fsync_dir(target)  # ... and the name is on disk before the provider gets its 2xx

    async def put(self, request: SpooledRequest) -> None:
        # blocking, but only during an outage and only one fsynced file (milliseconds)
        self._write("pending", request)

    async def pending(self, limit: int) -> list[SpooledRequest]:
        names = self._names("pending")[:limit]
        found = []
        for name in names:
            with contextlib.suppress(FileNotFoundError):  # another drainer took it
                raw = (self.root / "pending" / name).read_bytes()
                found.append(parse_entry(name.removesuffix(".json"), raw))
        return found

    async def remove(self, request_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.root / "pending" / f"{request_id}.json")
            _fsync_dir(self.root / "pending")

    async def set_aside(self, request: SpooledRequest, reason: str) -> None:
        self._write("aside", with_reason(request, reason))
        await self.remove(request.id)

    async def aside(self) -> list[SpooledRequest]:
        names = self._names("aside")
        return [SpooledRequest.from_json((self.root / "aside" / n).read_bytes()) for n in names]

    async def stats(self) -> SpoolStats:
        names = self._names("pending")
        oldest = received_at_of(names[0].removesuffix(".json")) if names else None
        return SpoolStats(len(names), oldest, len(self._names("aside")))


def with_reason(request: SpooledRequest, reason: str) -> SpooledRequest:
    return SpooledRequest(
        request.id, request.path, request.query, request.headers, request.body,
        request.received_at, request.method, reason[:500],
    )  # fmt: skip


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- the drain -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Verdict:
    """What applying one spooled request came to: `applied` (or a duplicate: forget it),
    `retry` (the database still cannot take it: stop, keep it), `aside` (refused for good)."""

    kind: Literal["applied", "retry", "aside"]
    reason: str = ""


Apply = Callable[[SpooledRequest], Awaitable[Verdict]]


@dataclass
class DrainReport:
    applied: int = 0
    set_aside: int = 0
    waiting: int = 0  # still pending when the drain stopped (the database still down)
    aside: list[tuple[SpooledRequest, str]] = field(default_factory=list)  # with reasons

    def counts(self) -> dict[str, int]:
        """The non-zero counts, for a job run's counts and the logs."""
        found = {"spool_applied": self.applied, "spool_set_aside": self.set_aside,
                 "spool_waiting": self.waiting}  # fmt: skip
        return {k: v for k, v in found.items() if v}


async def drain(spool: Spool, apply: Apply, *, limit: int) -> DrainReport:
    """Apply up to `limit` pending requests, oldest received first; see the module contract.
    An exception from `apply` is a refusal for good (set aside with its text): the routes
    answer every database outage with a status, so what escapes is a bug that a retry would
    meet again."""
    report = DrainReport()
    batch = await spool.pending(limit)
    for index, request in enumerate(batch):
        try:
            if not request.path:  # an entry that could not be read (parse_entry)
                verdict = Verdict("aside", request.reason or "unreadable spool entry")
            else:
                verdict = await apply(request)
        except Exception as exc:
            verdict = Verdict("aside", f"{type(exc).__name__}: {exc}")
        if verdict.kind == "retry":
            report.waiting = len(batch) - index
            log.warning("spool drain stopped: the database still cannot take events",
                        waiting=report.waiting, reason=verdict.reason)  # fmt: skip
            break
        if verdict.kind == "aside":
            await spool.set_aside(request, verdict.reason)
            report.set_aside += 1
            report.aside.append((request, verdict.reason))
            log.error("spooled event set aside", spool_id=request.id, path=request.path,
                      reason=verdict.reason[:200])  # fmt: skip
            continue
        await spool.remove(request.id)
        report.applied += 1
    if report.applied or report.set_aside:
        log.info("spool drained", **report.counts())
    return report
