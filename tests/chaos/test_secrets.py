"""Secrets never leak: neither into the logs of a representative production-like run, nor
into what it stores or serves, nor into the repository.

The run: a drip tick on real Twilio/Resend adapters (respx) that meets every kind of provider
failure (auth error, 5xx, a timeout after acceptance, a quota 429 that raises an alert), then
webhooks with wrong and right credentials, a status-page login and page view. Everything it
produced is searched for every configured secret (and the encoded forms an Authorization
header would carry): structlog events (captured as dicts, and rendered), stdlib logging,
stdout/stderr, the HTTP answers, and the rows it stored.
"""

from __future__ import annotations

import base64
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import respx
import structlog
from structlog.testing import capture_logs

from app.campaigns import drip
from app.core.clock import ManualClock
from app.core.settings import Settings
from app.jobs.drip import drip_deps
from app.webhooks.signatures import twilio_signature
from tests.campaigns.helpers import add_leads, load
from tests.chaos.helpers import (
    FROM_NUMBER,
    TWILIO_SID,
    TWO_STEPS,
    FakeProviders,
    rows,
    worker,
)
from tests.conftest import make_settings
from tests.providers.bodies import resend_error, twilio_error
from tests.webhooks.helpers import client, fixtures_dir

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = "https://acme--nightshift-web.modal.run"
# Production-shaped values (not real: generated for this test).
SECRET_VALUES = {
    "resend_api_key": "re_Zq8wLp3VnT6yHs2KdR9mXc4BfJ7gUa1E",
    "resend_webhook_secret": "whsec_c2VjcmV0LXNpZ25pbmcta2V5LWZvci10ZXN0cw==",
    "twilio_auth_token": "7c4e1a9f3b6d2e8a5c0f9b3d6e1a4c7f",
    "vapi_api_key": "5b2e9c1d-7f4a-4e3b-8c6d-1a9f0e2b3c4d",
    "vapi_webhook_secret": "vws_Kp4Xr8Qm2Tz6Vb9Nc3Jh7Ld1",
    "link_signing_secret": "9a1b8c2d7e3f6a4b5c0d9e1f8a2b7c3d6e4f5a0b9c1d8e2f7a3b6c4d5e0f9a1b",
    "status_token": "st_Hq6Wn2Zr9Pk4Tc8Xm1Vb5Lj3Qy7Rw0Ez",
    "booking_webhook_secret": "bws_Rt5Yp8Wq2Kz7Nm4Xc1Vb6Hj9",
}


def production_settings(database_dsn: str) -> Settings:
    return make_settings(
        nightshift_env="production",
        database_url=database_dsn,
        public_base_url=PUBLIC,
        business_name="Acme Heating",
        business_postal_address="1 Elm St, Dayton, OH 45402",
        booking_url="https://acme.example.org/book",
        email_from="Acme <hi@mail.acme.test>",
        twilio_account_sid=TWILIO_SID,
        twilio_from_number=FROM_NUMBER,
        vapi_phone_number_id="pn_5f1c2d3e",
        vapi_assistant_id="asst_9a8b7c6d",
        oncall_phones="+14155550100",
        oncall_emails="oncall@acme.test",
        heartbeat_url="https://hc-ping.com/acme-guardian",
        twilio_rate_per_second_per_sender=1000.0,
        resend_rate_per_second=1000.0,
        **SECRET_VALUES,
    )


def forbidden() -> list[str]:
    """Each secret, plus the forms it takes in an Authorization header."""
    values = list(SECRET_VALUES.values())
    basic = f"{TWILIO_SID}:{SECRET_VALUES['twilio_auth_token']}".encode()
    values.append(base64.b64encode(basic).decode())
    values.append(SECRET_VALUES["resend_webhook_secret"].removeprefix("whsec_"))
    return values


def leaks(text: str) -> list[str]:
    return [name for name, value in SECRET_VALUES.items() if value in text] + [
        "an encoded secret" for value in forbidden()[len(SECRET_VALUES) :] if value in text
    ]


