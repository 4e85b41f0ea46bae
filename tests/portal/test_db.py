"""A stalled database: a request ends within seconds with the friendly error page (portal/db.py),
and /readyz says so to a load balancer."""

from __future__ import annotations

import os
import signal
import time

import psycopg
import pytest
from django.db import close_old_connections, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from portal import views
from portal.db import prepared_cursor
from tests.factories import UserFactory


def _admin_kwargs() -> dict:
    d = connection.settings_dict
    kwargs = {"dbname": d["NAME"], "host": d.get("HOST") or "127.0.0.1", "user": d.get("USER")}
    if d.get("PORT"):
        kwargs["port"] = d["PORT"]
    return kwargs


def freeze_backend_before(table: str):
    """Execute wrapper: just before the first query on `table`, stop this connection's server
    process (SIGSTOP), as a hung server or a stuck failover would look from here."""
    frozen: list[int] = []

    def wrapper(execute, sql, params, many, context):
        if not frozen and f'"{table}"' in sql:
            pid = context["connection"].connection.info.backend_pid
            os.kill(pid, signal.SIGSTOP)
            frozen.append(pid)
        return execute(sql, params, many, context)

    return wrapper, frozen


def thaw(pid: int) -> None:
    os.kill(pid, signal.SIGCONT)
    with psycopg.connect(**_admin_kwargs(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_frozen_database_ends_the_request_with_the_error_page_within_the_deadline(settings):
    settings.DATABASE_REQUEST_TIMEOUT = 2
    member = UserFactory()
    client = Client(raise_request_exception=False)
    client.force_login(member)
    wrapper, frozen = freeze_backend_before("newsletter_submission")
    started = time.monotonic()
    try:
        with connection.execute_wrapper(wrapper):
            response = client.get("/my/submissions/")
    finally:
        for pid in frozen:
            thaw(pid)
    elapsed = time.monotonic() - started

    assert frozen, "the page never queried submissions"
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()
    assert 2 <= elapsed < 10
    # As a server does between requests (the test client does not), the broken connection
    # is dropped; the next request works on a new one.
    close_old_connections()
    assert client.get("/my/submissions/").status_code == 200


@pytest.mark.django_db
def test_queries_outside_a_request_are_not_cut_off(settings):
    settings.DATABASE_REQUEST_TIMEOUT = 0.001
    UserFactory()
    time.sleep(0.01)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


@pytest.mark.django_db
def test_readyz_answers_ok_when_database_and_redis_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.content == b"ok"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_readyz_answers_503_when_the_database_is_frozen(settings):
    settings.DATABASE_REQUEST_TIMEOUT = 1
    frozen: list[int] = []

    def freeze_on_select_one(execute, sql, params, many, context):
        if sql == "SELECT 1" and not frozen:
            pid = context["connection"].connection.info.backend_pid
            os.kill(pid, signal.SIGSTOP)
            frozen.append(pid)
        return execute(sql, params, many, context)

    client = Client(raise_request_exception=False)
    started = time.monotonic()
    try:
        with connection.execute_wrapper(freeze_on_select_one):
            response = client.get("/readyz")
    finally:
        for pid in frozen:
            thaw(pid)
        close_old_connections()

    assert response.status_code == 503
    assert b"database" in response.content
    assert time.monotonic() - started < 5


@pytest.mark.redis
@pytest.mark.django_db
def test_readyz_answers_503_when_redis_is_unreachable(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens there
    views._redis.cache_clear()
    try:
        response = client.get("/readyz")
    finally:
        views._redis.cache_clear()
    assert response.status_code == 503
    assert response.content == b"not ready: redis unreachable"


@pytest.mark.django_db
def test_readyz_is_not_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = [r"^healthz/?$", r"^readyz/?$"]
    assert client.get("/readyz").status_code == 200
    assert client.get("/archive/").status_code == 301


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")
def test_a_prepared_cursor_prepares_and_is_counted_and_watched_like_any_other():
    seen = []

    def wrapper(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    statement = "SELECT %(number)s::int * 2 AS twice -- prepared cursor test"
    with connection.execute_wrapper(wrapper), CaptureQueriesContext(connection) as queries:
        for number in range(3):
            with prepared_cursor() as cursor:
                cursor.execute(statement, {"number": number})
                assert cursor.fetchall() == [(number * 2,)]
    assert seen == [statement] * 3  # through Django's execute wrappers, as the deadline's is
    assert [query["sql"] for query in queries.captured_queries] == [
        "SELECT $1::int * 2 AS twice -- prepared cursor test"
    ] * 3
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%prepared cursor test%"],
        )
        assert cursor.fetchone()[0] == 1  # parsed once on this connection, run three times
