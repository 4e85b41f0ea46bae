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

Rate limits are the exception to "forget everything": a limit that counts nothing while Redis
is down fails open (a password can be guessed at full speed). Keys of allauth's limits and of
ours (portal.ratelimit) are counted in this process's memory while Redis is unreachable:
per process rather than shared, but never off. The switch is logged once each way.
"""

from __future__ import annotations

import logging
import threading
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
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


logger = logging.getLogger(__name__)

# Keys of rate-limit counters (allauth's, and portal.ratelimit's).
RATE_LIMIT_KEYS = ("allauth:rl:", "ratelimit:")


class _LocalLimits:
    """The per-process stand-in for Redis, for rate-limit keys only, while Redis is down."""

    def __init__(self) -> None:
        self.cache = LocMemCache("rate-limits-while-redis-is-down", {"MAX_ENTRIES": 100_000})
        self.active = False
        self._lock = threading.Lock()

    def switch(self, active: bool) -> None:
        with self._lock:
            if self.active == active:
                return
            self.active = active
        if active:
            logger.warning("Redis is unreachable: rate limits count in each process's memory.")
        else:
            logger.warning("Redis answers again: rate limits count in Redis.")


_local_limits = _LocalLimits()


def _limited(key) -> bool:
    return isinstance(key, str) and key.startswith(RATE_LIMIT_KEYS)


class ResilientRedisCache(RedisCache):
    """django-redis; an unreachable server answers as an empty cache instead of an error,
    except for rate-limit counters, which go on counting in this process."""

    def _limit_call(self, method: str, key, *args, **kwargs):
        """Run a cache call on a rate-limit key in Redis, or locally while Redis is down."""
        try:
            result = getattr(self.client, method)(key, *args, **kwargs)
        except ConnectionInterrupted:
            _local_limits.switch(True)
            return getattr(_local_limits.cache, method)(key, *args, **kwargs)
        if _local_limits.active:
            _local_limits.switch(False)
        return result

    def get(self, key, default=None, version=None, client=None):
        if _limited(key):
            return self._limit_call("get", key, default=default, version=version)
        return super().get(key, default=default, version=version, client=client)

    def set(
        self, key, value, timeout=DEFAULT_TIMEOUT, version=None, client=None, nx=False, xx=False
    ):
        if _limited(key):
            self._limit_call("set", key, value, timeout=timeout, version=version)
            return None
        super().set(key, value, timeout=timeout, version=version, client=client, nx=nx, xx=xx)
        return None

    def delete(self, key, version=None, prefix=None, client=None):
        if _limited(key):
            return self._limit_call("delete", key, version=version)
        return super().delete(key, version=version, prefix=prefix, client=client)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None, client=None):
        if _limited(key):
            return self._limit_call("add", key, value, timeout=timeout, version=version)
        return self._add(key, value, timeout=timeout, version=version, client=client)

    @omit_exception(return_value=True)
    def _add(self, *args, **kwargs):
        return self.client.add(*args, **kwargs)

    def incr(self, key, delta=1, version=None):
        if _limited(key):
            value = self._limit_incr(key, delta, version)
        else:
            value = self._incr_existing(key, delta, version)
        if value is None:  # no such key, or Redis unreachable: an empty cache has none either
            raise ValueError(f"Key '{key}' not found.")
        return value

    def decr(self, key, delta=1, version=None):
        return self.incr(key, -delta, version)

    def _limit_incr(self, key, delta, version):
        try:
            value = self._incr_in_redis(key, delta, version)
        except ConnectionInterrupted:
            _local_limits.switch(True)
            try:
                return _local_limits.cache.incr(key, delta, version=version)
            except ValueError:
                return None
        if _local_limits.active:
            _local_limits.switch(False)
        return value

    @omit_exception
    def _incr_existing(self, key, delta, version):
        return self._incr_in_redis(key, delta, version)

    def _incr_in_redis(self, key, delta, version):
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
