"""Failure patterns: fingerprints mask what varies, counts per day, trend and novelty."""

from __future__ import annotations

from datetime import timedelta

from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from app.scoring.patterns import fingerprint, record_patterns


def test_fingerprint_masks_ids_numbers_urls() -> None:
    a = fingerprint("Twilio 500 for +15125550123 at https://api.twilio.com/x/SM12 (lead 17)")
    b = fingerprint("Twilio 503 for +15125550199 at https://api.twilio.com/y/SM99 (lead 4242)")
    assert a == b == "Twilio <n> for <phone> at <url> (lead <n>)"
    uuid_a = fingerprint("run 3f2a9c1e-1b2c-4d5e-8f90-123456789abc failed: deadbeefcafe1234")
    assert uuid_a == "run <uuid> failed: <hex>"
    assert fingerprint("mail to bob@example.com bounced") == "mail to <email> bounced"
    assert fingerprint("timeout") != fingerprint("refused")


async def test_counts_per_day_trend_and_new(ctx: Context, clock: ManualClock) -> None:
    now = clock.now()
    yesterday = now - timedelta(days=1)
    for i in range(4):
        await ctx.repos.logs.write("error", "drip", f"Resend 500 for message {i}", yesterday)
    for i in range(6):
        await ctx.repos.logs.write("error", "drip", f"Resend 502 for message {100 + i}", now)
    await ctx.repos.logs.write("critical", "vapi", "Vapi concurrency 10 reached", now)
    await ctx.repos.logs.write("warning", "drip", "only a warning 1", now)  # not an error
    expected = {"error_lines": 11, "error_patterns": 2}
    assert await record_patterns(ctx.repos.scoring, now) == expected
    assert await record_patterns(ctx.repos.scoring, now) == expected  # recount
    top = await ctx.repos.scoring.failure_summary(7, 10, now)
    assert [(p.fingerprint, p.today, p.is_new) for p in top] == [
        ("Resend <n> for message <n>", 6, False),  # seen yesterday: not new
        ("Vapi concurrency <n> reached", 1, True),
    ]
    assert abs(top[0].previous_daily_avg - 4 / 7) < 1e-6
    assert top[0].sample == "Resend 502 for message 100"
