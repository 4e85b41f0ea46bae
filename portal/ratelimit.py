"""Our own per-member limits (autofill fetches, Markdown previews, RSVP changes).

A fixed window counted in the cache: the first hit creates the counter with the window as its
timeout, each hit adds one. Keys start with RATE_LIMIT_PREFIX, which portal.cache keeps
counting in this process while Redis is unreachable, so a limit never fails open.
"""

from __future__ import annotations

from django.core.cache import cache

RATE_LIMIT_PREFIX = "ratelimit:"


def allow(name: str, who: object, *, limit: int, seconds: int) -> bool:
    """Count one hit of `name` for `who` (a user id, an address); False past `limit`."""
    key = f"{RATE_LIMIT_PREFIX}{name}:{who}"
    cache.add(key, 0, timeout=seconds)
    try:
        return cache.incr(key) <= limit
    except ValueError:  # the counter expired between add and incr: a new window
        cache.add(key, 1, timeout=seconds)
        return True
