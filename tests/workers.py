"""A real Celery worker in a subprocess, on the real Redis broker and the test database.

Use the `celery_worker` fixture in a test marked `@pytest.mark.worker` with
`@pytest.mark.django_db(transaction=True)` (the worker must see committed rows).
While the fixture is active, tasks queued by the test process go to Redis
instead of running inline, and the worker runs them against the same test
database. `worker.kill()` and `worker.start()` let fault tests stop it hard. With `beat=True` the worker
runs Celery beat too (`-B`), with the schedule of the settings, as production's beat would.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from kombu import pools as kombu_pools

from portal.celery import app as celery_app

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    """The URL of the test database this process is using (created by pytest-django)."""
    d = connection.settings_dict
    if "postgresql" not in d["ENGINE"]:
        raise RuntimeError("a worker shares the test database only on PostgreSQL")
    user = d.get("USER") or "postgres"
    password = f":{d['PASSWORD']}" if d.get("PASSWORD") else ""
    host = d.get("HOST") or "127.0.0.1"
    port = d.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{d['NAME']}"


class WorkerProcess:
    def __init__(
        self,
        *,
        concurrency: int = 2,
        extra_env: dict[str, str] | None = None,
        beat: bool = False,
    ):
        self.concurrency = concurrency
        self.extra_env = extra_env or {}
        # Beat keeps its schedule in a file: one of its own, outside the project.
        self.beat_dir = tempfile.TemporaryDirectory(prefix="beat-") if beat else None
        self.proc: subprocess.Popen | None = None
        self.log: list[str] = []
        self._ready = threading.Event()

    def start(self, timeout: float = 30) -> None:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "PORTAL_TEST_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
            "PORTAL_WORKER": "1",
            **self.extra_env,
        }
        self._ready.clear()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--loglevel=INFO",
                f"--concurrency={self.concurrency}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-Q",
                settings.CELERY_TASK_DEFAULT_QUEUE,
                "-n",
                f"test-{os.getpid()}-{time.monotonic_ns()}@%h",
                *(
                    ["-B", "--schedule", str(Path(self.beat_dir.name) / "schedule")]
                    if self.beat_dir
                    else []
                ),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, args=(self.proc,), daemon=True)
        self._reader.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise RuntimeError("Celery worker did not start:\n" + "".join(self.log[-40:]))

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            self.log.append(line)
            if " ready." in line:
                self._ready.set()

    def kill(self) -> None:
        """Kill the worker and its children at once, as a crash or OOM kill would."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self._close()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close()
        if self.beat_dir:
            self.beat_dir.cleanup()

    def _close(self) -> None:
        if self.proc and self.proc.stdout and not self.proc.stdout.closed:
            self._reader.join(5)
            self.proc.stdout.close()


def reset_broker(url: str | None = None) -> None:
    """Point the test process's Celery at `url` (default: the settings') with no old connection.

    Celery keeps a pool of broker connections and kombu a global registry of producer pools,
    both made for the URL in force when they were first used; a test that moved the broker to
    a redis-server of its own must leave nothing behind that still points there.
    """
    celery_app.conf.broker_url = url or settings.CELERY_BROKER_URL
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    kombu_pools.reset()


def wait_until(predicate, *, timeout: float = 30, interval: float = 0.1, message=""):
    """Poll until predicate() is truthy; bounded, so a broken test fails instead of hanging.

    `message`: what the failure says, or a function that works it out when it fails.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    if callable(message):  # worth working out only when it fails
        message = message()
    raise AssertionError(message or f"condition not met within {timeout} s")


@pytest.fixture
def celery_worker(transactional_db):
    """A running worker; tasks queued during the test go through Redis to it."""
    reset_broker()
    celery_app.conf.task_always_eager = False
    worker = WorkerProcess()
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        celery_app.conf.task_always_eager = True
        # Drop anything left in this run's queue so it cannot leak into another test.
        with celery_app.connection_for_write() as conn:
            conn.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)


# --- a Redis of a test's own, to stop and start ---------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OwnRedis:
    """A private redis-server for this test only: stopping it disturbs nobody."""

    def __init__(self):
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip

        def answers():
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return True
            return False

        wait_until(answers, timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@contextlib.contextmanager
def broker(url: str):
    """Send this process's tasks to `url` (and back to the usual broker afterwards)."""
    previous = celery_app.conf.broker_url
    reset_broker(url)
    try:
        yield
    finally:
        reset_broker(previous)


needs_redis_server = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="redis-server is not installed"
)
