"""The web app (FastAPI): served by Modal's `web` function and by `nightshift dev`."""

from app.webhooks.api import create_app, ingest

__all__ = ["create_app", "ingest"]
