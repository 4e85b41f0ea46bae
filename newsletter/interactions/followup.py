"""The deferred answer's follow-up: Discord's interaction webhook under DISCORD_API_BASE.

The interaction token is valid 15 minutes; no bot token is needed. Nothing here runs inside a
database transaction.
"""

from __future__ import annotations

import logging

import requests
from django.conf import settings

logger = logging.getLogger(__name__)


class FollowupFailed(Exception):
    pass


def followup_url(token: str, suffix: str = "") -> str:
    return f"{settings.DISCORD_API_BASE}/webhooks/{settings.DISCORD_APPLICATION_ID}/{token}{suffix}"


def original_edit(*, token: str, data: dict) -> None:
    """Replace the "thinking…" of a deferred answer with `data` (content, components)."""
    body = {key: value for key, value in data.items() if key != "flags"}
    try:
        answer = requests.patch(
            followup_url(token, "/messages/@original"),
            json=body,
            timeout=settings.DISCORD_HTTP_TIMEOUT,
        )
    except requests.RequestException as exc:
        raise FollowupFailed(f"Discord did not answer: {exc.__class__.__name__}") from exc
    if answer.status_code >= 400:
        logger.warning(
            "interaction follow-up refused: %s %s", answer.status_code, answer.text[:200]
        )
        raise FollowupFailed(f"Discord answered {answer.status_code}")
