"""The Redis cache, made optional: while Redis is unreachable the site works without it.

Everything in the cache can be rebuilt (rendered issue pages, fetch budgets, allauth's rate-limit
counters), so an unreachable Redis behaves like an empty cache that forgets what it is given,
instead of turning every page that touches the cache into an error. The price, for the length
of the outage: pages are rendered on each request and rate limits count nothing. Each process
logs the outage once a minute at most.
"""

from __future__ import annotations

import logging
import time

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

UNAVAILABLE = (RedisConnectionError, RedisTimeoutError)
WARN_EVERY = 60.0  # seconds


class _Unavailable:
    last_warning = 0.0

    @classmethod
    def note(cls, exc: Exception) -> None:
        now = time.monotonic()
        if now - cls.last_warning >= WARN_EVERY:
            cls.last_warning = now
            logger.warning("Cache unavailable (%s); serving without it.", type(exc).__name__)


class ResilientRedisCacheClient(RedisCacheClient):
    def get_client(self, key=None, *, write=False):
        # Django makes a new redis-py client for every call, which costs about 0.3 ms (as much
        # as serving a whole cached page); one per connection pool is enough.
        pool = self._get_connection_pool(write)
        clients = self.__dict__.setdefault("_clients", {})
        client = clients.get(id(pool))
        if client is None:
            client = clients[id(pool)] = self._client(connection_pool=pool)
        return client

    def add(self, key, value, timeout):
        try:
            return super().add(key, value, timeout)
        except UNAVAILABLE as exc:
            _Unavailable.note(exc)
            return True  # stored in an empty cache, then forgotten

    def get(self, key, default):
        try:
            return super().get(key, default)
        except UNAVAILABLE as exc:
            _Unavailable.note(exc)
            return default

    def set(self, key, value, timeout):
        try:
            super().set(key, value, timeout)
        except UNAVAILABLE as exc:
            _Unavailable.note(exc)

    def touch(self, key, timeout):
        try:
            return super().touch(key, timeout)
        except UNAVAILABLE as exc:
            _Unavailable.note(exc)
            return False

    def delete(self, key):
        try:
            return super().delete(key)
        except UNAVAILABLE as exc:
            _Unavailable.note(exc)
            return False

    def get_many(self, keys):
        try:
            return super().get_many(keys)
        except UNAVAILABLE as exc:
            _Unavailable.note(exc)
            return {}

    def has_key(self, key):
        try:
            return super().has_key(key)
        except UNAVAILABLE as exc:
            _Unavailable.note(exc)
            return False

    def incr(self, key, delta):
        try:
            return super().incr(key, delta)
        except UNAVAILABLE as exc:
            _Unavailable.note(exc)
            raise ValueError(f"Key '{key}' not found.") from None  # as an empty cache answers

    def set_many(self, data, timeout):
        try:
            super().set_many(data, timeout)
        except UNAVAILABLE as exc:
            _Unavailable.note(exc)

    def delete_many(self, keys):
        try:
            super().delete_many(keys)
        except UNAVAILABLE as exc:
            _Unavailable.note(exc)

    def clear(self):
        try:
            return super().clear()
        except UNAVAILABLE as exc:
            _Unavailable.note(exc)
            return False


class ResilientRedisCache(RedisCache):
    """Django's Redis cache; an unreachable server reads as a miss instead of an error."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ResilientRedisCacheClient