async def representative_run(database_dsn: str, clock: ManualClock) -> list[str]:
    """Drive the app through failures and webhooks; returns the HTTP answers' texts."""
    settings = production_settings(database_dsn)
    assert settings.dry_run_providers() == []  # every adapter is the real one
    fake = FakeProviders(clock)
    sms_seen: list[str] = []
    email_seen: list[str] = []

    def twilio_trouble(key: str, form: dict[str, str]) -> httpx.Response | None:
        sms_seen.append(key)
        if len(sms_seen) == 1:
            return httpx.Response(401, json=twilio_error(20003, "Authenticate", 401))
        if len(sms_seen) == 2:
            return httpx.Response(500, json=twilio_error(20500, "Internal Server Error", 500))
        return None

    def resend_trouble(key: str, body: dict[str, Any]) -> httpx.Response | None:
        email_seen.append(key)
        if len(email_seen) == 1:
            body = resend_error(429, "daily_quota_exceeded", "You have reached your daily quota")
            return httpx.Response(429, json=body)
        if len(email_seen) == 2:
            raise httpx.ConnectError("connection refused")
        return None

    fake.twilio_hook = twilio_trouble
    fake.resend_hook = resend_trouble
    answers: list[str] = []
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        fake.install(router)
        async with worker(settings, clock, database_dsn) as ctx:
            await load(ctx, TWO_STEPS)
            await add_leads(ctx, 4)
            await ctx.repos.campaigns.enroll(clock.now())
            await drip.run(drip_deps(ctx))
            await ctx.alerts.raise_alert(
                "chaos:test", "critical", "drip is failing", {"why": "test"}
            )
            async with client(ctx, PUBLIC) as http:
                vapi = (fixtures_dir() / "vapi" / "02-status-update-ringing.json").read_bytes()
                json_type = {"content-type": "application/json"}
                for secret in ("wrong", SECRET_VALUES["vapi_webhook_secret"]):
                    r = await http.post(
                        "/webhooks/vapi",
                        content=vapi,
                        headers={**json_type, "x-vapi-secret": secret},
                    )
                    answers.append(r.text)
                form = {"From": "+12125550000", "Body": "STOP", "MessageSid": "SM" + "1" * 32}
                token = SECRET_VALUES["twilio_auth_token"]
                for signature in ("bad", twilio_signature(token, PUBLIC + "/webhooks/twilio/sms",
                                                          form.items())):  # fmt: skip
                    r = await http.post(
                        "/webhooks/twilio/sms", data=form, headers={"X-Twilio-Signature": signature}
                    )
                    answers.append(r.text)
                r = await http.post("/webhooks/resend", content=b"{}", headers=json_type)
                answers.append(r.text)
                r = await http.post("/webhooks/booking", content=b"{}", headers=json_type)
                answers.append(r.text)
                r = await http.get("/status")
                answers.append(r.text)
                r = await http.post("/status/login", data={"token": SECRET_VALUES["status_token"]})
                assert r.status_code == 303
                r = await http.get("/status")
                assert r.status_code == 200
                answers.append(r.text)
    assert fake.accepted, "the run sent nothing: not representative"
    return answers


STORED = ("messages", "alerts", "webhook_events", "system_logs", "job_runs", "leads")


