"""The webhook, tracking and unsubscribe routers, in one list for `create_app`."""

from __future__ import annotations

from fastapi import APIRouter

from app.webhooks import links, resend, twilio, vapi


def webhook_routers() -> list[APIRouter]:
    return [vapi.router, twilio.router, resend.router, links.router]
