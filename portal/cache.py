"""The Redis cache, made optional: while Redis is unreachable the site works without it.

Everything in the cache can be rebuilt (rendered issue pages, fetch budgets, allauth's rate-limit
counters), so an unreachable Redis behaves like an empty cache that forgets what it is given,
instead of turning every page that touches the cache into an error. The price, for the length
of the outage: pages are rendered on each request and rate limits count nothing.

django-redis does most of it: with DJANGO_REDIS_IGNORE_EXCEPTIONS (settings) a read misses and a
write is dropped. Where its answer differs from an empty cache's, or from Django's, this backend
gives that answer instead:

- `add` answers True (stored, then forgotten), not None. allauth's rate limits take a lock with
  `add`; refused it for a second, they refuse the login.
- `incr` and `decr` raise ValueError (no such key), not return None, as callers expect. And they
  return the stored number exactly: django-redis passes it through a Lua number, a double, which
  rounds past 2**53, and the page cache's generations are nanosecond timestamps.
- `set` returns None, as Django's cache API says.

django-redis logs every call it answers without Redis (DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS);
`OncePerMinute`, on its logger in settings.LOGGING, lets one record a minute through.
"""

from __future__ import annotations

import logging
import threading
import time

from django_redis.cache import RedisCache, omit_exception
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# INCRBY if the key exists (an expired counter must not come back without its timeout), and
# answer with the stored digits, which a Lua number could round.
INCR_EXISTING = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('INCRBY', KEYS[1], ARGV[1])
return redis.call('GET', KEYS[1])
"""


class ResilientRedisCache(RedisCache):
    """django-redis; an unreachable server answers as an empty cache instead of an error."""

    @omit_exception(return_value=True)
    def add(self, *args, **kwargs):
        return self.client.add(*args, **kwargs)

    def set(self, *args, **kwargs) -> None:
        super().set(*args, **kwargs)

    def incr(self, key, delta=1, version=None):
        value = self._incr_existing(key, delta, version)
        if value is None:  # no such key, or Redis unreachable: an empty cache has none either
            raise ValueError(f"Key '{key}' not found.")
        return value

    def decr(self, key, delta=1, version=None):
        return self.incr(key, -delta, version)

    @omit_exception
    def _incr_existing(self, key, delta, version):
        client = self.client.get_client(write=True)
        try:
            value = client.eval(INCR_EXISTING, 1, self.make_key(key, version=version), delta)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise ConnectionInterrupted(connection=client) from exc
        return None if value is None else int(value)


class OncePerMinute(logging.Filter):
    """Let one record through a minute, per process: an outage is news once, not per request."""

    def __init__(self, seconds: float = 60.0) -> None:
        super().__init__()
        self.seconds = seconds
        self.last = float("-inf")
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self.last < self.seconds:
                return False
            self.last = now
            return True
