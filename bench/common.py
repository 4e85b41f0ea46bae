"""What the benchmarks share: settings, the machine's description, child processes bounded in
time, gunicorn on a loopback port, wrk, databases of their own, and saving results."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable
WRK_MISSING = "wrk is not installed: apt-get install wrk"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/portal_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def settings_from_environment() -> tuple[str, str]:
    """BENCH_DATABASE_URL (PostgreSQL: the benchmarks name theirs after it), BENCH_REDIS_URL."""
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    if not database_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("BENCH_DATABASE_URL must be a PostgreSQL URL (postgres://…).")
    return database_url, os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)


def production_env(**overrides: str) -> dict:
    """The environment of a server under test: production settings (DEBUG off, a fresh
    SECRET_KEY, a cache namespace of its own) on loopback, and nothing else of ours. Outside
    services are a closed local port unless a stand-in is given: no traffic leaves 127.0.0.1."""
    kept = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV"}
    return {
        **{key: value for key, value in os.environ.items() if key in kept},
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "CACHE_KEY_PREFIX": f"bench-{secrets.token_hex(4)}",
        "EMAIL_URL": "memorymail://",
        **{f"{api}_API_BASE": "http://127.0.0.1:9" for api in ("ARXIV", "GITHUB", "DISCORD")},
        **overrides,
    }


def machine() -> dict:
    """What the figures were measured on (no names, no paths)."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    cpu = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    wrk = shutil.which("wrk") and subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    return {
        "cores": os.cpu_count(),
        "cpu": cpu[1] if cpu else platform.processor(),
        "memory_gb": round(memory / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "wrk": " ".join(wrk.stdout.split()[:2]) if wrk else None,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _die_with_parent() -> None:
    """Linux: a child gets SIGTERM if the benchmark dies, so it never outlives it."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    os.setsid()


@contextlib.contextmanager
def child(command: list[str], *, lifetime: float, env: dict):
    """A child process that stops by itself after `lifetime` seconds, stopped (then killed) on
    the way out. Its reports go to stderr: stdout keeps only the benchmark's table."""
    if shutil.which("timeout"):
        command = ["timeout", "--kill-after=10", str(int(lifetime)), *command]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=sys.stderr, preexec_fn=_die_with_parent
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@contextlib.contextmanager
def gunicorn(*, env: dict, workers: int, threads: int, lifetime: float):
    """gunicorn with `env` on a free loopback port; yields its base URL once /healthz answers
    (over plain HTTP, as in production). Keep-alive outlasts the soak's pauses: wrk counts a
    connection the server closes while idle as an error."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    command = [
        PYTHON, "-m", "gunicorn", "portal.wsgi:application", "--bind", base.removeprefix("http://"),
        "--workers", str(workers), "--threads", str(threads), "--keep-alive", "5",
        "--worker-class", "gthread" if threads > 1 else "sync",
        "--timeout", "30", "--graceful-timeout", "5", "--log-level", "warning",
    ]  # fmt: skip
    with child(command, lifetime=lifetime, env=env) as process:
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2).close()
                break
            except OSError:
                time.sleep(0.25)
        else:
            raise SystemExit(f"gunicorn did not answer /healthz (status {process.poll()})")
        yield base


def manage(*args: str, env: dict) -> str:
    """`python manage.py ARGS` with `env`; what it printed on stdout."""
    command = [PYTHON, "manage.py", *args]
    return subprocess.run(
        command, cwd=ROOT, env=env, check=True, stdout=subprocess.PIPE, text=True
    ).stdout


def wrk(url: str, seconds: float, *, connections: int, threads: int = 0, **options) -> dict:
    """One run of wrk: its figures, from the JSON line bench/wrk_report.lua prints, and in
    "output" all it printed. Options: `paths` (requested in turn), `script` (another Lua script
    in bench/, which reports as wrk_report.lua does), `env` (for that script) and `timeout`
    (seconds after which wrk counts a request as timed out, 10) and `headers` (sent with
    every request: a logged-in member's cookie)."""
    if not shutil.which("wrk"):
        raise SystemExit(WRK_MISSING)
    threads = threads or max(1, min(connections, os.cpu_count() or 1))
    env = {**os.environ, **options.get("env", {})}
    with tempfile.NamedTemporaryFile("w", prefix="bench-paths-", suffix=".txt") as listing:
        if len(options.get("paths", ())) > 1:
            listing.write("\n".join(options["paths"]) + "\n")
            listing.flush()
            env["BENCH_PATHS"] = listing.name
        script = "bench/" + options.get("script", "wrk_report.lua")
        command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
                   "--timeout", f"{options.get('timeout', 10)}s", "-s", script, url]  # fmt: skip
        for name, value in options.get("headers", {}).items():
            command += ["-H", f"{name}: {value}"]
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=seconds + 60
        )
    if done.returncode:
        raise SystemExit(f"wrk failed: {done.stderr or done.stdout}")
    line = next(line for line in done.stdout.splitlines() if line.startswith("BENCH-JSON "))
    raw = json.loads(line.removeprefix("BENCH-JSON "))
    errors = ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    return {
        "requests": raw["requests"],
        "seconds": raw["duration_us"] / 1e6,
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        **{f"{p}_ms": raw[f"{p}_us"] / 1000 for p in ("p50", "p90", "p99", "max")},
        "errors": sum(raw[key] for key in errors),
        "socket_errors": {key: raw[key] for key in errors if raw[key] and key != "status_errors"},
        "bytes_per_response": raw["bytes"] / max(1, raw["requests"]),
        "connections": connections,
        "output": done.stdout,
    }


