"""The webhook tests' settings (the fixtures' Twilio token, Vapi secret, public URL)."""

from tests.webhooks.conftest import db, settings

__all__ = ["db", "settings"]
