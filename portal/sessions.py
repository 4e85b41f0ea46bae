"""Sessions read from each process's memory: a member's request that needs nothing else makes
no round trip to Redis, let alone to the database.

Django's `cached_db` reads the session from Redis on every request that looks at it (the time
zone middleware, the page cache, the login check all do). Here each process keeps a copy of
the sessions it served last, and the copy can be trusted because the data stored under a
session key never changes: a save that changes it writes it under a new key (the response
carries the new cookie) and forgets the old one, as Django already does at login. The one
piece of news other processes need is that a key was deleted (a logout, a flushed or cycled
session): `delete` bumps one generation shared by every session, each process reads it from
Redis at most every CHECK_SECONDS, and on a new one it drops every copy it holds. So a key
deleted in one process is refused by the others within a quarter of a second, and a process
that cannot read the generation (Redis down) uses no copies at all.

Why not signed-cookie sessions, which need no lookup either: a logout could not revoke a
copied cookie, and the session could not hold more than a cookie does. Here the server still
decides which sessions exist. The cached member (portal.auth) shares the same generation.

The price: a save that changes a session writes a new row and deletes the old one (two writes
instead of one); a request still holding the old key (a parallel request, rare) reads the
data it had, and its own save starts one more new key rather than failing.
"""

from __future__ import annotations

import logging
import pickle
import threading
import time
from collections import OrderedDict

from asgiref.sync import sync_to_async
from django.contrib.sessions.backends import cached_db
from django.core.cache import cache

logger = logging.getLogger(__name__)

GENERATION_KEY = "sessions:generation"
# How often each process reads the generation: a deleted session is refused everywhere after
# this long at most.
CHECK_SECONDS = 0.25
# A copy is read again from Redis after this long whatever happens (a bump that was lost
# while Redis was unreachable, a session that expired meanwhile).
COPY_SECONDS = 300
COPIES = 20_000


class LocalCopies:
    """Values this process read from Redis, used while the shared generation is unchanged.

    Each value is kept pickled and unpickled for each request: a request that changes its
    copy (a session dict, a member's attributes) changes its own, not the next request's."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = None
        self._checked = float("-inf")

    def current(self) -> bool:
        """True while the copies may be used: the generation was read lately and is the one
        they were kept under."""
        now = time.monotonic()
        if now - self._checked < CHECK_SECONDS:
            return self._generation is not None
        try:
            generation = cache.get(GENERATION_KEY)
            if generation is None:
                cache.add(GENERATION_KEY, time.time_ns(), None)
                generation = cache.get(GENERATION_KEY)
        except Exception:  # a cache that raises when down: no copies until it answers
            generation = None
        self._settle(generation, now)
        return generation is not None

    def _settle(self, generation, now: float) -> None:
        with self._lock:
            if generation != self._generation or generation is None:
                self._entries.clear()
            self._generation, self._checked = generation, now

    def get(self, key: str):
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[1] <= time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
        return pickle.loads(entry[0])  # noqa: S301  (our own bytes, from this process)

    def put(self, key: str, value, seconds: float = COPY_SECONDS) -> None:
        data = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
        with self._lock:
            self._entries[key] = (data, time.monotonic() + seconds)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def forget(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def changed(self) -> None:
        """Something kept here was deleted or changed: every process drops its copies."""
        try:
            try:
                generation = cache.incr(GENERATION_KEY)
            except ValueError:  # no generation yet (or evicted): start a new, unseen one
                generation = time.time_ns()
                cache.set(GENERATION_KEY, generation, None)
        except Exception:
            generation = None
            logger.warning("Could not tell the other processes; their copies expire on their own.")
        self._settle(generation, time.monotonic())


copies = LocalCopies(COPIES)


class SessionStore(cached_db.SessionStore):
    """`cached_db`, read through this process's copies; a changed session gets a new key."""

    def load(self):
        key = self.session_key
        if key and copies.current():
            data = copies.get("s:" + key)
            if data is not None:
                return data
        data = super().load()
        if key and data:
            copies.put("s:" + key, data)
        return data

    def save(self, must_create=False):
        old = self.session_key
        if must_create or old is None:
            super().save(must_create=must_create)
        else:
            # New data, new key: the copies other processes keep of the old key stay true.
            self._session_key = None
            super().save()  # creates the new key (Django's create loop)
            super().delete(old)
            copies.forget("s:" + old)
        copies.put("s:" + self.session_key, self._session)

    def delete(self, session_key=None):
        key = session_key or self.session_key
        super().delete(session_key)
        if key:
            copies.forget("s:" + key)
            copies.changed()

    # The same rules under ASGI: a save that bypassed them would change a key in place.
    async def aload(self):
        return await sync_to_async(self.load)()

    async def asave(self, must_create=False):
        await sync_to_async(self.save)(must_create)

    async def adelete(self, session_key=None):
        await sync_to_async(self.delete)(session_key)
