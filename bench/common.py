"""What every benchmark shares: where results go, the machine's description, loopback ports,
child processes that die with the benchmark, and PostgreSQL's admin connection."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import secrets
import signal
import socket
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/portal_bench"


def production_env(*, redis_url: str, static_root: str, **overrides: str) -> dict:
    """The environment of a server under test: production settings (DEBUG off, a fresh
    SECRET_KEY, collected static files) on loopback, and nothing else of ours."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        REDIS_URL=redis_url,
        STATIC_ROOT=static_root,
        LOG_LEVEL="WARNING",
        **overrides,
    )
    return env


def machine() -> dict:
    """What the figures were measured on (no names, no paths)."""
    memory_gb = None
    with contextlib.suppress(ValueError, OSError, AttributeError):
        memory_gb = round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30, 1)
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": memory_gb,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def die_with_parent() -> None:
    """Linux: a child gets SIGTERM if the benchmark dies, so it never outlives it."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    os.setsid()


def admin_connection(url: str):
    """A connection to the server's `postgres` database, for creating and dropping others."""
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password or None,
        dbname="postgres",
        autocommit=True,
        connect_timeout=5,
    )


def save(name: str, result: dict) -> Path:
    """bench/results/NAME-<time>.json and NAME-latest.json."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = result["started_at"].replace(":", "").replace("-", "")
    path = RESULTS / f"{name}-{stamp}.json"
    text = json.dumps(result, indent=2, default=str) + "\n"
    path.write_text(text)
    (RESULTS / f"{name}-latest.json").write_text(text)
    return path


def finish(name: str, result: dict, print_table) -> int:
    """Print the table, save the JSON, and answer 0 when the targets are met."""
    print_table(result)
    path = save(name, result)
    print(f"Saved {path.relative_to(ROOT)} ({result['seconds']:.0f} s in all).")
    return 0 if result["ok"] else 1
