"""A pace shared by every process: at most `rate` actions per second, whoever performs them.

A mail provider allows so many messages per second for the account, not per worker; every
worker sending the newsletter asks here before each message. Each call reserves the next free
slot on one schedule kept in Redis (slots are 1/rate seconds apart, on Redis's own clock so
that workers on several machines agree) and answers how long to wait for it. Reserving instead
of asking "may I now?" means no slot is lost to a worker that polled a moment late: n messages
take (n - 1) / rate seconds at best, and the best is what the workers get while they keep up.

The schedule is keyed by the rate, so a new rate starts afresh. Without REDIS_URL, or while
Redis is unreachable, each process keeps its own schedule (the pace then holds per process).
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django_redis import get_redis_connection

logger = logging.getLogger(__name__)

# KEYS[1]: the schedule; ARGV[1]: microseconds between slots. Answers the microseconds until
# the slot reserved for this caller (0: now).
_RESERVE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = tonumber(ARGV[1])
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot < now then slot = now end
redis.call('SET', KEYS[1], string.format('%.0f', slot + interval), 'PX', math.ceil((slot - now + interval) / 1000) + 1000)
return slot - now
"""


class _LocalSchedule:
    def __init__(self) -> None:
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def reserve(self, key: str, interval: float) -> float:
        with self._lock:
            now = time.monotonic()
            slot = max(self._next.get(key, 0.0), now)
            self._next[key] = slot + interval
            return slot - now


_local = _LocalSchedule()


def reserve(name: str, rate: float) -> float:
    """Reserve the next slot of `name` at `rate` per second; seconds to wait until it."""
    if rate <= 0:
        return 0.0
    interval = 1.0 / rate
    key = f"pacing:{name}:{rate:g}"
    if settings.REDIS_URL:
        prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
        try:
            client = get_redis_connection("default")
            waited = client.eval(_RESERVE, 1, f"{prefix}:{key}", round(interval * 1_000_000))
            return int(waited) / 1_000_000
        except Exception as exc:  # Redis down: pace this process alone rather than not at all
            logger.warning("Pacing %s in this process only: Redis did not answer (%s).", name, exc)
    return _local.reserve(key, interval)


def wait_turn(name: str, rate: float) -> float:
    """Wait for the next slot of `name`; returns the seconds waited."""
    seconds = reserve(name, rate)
    if seconds > 0:
        time.sleep(seconds)
    return seconds
