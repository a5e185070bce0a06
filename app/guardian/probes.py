"""Health probes of the database and of each provider that runs for real.

Each probe has a timeout (GUARDIAN_PROBE_TIMEOUT_SECONDS) and is recorded in `health_checks`
with its latency. Credentials the provider rejects (401/403) → critical `probe.<target>.auth`
at once (keys rotated or revoked); timeouts, transport errors and 5xx → `probe.<target>.down`
after GUARDIAN_PROBE_FAILURES failures in a row (flap protection); a success resolves both.
Probes: Resend `GET /domains` (a send-only key answers 401 `restricted_api_key`: valid key),
Twilio `GET /Accounts/{sid}.json`, Vapi `GET /phone-number?limit=1`. Dry-run and disabled
providers are not probed. The database probe lives in loop.py (its failure path differs).
"""

from __future__ import annotations

import time
from collections.abc import Container, Generator, Sequence
from dataclasses import dataclass

import httpx

from app.core.settings import Settings
from app.db.alerts import ProbeRecord, Severity
from app.guardian.watch import Watch
from app.providers.resend import RESEND_API
from app.providers.spool import Spool
from app.providers.twilio import TWILIO_API
from app.providers.vapi import VAPI_API

SEVERITY: dict[str, Severity] = {
    "database": "critical",
    "web": "critical",  # the public endpoint (app/guardian/signals.py): webhooks are lost
    "twilio": "critical",
    "resend": "warning",
    "vapi": "warning",
}


@dataclass(frozen=True)
class ProbeResult:
    target: str
    ok: bool
    latency_ms: int | None = None
    status_code: int | None = None
    error: str | None = None

    @property
    def auth_rejected(self) -> bool:
        return self.status_code in (401, 403)


@dataclass(frozen=True)
class HttpProbe:
    target: str
    url: str
    auth: httpx.Auth
    ok_when: tuple[str, ...] = ()  # error names that still prove the key works


def http_probes(settings: Settings) -> list[HttpProbe]:
    """The probes of the providers that run for real (credentials present, enabled)."""
    real = set(settings.provider_requirements()) - set(settings.dry_run_providers())
    probes = []
    if "resend" in real and settings.resend_api_key:
        key = settings.resend_api_key.get_secret_value()
        probes.append(
            HttpProbe(
                "resend", f"{RESEND_API}/domains", _Bearer(key), ok_when=("restricted_api_key",)
            )
        )
    if "twilio" in real and settings.twilio_auth_token and settings.twilio_account_sid:
        sid = settings.twilio_account_sid
        auth = httpx.BasicAuth(sid, settings.twilio_auth_token.get_secret_value())
        probes.append(HttpProbe("twilio", f"{TWILIO_API}/2010-04-01/Accounts/{sid}.json", auth))
    if "vapi" in real and settings.vapi_api_key:
        key = settings.vapi_api_key.get_secret_value()
        probes.append(HttpProbe("vapi", f"{VAPI_API}/phone-number?limit=1", _Bearer(key)))
    return probes