async def test_no_secret_in_logs_answers_or_rows_of_a_representative_run(
    database_dsn: str,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level("DEBUG")
    with capture_logs() as events:  # structlog events as dicts, before rendering
        answers = await representative_run(database_dsn, clock)
    assert events, "nothing was logged: the capture is not working"
    assert leaks(repr(events)) == []
    for event in events:
        assert leaks(str(structlog.dev.ConsoleRenderer(colors=False)(None, "", dict(event)))) == []

    # The same run again on a fresh enrollment set, this time rendered by the real pipeline.
    reset_tables(database_dsn)
    answers += await representative_run(database_dsn, clock)
    out, err = capfd.readouterr()
    assert "alert raised" in out + err  # the rendered log lines were captured
    assert "api.twilio.com" in caplog.text  # so were the stdlib ones (httpx)
    assert leaks(out + err) == []
    assert leaks(caplog.text) == []
    assert leaks(" ".join(str(r.args) for r in caplog.records)) == []
    assert leaks("\n".join(answers)) == []
    for table in STORED:
        dump = "\n".join(str(r["t"]) for r in rows(database_dsn, f"select t::text from {table} t"))
        assert leaks(dump) == [], table


def reset_tables(dsn: str) -> None:
    """Empty the tables the run fills, so the second run starts from the same state."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "truncate messages, enrollments, leads, campaigns, campaign_steps, alerts,"
            " webhook_events, suppressions cascade"
        )


# --- the repository -------------------------------------------------------------------------
KEY_PATTERNS = {
    "Resend API key": r"\bre_[A-Za-z0-9]{24,}\b",
    "Twilio API key SID + secret": r"\bSK[0-9a-f]{32}\b",
    "Stripe live key": r"\b[sr]k_live_[A-Za-z0-9]{16,}\b",
    "AWS access key": r"\bAKIA[0-9A-Z]{16}\b",
    "GitHub token": r"\bgh[pousr]_[A-Za-z0-9]{36,}\b",
    "Slack token": r"\bxox[abpr]-[A-Za-z0-9-]{10,}\b",
    "Modal token": r"\ba[ks]-[A-Za-z0-9]{22,}\b",
    "private key": r"-----BEGIN (?:RSA |EC |OPENSSH |)PRIVATE KEY-----",
    "JWT (Supabase service role?)": (
        r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"
    ),
    "secret assigned in an env file": (
        r"(?m)^(?:RESEND_API_KEY|TWILIO_AUTH_TOKEN|VAPI_API_KEY|SUPABASE_SERVICE_ROLE_KEY"
        r"|\w*WEBHOOK\w*SECRET|LINK_SIGNING_SECRET|STATUS_TOKEN)=[^\s#<]{12,}"
    ),
}
# This file's own generated values and pattern samples look like keys on purpose.
ALLOWED = ("tests/chaos/test_secrets.py",)


def repository_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    return [ROOT / name for name in listed if (ROOT / name).is_file()]


def test_no_real_looking_key_is_committed() -> None:
    files = repository_files()
    assert len(files) > 50
    env_files = [f for f in files if f.name.startswith(".env") and f.name != ".env.example"]
    assert env_files == [], "an .env file is tracked"
    found: list[str] = []
    for path in files:
        relative = path.relative_to(ROOT).as_posix()
        if relative in ALLOWED:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary (e.g. docs/status.png)
        for what, pattern in KEY_PATTERNS.items():
            for match in re.finditer(pattern, text):
                found.append(f"{relative}: {what}: {match.group(0)[:12]}…")
    assert found == []


def test_the_key_patterns_catch_real_shaped_keys() -> None:
    """The scan is not vacuous: every pattern fires on a real-shaped (fake) key."""
    samples = [
        "re_" + "Ab3" * 10, "SK" + "0f" * 16, "sk_live_" + "x1" * 12, "AKIA" + "ABCD2345" * 2,
        "ghp_" + "a1" * 18, "xoxb-" + "12345-abcdef", "ak-" + "Ab1" * 8,
        "-----BEGIN PRIVATE KEY-----", "eyJhbGciOiJIUzI1.eyJyb2xlIjoic2Vy.c2lnbmF0dXJlX3g",
        "TWILIO_AUTH_TOKEN=7c4e1a9f3b6d2e8a5c0f9b3d6e1a4c7f",
    ]  # fmt: skip
    for (what, pattern), sample in zip(KEY_PATTERNS.items(), samples, strict=True):
        assert re.search(pattern, sample), what
