"""Pytest fixtures for the third-party stand-ins; tests/conftest.py imports them.

`loopback_only` is a safety net for tests about refusing private addresses: if
the guard in newsletter/links/fetch.py ever broke, those tests would otherwise send
real packets to 10.x or 169.254.169.254. It fails the test instead.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.stubs.thirdparty import ThirdPartyServer


@pytest.fixture
def thirdparty_server() -> Iterator[ThirdPartyServer]:
    """A fresh stand-in for arXiv, GitHub and arbitrary websites on 127.0.0.1."""
    with ThirdPartyServer() as server:
        yield server


@pytest.fixture
def thirdparty_settings(settings: Any, thirdparty_server: ThirdPartyServer) -> ThirdPartyServer:
    """The stand-in, with ARXIV_API_BASE/GITHUB_API_BASE pointing at it and 127.0.0.1 allowed."""
    settings.ARXIV_API_BASE = f"{thirdparty_server.url}/arxiv/api"
    settings.GITHUB_API_BASE = f"{thirdparty_server.url}/github"
    settings.FETCH_ALLOWED_HOSTS = ["127.0.0.1"]
    return thirdparty_server


class ExternalNetworkBlocked(AssertionError):
    """Not an OSError on purpose: code under test must not swallow it as a network failure."""


_guard_lock = threading.Lock()
_guard_users = 0
_guard_attempts: list[str] = []
_hook_installed = False


def _is_local(host: object) -> bool:
    if not isinstance(host, str):
        return True  # AF_UNIX paths and the like
    host = host.split("%", 1)[0].strip("[]")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_numeric(host: object) -> bool:
    if not isinstance(host, str):
        return False
    try:
        socket.inet_aton(host)
        return True
    except OSError:
        pass
    try:
        ipaddress.ip_address(host.split("%", 1)[0].strip("[]"))
        return True
    except ValueError:
        return False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _guard_users:
        return
    if event == "socket.connect":
        address = args[1]
        host = address[0] if isinstance(address, tuple) else address
    elif event == "socket.getaddrinfo":
        host = args[0]  # a DNS query for a real name would leave the machine
        if isinstance(host, bytes):
            host = host.decode("ascii", "replace")
        if host is None or _is_numeric(host):
            return  # numeric forms (127.1, 2130706433, 10.0.0.5) need no DNS query
    else:
        return
    if not _is_local(host):
        _guard_attempts.append(f"{event} {host!r}")
        raise ExternalNetworkBlocked(f"test tried to reach {host!r} ({event})")


@pytest.fixture
def loopback_only() -> Iterator[None]:
    """Fail the test if anything connects to (or looks up) a host beyond this machine."""
    global _guard_users, _hook_installed
    with _guard_lock:
        if not _hook_installed:
            sys.addaudithook(_audit)  # audit hooks cannot be removed; it idles when unused
            _hook_installed = True
        _guard_users += 1
        _guard_attempts.clear()
    try:
        yield
    finally:
        with _guard_lock:
            _guard_users -= 1
            attempts = list(_guard_attempts)
            _guard_attempts.clear()
    assert not attempts, f"attempted to leave the machine: {attempts}"
