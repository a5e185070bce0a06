"""Vapi answers shaped like the API's (docs/notes/vapi-agents.md: Assistant, File, Tool)."""

from __future__ import annotations

import copy
from typing import Any

ORG = "0b8c1f3e-1111-4c2a-9d3e-5f6a7b8c9d0e"
CREATED = "2026-12-06T16:00:00.000Z"


def file_answer(file_id: str, name: str, size: int) -> dict[str, Any]:
    return {
        "id": file_id, "orgId": ORG, "name": name, "originalName": name, "bytes": size,
        "mimetype": "text/markdown", "status": "processing", "purpose": None,
        "url": f"https://storage.vapi.ai/{file_id}-{name}", "metadata": {},
        "createdAt": CREATED, "updatedAt": CREATED,
    }  # fmt: skip


def tool_answer(tool_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "id": tool_id, "orgId": ORG, "createdAt": CREATED, "updatedAt": CREATED}


def assistant_answer(assistant_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """The assistant as Vapi returns it: our fields plus its ids and defaults."""
    live = copy.deepcopy(body)
    live.update({
        "id": assistant_id, "orgId": ORG, "createdAt": CREATED, "updatedAt": CREATED,
        "isServerUrlSecretSet": False, "backgroundSound": "office",
        "transcriber": {"provider": "deepgram", "model": "nova-2", "language": "en"},
        "clientMessages": ["conversation-update", "function-call", "hang", "tool-calls"],
        "serverMessages": ["end-of-call-report", "status-update", "tool-calls", "hang"],
    })  # fmt: skip
    live["voice"] = {**live["voice"], "speed": 1}
    live["model"] = {**live["model"], "emotionRecognitionEnabled": False}
    return live
