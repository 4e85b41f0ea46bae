"""This site's own addresses as seen from outside (emails, feeds, Discord, calendars)."""

from __future__ import annotations

from django.conf import settings


def absolute_url(path: str) -> str:
    """A path on this site ("/archive/1/…") as a full URL on SITE_URL."""
    return f"{settings.SITE_URL}{path}"
