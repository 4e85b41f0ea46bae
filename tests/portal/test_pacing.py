"""One pace for every worker: slots 1/rate apart, in Redis, or in this process without it."""

from __future__ import annotations

import logging
import time

import pytest

from portal import pacing


def reserved(name: str, rate: float, count: int) -> list[float]:
    return [pacing.reserve(name, rate) for _ in range(count)]


def assert_spaced(waits: list[float], interval: float) -> None:
    """Each caller gets the next slot: waits grow by one interval (less the time calls take)."""
    for earlier, later in zip(waits, waits[1:], strict=False):
        assert interval * 0.5 < later - earlier <= interval + 0.001


def test_without_redis_each_process_keeps_the_pace(settings):
    settings.REDIS_URL = ""
    waits = reserved(f"local-{time.monotonic_ns()}", 20, 5)
    assert waits[0] == pytest.approx(0, abs=0.01)
    assert_spaced(waits, 1 / 20)


@pytest.mark.redis
def test_in_redis_one_schedule_per_name_and_rate():
    name = f"shared-{time.monotonic_ns()}"
    waits = reserved(name, 10, 4)
    assert waits[0] == pytest.approx(0, abs=0.05)
    assert_spaced(waits, 1 / 10)
    # Another rate is another schedule, starting afresh.
    assert pacing.reserve(name, 1000) == pytest.approx(0, abs=0.05)


def test_redis_down_paces_in_this_process_and_says_so(settings, redis_down, caplog):
    settings.REDIS_URL = "redis://127.0.0.1:9/0"
    with caplog.at_level(logging.WARNING, logger="portal.pacing"):
        waits = reserved(f"down-{time.monotonic_ns()}", 20, 3)
    assert_spaced(waits, 1 / 20)
    assert "in this process only" in caplog.text


def test_wait_turn_sleeps_until_the_slot():
    name = f"sleep-{time.monotonic_ns()}"
    started = time.monotonic()
    for _ in range(3):
        pacing.wait_turn(name, 20)
    assert time.monotonic() - started >= 2 / 20


def test_no_rate_means_no_wait():
    assert pacing.reserve("none", 0) == 0
