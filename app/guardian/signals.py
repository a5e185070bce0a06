"""The guardian's watch on nightshift's senses (issue 15 item 6): the webhooks are the only way
anything reaches it, so the guardian checks that they can arrive and that they do.

- `probe_web`: `GET PUBLIC_BASE_URL/healthz` from outside (through Modal's proxy, as a
  provider would call): a timeout, a transport error or a 5xx other than the database's own
  503 is a failure; recorded as the `web` health check, `probe.web.down` (critical: every
  webhook is lost while the endpoint is down) after GUARDIAN_PROBE_FAILURES in a row. A
  local PUBLIC_BASE_URL (the development default) is not probed from production and not
  in tests unless given.
- `check_callbacks`: a provider we sent through during the last
  GUARDIAN_CALLBACK_SILENCE_HOURS (older than `SETTLE`, so callbacks had time to come)
  whose latest webhook event is older than that window is silent: `callbacks.<provider>.
  silent` (critical for Twilio: a STOP would be lost; warning for Resend and Vapi). It is
  resolved as soon as an event arrives or nothing was sent.
"""

from __future__ import annotations

import time
from collections.abc import Container, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx

from app.db.alerts import CallbackGap, Severity
from app.guardian.probes import ProbeResult, record_probe
from app.guardian.watch import Watch

HEALTH_PATH = "/healthz"
SETTLE = timedelta(minutes=15)  # a send younger than this may not have had its callback yet
SILENT_PREFIX = "callbacks."
CALLBACK_SEVERITY: dict[str, Severity] = {"twilio": "critical", "resend": "warning",
                                          "vapi": "warning"}  # fmt: skip
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})


@dataclass(frozen=True)
class WebProbe:
    url: str


def web_probe(public_base_url: str, *, probe_local: bool = False) -> WebProbe | None:
    """The probe of the public web endpoint; None for a local URL unless `probe_local`."""
    host = urlsplit(public_base_url).hostname or ""
    if not host or (host in LOCAL_HOSTS and not probe_local):
        return None
    return WebProbe(public_base_url.rstrip("/") + HEALTH_PATH)


async def run_web_probe(client: httpx.AsyncClient, probe: WebProbe, seconds: float) -> ProbeResult:
    """One GET of /healthz; never raises. A 503 that says the database is down still proves
    the endpoint answers (the database probe pages for that)."""
    started = time.perf_counter()
    try:
        response = await client.get(probe.url, timeout=seconds)
    except httpx.HTTPError as exc:
        return ProbeResult("web", False, _ms(started), error=type(exc).__name__)
    latency, status = _ms(started), response.status_code
    if response.is_success or (status == 503 and _database_down(response)):
        return ProbeResult("web", True, latency, status)
    return ProbeResult("web", False, latency, status, error=f"HTTP {status}")


def _database_down(response: httpx.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("status") == "down"


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


async def probe_web(
    watch: Watch,
    client: httpx.AsyncClient,
    probe: WebProbe | None,
    firing: Container[str] | None = None,
    *,
    seconds: float,
    failures: int,
) -> str | None:
    """Probe and record the web endpoint (`record_probe`); its outcome, None when unprobed."""
    if probe is None:
        return None
    result = await run_web_probe(client, probe, seconds)
    return await record_probe(watch, result, firing, failures=failures)


def callback_window(now: datetime, silence_hours: float) -> tuple[datetime, datetime]:
    """The sends `check_callbacks` looks at: [now - silence_hours, now - SETTLE)."""
    return now - timedelta(hours=silence_hours), now - SETTLE


async def check_callbacks(
    watch: Watch,
    firing: Container[str] | None = None,
    *,
    silence_hours: float,
    read: Sequence[CallbackGap] | None = None,
) -> list[str]:
    """Raise `callbacks.<provider>.silent` for each provider sent through but silent (see the
    module docstring), resolve the others; the silent providers. `read`: the gaps of
    `callback_window` as the run read them (`guardian_reads`), else read here."""
    since, until = callback_window(watch.clock.now(), silence_hours)
    gaps = read if read is not None else await watch.repos.alerts.callback_gaps(since, until)
    silent = []
    for gap in gaps:
        if gap.last_event_at is not None and gap.last_event_at >= since:
            continue
        silent.append(gap.provider)
        last = gap.last_event_at.isoformat() if gap.last_event_at else "never"
        await watch.alerts.raise_alert(
            f"{SILENT_PREFIX}{gap.provider}.silent",
            CALLBACK_SEVERITY.get(gap.provider, "warning"),
            f"no {gap.provider} webhook for {silence_hours:g} h while {gap.sends} were sent "
            "(check the webhook URL, the web endpoint and the signing secret)",
            {"provider": gap.provider, "sends": gap.sends, "last_event_at": last},
        )
    for provider in CALLBACK_SEVERITY:
        if provider not in silent:
            await watch.alerts.resolve_alert(f"{SILENT_PREFIX}{provider}.silent", firing=firing)
    return silent
