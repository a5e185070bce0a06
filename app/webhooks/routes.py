"""The webhook, tracking and unsubscribe routes, in one place for `create_app`."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.routing import BaseRoute

from app.webhooks import links, resend, twilio, vapi


def webhook_routes() -> list[BaseRoute]:
    """Plain Starlette routes, added to the app before anything else: the providers'
    webhooks, the hot paths (no FastAPI dependency solving per request)."""
    return [vapi.route, *twilio.routes, resend.route]


def webhook_routers() -> list[APIRouter]:
    return [links.router]
