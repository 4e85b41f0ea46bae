"""The cache on Redis (portal/cache.py): an unreachable Redis reads as an empty cache."""

import logging
import socket
import time
import uuid

import pytest
from django.core.cache import cache

from portal.cache import OncePerMinute


@pytest.fixture
def outage_log(monkeypatch, caplog):
    """django-redis's log records; the throttle settings.LOGGING puts on them starts afresh."""
    logger = logging.getLogger("django_redis.cache")
    # One per django.setup(): Celery's Django fixup runs it again when tasks are first queued.
    throttles = [f for f in logger.filters if isinstance(f, OncePerMinute)]
    assert throttles
    for throttle in throttles:
        monkeypatch.setattr(throttle, "last", float("-inf"))
    return lambda: [record for record in caplog.records if record.name == logger.name]


@pytest.fixture
def key():
    key = f"test-cache:{uuid.uuid4().hex}"
    yield key
    cache.delete(key)


def test_cache_redis_down_reads_as_empty_and_logs_once(redis_down, outage_log):
    assert cache.get("page") is None
    assert cache.get("page", "default") == "default"
    assert cache.get_many(["page", "other"]) == {}
    assert not cache.has_key("page")
    assert cache.add("lock", True) is True  # stored, then forgotten, as allauth's lock needs
    assert cache.set("page", "<html>") is None
    cache.set_many({"page": "<html>"})
    cache.delete("page")
    cache.delete_many(["page", "other"])
    with pytest.raises(ValueError, match="not found"):
        cache.incr("counter")
    with pytest.raises(ValueError, match="not found"):
        cache.decr("counter")
    assert cache.get("page") is None

    records = outage_log()
    assert len(records) == 1
    assert "Redis ConnectionError" in str(records[0].exc_info[1])


def test_cache_outage_log_once_per_interval():
    throttle = OncePerMinute(seconds=0.2)
    record = logging.makeLogRecord({"msg": "Exception ignored"})

    assert [throttle.filter(record) for _ in range(3)] == [True, False, False]
    time.sleep(0.25)
    assert throttle.filter(record) is True


@pytest.mark.redis
def test_cache_redis_not_answering_costs_a_second_at_most(settings, outage_log):
    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        settings.CACHES = {
            "default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{port}/0"}
        }
        started = time.monotonic()
        assert cache.get("page") is None
        waited = time.monotonic() - started

    assert 0.5 < waited < 5
    assert len(outage_log()) == 1


@pytest.mark.redis
def test_cache_incr_returns_the_stored_number_exactly(key):
    generation = time.time_ns()  # what the page cache stores: past 2**53
    cache.set(key, generation, None)

    assert cache.incr(key) == generation + 1
    assert cache.get(key) == generation + 1
    assert cache.decr(key, 2) == generation - 1


@pytest.mark.redis
def test_cache_incr_keeps_the_timeout_and_refuses_missing_keys(key):
    cache.add(key, 0, timeout=60)

    assert cache.incr(key) == 1
    assert 0 < cache.ttl(key) <= 60
    with pytest.raises(ValueError, match="not found"):
        cache.incr(f"{key}:missing")


# --- Rate limits never fail open ------------------------------------------------------------------


def test_rate_limit_keys_count_in_the_process_while_redis_is_down(redis_down, caplog, monkeypatch):
    from portal import ratelimit
    from portal.cache import _local_limits

    monkeypatch.setattr(_local_limits, "active", False)  # as in a process that just started

    who = uuid.uuid4().hex
    answers = [ratelimit.allow("test", who, limit=3, seconds=60) for _ in range(5)]
    assert answers == [True, True, True, False, False]
    # allauth's counters and its lock behave as in Redis: a real lock, a real history.
    assert cache.add(f"allauth:rl:{who}:lock", True) is True
    assert cache.add(f"allauth:rl:{who}:lock", True) is False
    cache.set(f"allauth:rl:{who}", [1.0, 2.0])
    assert cache.get(f"allauth:rl:{who}") == [1.0, 2.0]
    # Other keys still read as an empty cache.
    cache.set(f"page:{who}", "<html>")
    assert cache.get(f"page:{who}") is None
    switched = [r for r in caplog.records if r.name == "portal.cache"]
    assert [r.getMessage() for r in switched] == [
        "Redis is unreachable: rate limits count in each process's memory."
    ]


@pytest.mark.redis
def test_rate_limits_count_in_redis_when_it_answers(key):
    from portal import ratelimit

    who = uuid.uuid4().hex
    assert [ratelimit.allow("test", who, limit=2, seconds=60) for _ in range(3)] == [
        True,
        True,
        False,
    ]
    cache.delete(f"ratelimit:test:{who}")


@pytest.mark.django_db
def test_wrong_passwords_are_limited_while_redis_is_down(redis_down, settings, client):
    """The outside review's finding: 14 wrong passwords in a row with Redis down were all
    ordinary failures. Now the limit holds (in the process) and answers 429."""
    from portal.settings import ACCOUNT_RATE_LIMITS
    from tests.factories import UserFactory

    settings.ACCOUNT_RATE_LIMITS = ACCOUNT_RATE_LIMITS
    member = UserFactory()
    pages = [
        client.post("/accounts/login/", {"login": member.email, "password": "wrong"})
        for _ in range(7)
    ]
    refused = ["Too many failed login attempts" in page.content.decode() for page in pages]
    assert refused == [False] * 5 + [True] * 2