class _Bearer(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


async def run_http_probe(
    client: httpx.AsyncClient, probe: HttpProbe, seconds: float
) -> ProbeResult:
    """One probe; never raises. The error text names the failure, never a credential."""
    started = time.perf_counter()
    try:
        response = await client.get(probe.url, auth=probe.auth, timeout=seconds)
    except httpx.HTTPError as exc:
        return ProbeResult(probe.target, False, _ms(started), error=type(exc).__name__)
    latency, status = _ms(started), response.status_code
    if response.is_success or _error_name(response) in probe.ok_when:
        return ProbeResult(probe.target, True, latency, status)
    return ProbeResult(probe.target, False, latency, status, error=f"HTTP {status}")


def _error_name(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return str(body.get("name")) if isinstance(body, dict) else None


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


async def record_probe(
    watch: Watch,
    result: ProbeResult,
    firing: Container[str] | None = None,
    *,
    failures: int,
) -> str:
    """Record the result and raise/resolve its alerts; returns ok|failing|alerted.
    `failures`: how many failures in a row raise `probe.<target>.down`
    (GUARDIAN_PROBE_FAILURES). `firing`: the run's firing keys (resolve_alert skips the
    others)."""
    record = await watch.repos.alerts.record_health_check(
        result.target,
        result.ok,
        watch.clock.now(),
        latency_ms=result.latency_ms,
        status_code=result.status_code,
        error=result.error,
    )
    return await judge_probe(watch, result, record, firing, failures=failures)


async def judge_probe(
    watch: Watch,
    result: ProbeResult,
    record: ProbeRecord,
    firing: Container[str] | None = None,
    *,
    failures: int,
) -> str:
    """Raise/resolve the alerts of `result` as recorded (`record`: its health_checks row and
    the failures in a row, written by `record_probe`, or for the database probe by
    `guardian_reads`); returns ok|failing|alerted."""
    down, auth = f"probe.{result.target}.down", f"probe.{result.target}.auth"
    details = {
        "target": result.target,
        "status_code": result.status_code,
        "error": result.error,
        "failures_in_a_row": record.consecutive_failures,
    }
    if result.ok:
        await watch.alerts.resolve_alert(down, firing=firing)
        await watch.alerts.resolve_alert(auth, firing=firing)
        return "ok"
    if result.auth_rejected:
        await watch.alerts.raise_alert(
            auth,
            "critical",
            f"{result.target} rejected our credentials (HTTP {result.status_code})",
            details,
        )
        return "alerted"
    if record.consecutive_failures >= failures:
        await watch.alerts.raise_alert(
            down,
            SEVERITY[result.target],
            f"{result.target} unhealthy: {result.error} "
            f"({record.consecutive_failures} probes in a row)",
            details,
        )
        return "alerted"
    return "failing"


async def probe_providers(
    watch: Watch,
    client: httpx.AsyncClient,
    probes: Sequence[HttpProbe],
    firing: Container[str] | None = None,
    *,
    seconds: float,
    failures: int,
) -> dict[str, str]:
    """Run each of `probes` (`http_probes`: the real providers) under a timeout of `seconds`
    and record it (`record_probe`); the outcome per target."""
    outcomes = {}
    for probe in probes:
        result = await run_http_probe(client, probe, seconds)
        outcomes[probe.target] = await record_probe(watch, result, firing, failures=failures)
    return outcomes


SPOOL_PENDING, SPOOL_ASIDE = "spool.pending", "spool.aside"


async def check_spool(
    watch: Watch, spool: Spool | None, firing: Container[str] | None = None, *, after: int
) -> int:
    """The webhook spool (app/providers/spool.py): critical `spool.pending` while a request
    has waited more than `after` seconds (SPOOL_ALERT_AFTER_SECONDS: a STOP in it is not
    applied yet; the drain of every job's start should have taken it), warning `spool.aside`
    while requests refused for good wait for a human; each resolved when it clears. Returns
    how many requests wait. A spool that cannot be read raises `spool.pending` too."""
    if spool is None:
        return 0
    try:
        stats = await spool.stats()
    except Exception as exc:
        await watch.alerts.raise_alert(SPOOL_PENDING, "critical",
                                       f"webhook spool unreadable: {type(exc).__name__}",
                                       {"error": type(exc).__name__})  # fmt: skip
        return 0
    now = watch.clock.now()
    oldest = stats.oldest_received_at
    if oldest is not None and (now - oldest).total_seconds() > after:
        minutes = int((now - oldest).total_seconds() // 60)
        await watch.alerts.raise_alert(
            SPOOL_PENDING, "critical",
            f"{stats.pending} webhook(s) spooled, not applied yet (oldest {minutes} min)",
            {"pending": stats.pending, "oldest_received_at": oldest.isoformat(),
             "spool": spool.name},
        )  # fmt: skip
    elif stats.pending == 0:
        await watch.alerts.resolve_alert(SPOOL_PENDING, firing=firing)
    if stats.aside:
        await watch.alerts.raise_alert(
            SPOOL_ASIDE, "warning",
            f"{stats.aside} spooled webhook(s) refused for good: see docs/webhooks.md",
            {"aside": stats.aside, "spool": spool.name},
        )  # fmt: skip
    else:
        await watch.alerts.resolve_alert(SPOOL_ASIDE, firing=firing)
    return stats.pending
