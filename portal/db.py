"""A deadline for the database work of a web request, so a stalled database cannot hang it.

PostgreSQL's own limits (connect_timeout, statement_timeout, TCP keepalives: see the settings)
cover a slow query and a dead peer, but not a server that is frozen (a stopped process, a
hung failover): its kernel still acknowledges our packets, so the client waits for an answer
that never comes. Here each query of a web request is watched: when the request's deadline
passes while a query is still waiting, the watchdog shuts the connection's socket down. The
query then fails at once, the request ends with the friendly error page, and Django discards
the broken connection. Tasks and management commands (a long migration) are not watched.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from contextlib import contextmanager

import psycopg
from django.conf import settings
from django.db import connection

_request = threading.local()


class _Watchdog:
    """One thread that shuts down the sockets of queries that outlived their deadline."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, int]] = []  # (deadline, token, socket fd)
        self._active: set[int] = set()
        self._tokens = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: float, fileno: int) -> int:
        token = next(self._tokens)
        with self._wake:
            heapq.heappush(self._heap, (deadline, token, fileno))
            self._active.add(token)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="db-watchdog", daemon=True)
                self._thread.start()
            if self._heap[0][1] == token:
                # Only a new earliest deadline changes when the thread must wake; queries
                # that finish in time are dropped from the heap as it passes them.
                self._wake.notify()
        return token

    def release(self, token: int) -> None:
        with self._wake:
            self._active.discard(token)

    def _run(self) -> None:
        with self._wake:
            while True:
                while self._heap and self._heap[0][1] not in self._active:
                    heapq.heappop(self._heap)  # finished in time
                if not self._heap:
                    self._wake.wait()
                    continue
                deadline, token, fileno = self._heap[0]
                left = deadline - time.monotonic()
                if left > 0:
                    self._wake.wait(left)
                    continue
                heapq.heappop(self._heap)
                self._active.discard(token)
                _shut_down(fileno)


def _shut_down(fileno: int) -> None:
    """Wake the query waiting on this socket with an error; the fd stays psycopg's to close."""
    try:
        sock = socket.socket(fileno=fileno)
    except OSError:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.detach()


_watchdog = _Watchdog()


def watched_execute(execute, sql, params, many, context):
    """Execute wrapper: a query inside a web request gets the request's deadline."""
    deadline = getattr(_request, "deadline", None)
    if deadline is None:
        return execute(sql, params, many, context)
    token = _watchdog.watch(deadline, context["connection"].connection.fileno())
    try:
        return execute(sql, params, many, context)
    finally:
        _watchdog.release(token)


class RequestDeadlineMiddleware:
    """Gives every request DATABASE_REQUEST_TIMEOUT seconds of database time, from its start."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Each thread has its own connection object; its wrappers outlive reconnections.
        if connection.vendor == "postgresql" and watched_execute not in connection.execute_wrappers:
            connection.execute_wrappers.append(watched_execute)
        _request.deadline = time.monotonic() + settings.DATABASE_REQUEST_TIMEOUT
        try:
            return self.get_response(request)
        finally:
            _request.deadline = None


# --- Prepared statements ---------------------------------------------------------------------


class _PreparingCursor(psycopg.Cursor):
    """A psycopg cursor with server-side binding whose every statement is prepared."""

    # Whether Django logs the queries (tests, DEBUG): it reads the statement's text from
    # the cursor, which psycopg does not keep for a prepared statement.
    logged = False

    def execute(self, query, params=None, *, prepare=None, binary=None):
        super().execute(query, params, prepare=True, binary=binary)
        if self.logged and self._query is None:
            self._query = self._convert_query(query, params)
        return self


@contextmanager
def prepared_cursor():
    """A cursor on the default (PostgreSQL) connection whose statements are prepared: each is
    parsed once per connection and, when its plan does not depend on its parameters (a page
    of rows looked up by primary key, a small table), planned once too. PostgreSQL's own
    rule decides: after five runs it keeps a generic plan if that costs no more than the
    custom ones did. For the few fixed statements run on every search, whose planning cost
    more than their execution.

    Django keeps prepared statements off for its own queries because a pooler in
    transaction mode (PgBouncer) cannot follow them; this site connects to PostgreSQL
    directly (README, "Production"). The statements still go through Django's cursor wrapper, so
    they are counted in tests and watched by the request's deadline like any other."""
    connection.ensure_connection()
    raw = _PreparingCursor(connection.connection)
    if connection.queries_logged:
        raw.logged = True
        cursor = connection.make_debug_cursor(raw)
    else:
        cursor = connection.make_cursor(raw)
    try:
        yield cursor
    finally:
        cursor.close()