def database_named(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def database_sql(url: str, statement: str, name: str, text: str | None = None) -> list:
    """Run `statement` on the server's `postgres` database, {name} standing for the database
    `name` (an identifier) and {text} for `text` (a literal)."""
    import psycopg
    from psycopg import sql

    query = sql.SQL(statement).format(name=sql.Identifier(name), text=sql.Literal(text))
    admin_url = database_named(url, "postgres")
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
        cursor = admin.execute(query)
        return cursor.fetchall() if cursor.description else []


@contextlib.contextmanager
def throwaway_database(base_url: str, name: str):
    """A new, empty database for this run only; dropped afterwards (and only that one)."""
    database_sql(base_url, "CREATE DATABASE {name}", name)
    try:
        yield database_named(base_url, name)
    finally:  # FORCE: whatever is still connected to it, this process included
        database_sql(base_url, "DROP DATABASE IF EXISTS {name} WITH (FORCE)", name)


def add_bench_items(issue, count: int, *, editor, author) -> None:
    """`count` accepted submissions of one author, placed in `issue` through the services: the
    same items for the delivery and email benchmarks (papers, posts, tools and repositories,
    each summary with two links)."""
    from newsletter.models import Kind, Submission
    from newsletter.services.compose import issue_item_add
    from newsletter.services.submissions import submission_create, submission_transition

    kinds = [Kind.PAPER, Kind.PAPER, Kind.BLOG, Kind.TOOL, Kind.REPO]
    for number in range(count):
        submission = submission_create(
            author=author,
            url=f"https://example.org/bench/{number}",
            kind=kinds[number % len(kinds)],
            title=f"Item {number}: efficient inference with {4 + number % 5}-bit weights",
            summary=(
                f"This work ({number}) shows how to cut memory by half without losing accuracy. "
                "It combines [quantization](https://example.org/q) with careful kernel design, "
                "and the code is [on GitHub](https://github.com/example/project). "
                "Bonus: the authors gave a talk about it."
            ),
        )
        submission_transition(
            submission=submission, to_state=Submission.State.ACCEPTED, actor=editor
        )
        issue_item_add(issue=issue, submission=submission, actor=editor)


def finish(name: str, result: dict, print_table) -> int:
    """Print the table, save bench/results/NAME-<time>.json and NAME-latest.json, and answer 0
    when the targets are met."""
    print_table(result)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{result['started_at'].replace(':', '').replace('-', '')}.json"
    text = json.dumps(result, indent=2, default=str) + "\n"
    path.write_text(text)
    (RESULTS / f"{name}-latest.json").write_text(text)
    print(f"Saved {path.relative_to(ROOT)} ({result['seconds']:.0f} s in all).")
    return 0 if result["ok"] else 1
