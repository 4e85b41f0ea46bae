"""Reader pages under load: requests per second and p50/p99 latency at a fixed concurrency.

    python -m bench pages          (or: python -m bench.pages [--duration 10] [--quick])

What it does, all on loopback and bounded in time:

1. Seeds a PostgreSQL database with a realistic archive (`bench.seed`: 200 issues of 25
   items, the newest with 40, 20,000 submissions, 2,000 members, 100 events with 50 RSVPs
   each), and two more for the growth test (20 and 2,000 issues). A seeded database is
   reused while the seed and rendering code and the migrations are unchanged (`--reseed`
   rebuilds it). Only databases the benchmark created are ever dropped.
2. Serves each with gunicorn and production settings (DEBUG off, a fresh SECRET_KEY,
   static files collected to a temporary folder, the cache in Redis under a fresh prefix)
   on a free loopback port. The server is stopped at the end, and stops by itself after
   `SERVER_LIFETIME` seconds should this process die.
3. Loads each page with wrk (or, without it, a multi-process keep-alive client in Python) at
   8 connections, after a warm-up, in three short runs each right after a run of a trivial
   view (`/healthz`) through the same middleware, and checks the targets: every reader page
   at least half the baseline's throughput, p99 under 100 ms, search p50 under 50 ms (for a
   popular search and for 2,000 different ones, past the page cache).
4. Loads the archive index and the issue page, with the page cache off, on the 20-issue and
   the 2,000-issue archive, in pairs of short runs one after the other: the median of the
   pairs' throughput ratios must be at least 0.9 ("no slower", less the noise of a loopback
   benchmark).

Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/portal_bench;
the growth test uses the same name with _small and _large), BENCH_REDIS_URL (default
redis://127.0.0.1:6379/14), GUNICORN_WORKERS and GUNICORN_THREADS.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing import get_context
from urllib.parse import urlsplit, urlunsplit

from bench.common import (
    DEFAULT_DATABASE_URL,
    ROOT,
    admin_connection,
    die_with_parent,
    finish,
    free_port,
    machine,
    production_env,
)

PYTHON = sys.executable

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
CONNECTIONS = 8
# Each page is measured in this many short runs, each after a run of the baseline.
PAIRED_ROUNDS = 3
SEARCH_QUERY = "quantization"
VARIED_SEARCHES = "{varied searches}"
# The pages, in the order they are measured, the targets each must meet ("share": half the
# baseline's throughput, "p99": p99 under 100 ms, "search": p50 under 50 ms) and, when not
# CONNECTIONS, the connections. {issue} and {event} come from the seed.
# "search varied" asks 2,000 different questions in turn, past the page cache: what full-text
# search itself costs, at 8 connections and for one reader alone. At 8 connections it must
# meet the search target too (a question nobody asked before is answered as fast as a popular
# one); it has no share target, since every request does the whole search.
PAGES = [
    ("baseline", "/healthz", (), None),
    ("home", "/", ("share", "p99"), None),
    ("archive", "/archive/", ("share", "p99"), None),
    ("issue (40 items)", "{issue}", ("share", "p99"), None),
    ("search", f"/archive/search/?q={SEARCH_QUERY}", ("share", "p99", "search"), None),
    ("rss feed", "/archive/feed/rss/", ("share", "p99"), None),
    ("events", "/events/", ("share", "p99"), None),
    ("event", "{event}", ("share", "p99"), None),
    ("search varied", VARIED_SEARCHES, ("search",), None),
    ("search varied c=1", VARIED_SEARCHES, (), 1),
]
# Growth is measured with the page cache off: what it costs to render the page.
GROWTH_PAGES = [("archive", "/archive/"), ("issue (40 items)", "{issue}")]
GROWTH_ISSUES = (20, 2000)
# Pairs of runs, small and large archive one after the other, each a third of the duration.
GROWTH_ROUNDS = 6
# Targets from the issue.
MIN_SHARE_OF_BASELINE = 0.5
MAX_P99_MS = 100.0
MAX_SEARCH_P50_MS = 50.0
# "No slower" allows for the run-to-run noise of a loopback benchmark.
MIN_GROWTH_RATIO = 0.9
SERVER_LIFETIME = 30 * 60
# Every file whose change makes a seeded database stale.
SEED_INPUTS = [
    "bench/seed.py",
    "newsletter/rendering.py",
    "newsletter/issues.py",
    "portal/markdown.py",
    "templates/newsletter/includes",
    "newsletter/migrations",
    "events/migrations",
    "portal/migrations",
]
SEED_MARK = "bench-seed "


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- Databases ------------------------------------------------------------------------------


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _fingerprint(seed_args: list[str]) -> str:
    digest = hashlib.sha256(json.dumps(seed_args).encode())
    for name in SEED_INPUTS:
        path = ROOT / name
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if file.is_file() and file.suffix in {".py", ".html"}:
                digest.update(str(file.relative_to(ROOT)).encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


# The seed's counts, and the tables that hold them: a reused database must still hold them.
SEEDED_TABLES = {
    "submissions": "newsletter_submission",
    "issues": "newsletter_issue",
    "items": "newsletter_issueitem",
    "events": "events_event",
}


def _rows_as_seeded(url: str, seeded: dict) -> bool:
    """Whether the database still holds the rows the seed made (anything that wrote to it,
    a soak or a hand, would change what the pages measure)."""
    import psycopg

    expected = seeded.get("counts", {})
    try:
        with psycopg.connect(url, connect_timeout=5) as connection:
            for count, table in SEEDED_TABLES.items():
                query = f"SELECT count(*) FROM {table}"  # noqa: S608  (a name from SEEDED_TABLES)
                if connection.execute(query).fetchone()[0] != expected.get(count):
                    return False
    except psycopg.Error:
        return False
    return True


def prepare_database(url: str, *, env: dict, seed_args: list[str], reseed: bool) -> dict:
    """A migrated, seeded database at `url`; reused when seeded from the same code."""
    from psycopg import sql

    name = urlsplit(url).path.lstrip("/")
    fingerprint = _fingerprint(seed_args)
    with admin_connection(url) as admin:
        row = admin.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [name],
        ).fetchone()
        if row is not None:
            comment = row[0] or ""
            if not comment.startswith(SEED_MARK):
                raise SystemExit(
                    f"The database {name} exists and was not created by the benchmark; "
                    "choose another BENCH_DATABASE_URL or drop it yourself."
                )
            stored = json.loads(comment[len(SEED_MARK) :])
            if stored.get("fingerprint") == fingerprint and stored.get("seed") and not reseed:
                if _rows_as_seeded(url, stored["seed"]):
                    log(f"{name}: reusing the seeded database (same code and parameters)")
                    return stored["seed"]
                log(f"{name}: its rows changed since it was seeded")
            log(f"{name}: dropping the old benchmark database")
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        mark = SEED_MARK + json.dumps({"fingerprint": fingerprint, "seed": None})
        admin.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(mark))
        )
    db_env = {**env, "DATABASE_URL": url}
    started = time.perf_counter()
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=db_env, check=True
    )
    log(f"{name}: seeding {' '.join(seed_args)}")
    done = subprocess.run(
        [PYTHON, "-m", "bench.seed", *seed_args],
        cwd=ROOT,
        env=db_env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    seeded = json.loads(done.stdout.strip().splitlines()[-1])
    log(f"{name}: seeded in {time.perf_counter() - started:.0f} s")
    with admin_connection(url) as admin:
        mark = SEED_MARK + json.dumps({"fingerprint": fingerprint, "seed": seeded})
        admin.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(mark))
        )
    return seeded


# --- The server -----------------------------------------------------------------------------


def server_shape(workers: int | None, threads: int | None) -> tuple[int, int]:
    """gunicorn processes and threads: by default one process per core, four threads each
    (docs/performance.md compares the shapes measured)."""
    cores = os.cpu_count() or 1
    workers = workers or int(os.environ.get("GUNICORN_WORKERS", 0)) or cores
    threads = threads or int(os.environ.get("GUNICORN_THREADS", 0)) or 4
    return workers, threads


@contextmanager
def gunicorn(*, env: dict, database_url: str, workers: int, threads: int, page_cache: bool = True):
    """gunicorn on a free loopback port; yields its base URL and stops it afterwards."""
    port = free_port()
    command = [
        PYTHON, "-m", "gunicorn", "portal.wsgi:application",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        "--threads", str(threads),
        "--worker-class", "gthread" if threads > 1 else "sync",
        "--timeout", "30",
        "--graceful-timeout", "5",
        "--keep-alive", "5",
        "--log-level", "warning",
    ]  # fmt: skip
    if shutil.which("timeout"):
        # A hard bound on the server's life, whatever happens to this process.
        command = ["timeout", "--kill-after=10", str(SERVER_LIFETIME), *command]
    server_env = {
        **env,
        "DATABASE_URL": database_url,
        # A fresh cache namespace: nothing from an earlier run or another database is served.
        "CACHE_KEY_PREFIX": f"bench-{secrets.token_hex(4)}",
    }
    if not page_cache:
        server_env["READER_CACHE_SECONDS"] = "0"
    process = subprocess.Popen(command, cwd=ROOT, env=server_env, preexec_fn=die_with_parent)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"gunicorn exited with status {process.returncode}")
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("gunicorn did not answer /healthz within 60 s")
            time.sleep(0.25)
        yield base
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def check_page(url: str, name: str) -> None:
    """Fetch a page once before loading it: it must answer 200 with the expected content."""
    with urllib.request.urlopen(url, timeout=10) as response:
        body = response.read().decode()
        if response.status != 200:
            raise SystemExit(f"{name}: {url} answered {response.status}")
    if name.startswith("issue"):
        items = len(re.findall(r'<article class="issue-item', body))
        if items < 40:
            raise SystemExit(f"{name}: {url} shows {items} items, expected 40")
    if name == "search" and "<mark>" not in body:
        raise SystemExit(f"search: {url} highlights nothing; the seed has no matches")


# --- Load generators ------------------------------------------------------------------------


def wrk_version() -> str | None:
    if not shutil.which("wrk"):
        return None
    done = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    match = re.search(r"wrk\s+(\S+)", done.stdout + done.stderr)
    return f"wrk {match.group(1)}" if match else "wrk"


def load_wrk(base: str, paths: list[str], *, duration: float, connections: int) -> dict:
    """wrk at `connections` connections; several paths are taken in turn (bench/wrk_report.lua)."""
    threads = max(1, min(connections, os.cpu_count() or 1))
    env = dict(os.environ)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", prefix="bench-paths-") as listing:
        if len(paths) > 1:
            listing.write("\n".join(paths) + "\n")
            listing.flush()
            env["BENCH_PATHS"] = listing.name
        done = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(duration))}s",
                "--timeout",
                "10s",
                "-s",
                str(ROOT / "bench" / "wrk_report.lua"),
                base + paths[0],
            ],  # fmt: skip
            capture_output=True,
            text=True,
            check=True,
            timeout=duration + 60,
            env=env,
        )
    line = next(line for line in done.stdout.splitlines() if line.startswith("BENCH-JSON "))
    raw = json.loads(line.removeprefix("BENCH-JSON "))
    errors = sum(
        raw[key]
        for key in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    )
    return {
        "requests": raw["requests"],
        "seconds": raw["duration_us"] / 1e6,
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "errors": errors,
        "bytes_per_response": raw["bytes"] / raw["requests"] if raw["requests"] else 0,
    }


def _python_client(job: tuple[str, int, list[str], int, int, float]) -> tuple[list, int, int]:
    """One process of the fallback generator: `threads` keep-alive connections in a loop."""
    host, port, paths, first, threads, until = job
    latencies: list[float] = []
    counts = {"errors": 0, "bytes": 0}
    lock = threading.Lock()

    def connection_loop(start: int) -> None:
        mine: list[float] = []
        errors = size = 0
        conn = http.client.HTTPConnection(host, port, timeout=10)
        n = start
        while time.monotonic() < until:
            path = paths[n % len(paths)]
            n += 1
            started = time.perf_counter()
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                body = response.read()
                mine.append(time.perf_counter() - started)
                size += len(body)
                if not 200 <= response.status < 300:
                    errors += 1
                if response.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
        conn.close()
        with lock:
            latencies.extend(mine)
            counts["errors"] += errors
            counts["bytes"] += size

    workers = [
        threading.Thread(target=connection_loop, args=((first + i) * 7919,)) for i in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return latencies, counts["errors"], counts["bytes"]


def load_python(base: str, paths: list[str], *, duration: float, connections: int) -> dict:
    """As wrk does: `connections` keep-alive connections in a closed loop, over processes."""
    parts = urlsplit(base)
    processes = max(1, min(connections, os.cpu_count() or 1))
    shares = [connections // processes + (i < connections % processes) for i in range(processes)]
    firsts = [sum(shares[:i]) for i in range(processes)]
    started = time.monotonic()
    until = started + duration
    with get_context("fork").Pool(processes) as pool:
        results = pool.map(
            _python_client,
            [
                (parts.hostname, parts.port, paths, first, share, until)
                for first, share in zip(firsts, shares, strict=True)
            ],
        )
    seconds = time.monotonic() - started
    latencies = sorted(x for result in results for x in result[0])
    size = sum(result[2] for result in results)

    def percentile(p: float) -> float:
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))] * 1000

    return {
        "requests": len(latencies),
        "seconds": seconds,
        "rps": len(latencies) / seconds,
        "p50_ms": percentile(50),
        "p90_ms": percentile(90),
        "p99_ms": percentile(99),
        "max_ms": latencies[-1] * 1000 if latencies else float("nan"),
        "errors": sum(result[1] for result in results),
        "bytes_per_response": size / len(latencies) if latencies else 0,
    }


@dataclass
class Loader:
    """The load generator: wrk when installed, else the Python one."""

    duration: float
    warmup: float
    connections: int = CONNECTIONS
    name: str = field(default="")

    def __post_init__(self) -> None:
        version = wrk_version()
        if version:
            self.name, self._load = version, load_wrk
        else:
            log(
                "wrk is not installed: using the Python load generator instead (it spends more "
                "of the machine on the client side, so expect lower figures). Install wrk with "
                "`apt-get install -y wrk` (Debian, Ubuntu) or `brew install wrk` (macOS)."
            )
            self.name, self._load = "python keep-alive client", load_python

    def warm(self, base: str, paths: list[str], connections: int | None = None) -> None:
        if self.warmup:
            self._load(
                base, paths, duration=self.warmup, connections=connections or self.connections
            )

    def run(
        self, base: str, paths: list[str], seconds: float, connections: int | None = None
    ) -> dict:
        connections = connections or self.connections
        figures = self._load(base, paths, duration=seconds, connections=connections)
        return {**figures, "connections": connections}


def combine(runs: list[dict]) -> dict:
    """Several runs of one page as one: throughput over all, the median p50, the worst p99."""
    requests = sum(run["requests"] for run in runs)
    seconds = sum(run["seconds"] for run in runs)
    return {
        "requests": requests,
        "seconds": seconds,
        "rps": requests / seconds if seconds else 0.0,
        "p50_ms": statistics.median(run["p50_ms"] for run in runs),
        "p90_ms": statistics.median(run["p90_ms"] for run in runs),
        "p99_ms": max(run["p99_ms"] for run in runs),
        "max_ms": max(run["max_ms"] for run in runs),
        "errors": sum(run["errors"] for run in runs),
        "bytes_per_response": (
            sum(run["bytes_per_response"] * run["requests"] for run in runs) / requests
            if requests
            else 0
        ),
        "connections": runs[0]["connections"],
        "runs_rps": [round(run["rps"], 1) for run in runs],
    }


# --- The benchmark --------------------------------------------------------------------------


def varied_searches(count: int = 2000) -> list[str]:
    """Distinct searches, in the proportions readers type them: mostly one or two words, some
    "quoted phrases", a few with `or` or an -exclusion."""
    import random
    from urllib.parse import urlencode

    from bench.seed import OPENERS, TARGETS, TOPICS

    words = sorted({w.lower() for t in TOPICS + TARGETS + OPENERS for w in t.split() if len(w) > 3})
    rng = random.Random(11)
    queries: set[str] = set(words) | {f'"{topic}"' for topic in TOPICS}
    while len(queries) < count:
        a, b = rng.sample(words, 2)
        queries.add(rng.choices([f"{a} {b}", f"{a} or {b}", f"{a} -{b}"], weights=[8, 1, 1])[0])
    ordered = sorted(queries)
    rng.shuffle(ordered)
    # A parameter the page does not read keeps the page cache out: every request is searched.
    return [f"/archive/search/?{urlencode({'q': q, 'uncached': 1})}" for q in ordered[:count]]


def _paths(template: str, seeded: dict) -> list[str]:
    if template == VARIED_SEARCHES:
        return varied_searches()
    return [template.format(**seeded["paths"])]


def measure_pages(base: str, loader: Loader, seeded: dict, only: set[str]) -> list[dict]:
    """Each page in PAIRED_ROUNDS short runs, each right after a run of the baseline: the
    share of the baseline compares runs a few seconds apart, whatever else the machine does."""
    baseline = ["/healthz"]
    check_page(base + baseline[0], "baseline")
    loader.warm(base, baseline)
    seconds = max(1.0, loader.duration / PAIRED_ROUNDS)
    rows, baseline_runs = [], []
    for name, template, targets, connections in PAGES:
        if name == "baseline" or (only and name not in only):
            continue
        paths = _paths(template, seeded)
        check_page(base + paths[0], name)
        loader.warm(base, paths, connections)
        runs, paired = [], []
        for _ in range(PAIRED_ROUNDS):
            if "share" in targets:
                paired.append(loader.run(base, baseline, seconds))
            runs.append(loader.run(base, paths, seconds, connections))
        figures = combine(runs)
        if paired:
            figures["paired_baseline_rps"] = combine(paired)["rps"]
            baseline_runs += paired
        log(
            f"  {name:<18} {figures['rps']:8.0f} req/s  p50 {figures['p50_ms']:6.1f} ms  "
            f"p99 {figures['p99_ms']:6.1f} ms  errors {figures['errors']}"
        )
        shown = paths[0] if len(paths) == 1 else f"{len(paths)} searches, e.g. {paths[0]}"
        rows.append({"page": name, "path": shown, "targets": list(targets), **figures})
    if not baseline_runs:
        baseline_runs = [loader.run(base, baseline, seconds) for _ in range(PAIRED_ROUNDS)]
    figures = combine(baseline_runs)
    log(f"  {'baseline':<18} {figures['rps']:8.0f} req/s  p50 {figures['p50_ms']:6.1f} ms")
    rows.insert(0, {"page": "baseline", "path": baseline[0], "targets": [], **figures})
    return rows


def judge(rows: list[dict]) -> list[dict]:
    """Each row with its targets and whether they are met."""
    baseline = next(row for row in rows if row["page"] == "baseline")
    for row in rows:
        reference = row.get("paired_baseline_rps") or baseline["rps"]
        row["share_of_baseline"] = row["rps"] / reference if reference else 0.0
        checks = {"no errors": row["errors"] == 0}
        if "share" in row["targets"]:
            checks[f"≥ {MIN_SHARE_OF_BASELINE:.0%} of baseline"] = (
                row["share_of_baseline"] >= MIN_SHARE_OF_BASELINE
            )
        if "p99" in row["targets"]:
            checks[f"p99 < {MAX_P99_MS:.0f} ms"] = row["p99_ms"] < MAX_P99_MS
        if "search" in row["targets"]:
            checks[f"p50 < {MAX_SEARCH_P50_MS:.0f} ms"] = row["p50_ms"] < MAX_SEARCH_P50_MS
        row["checks"] = checks
        row["ok"] = all(checks.values())
    return rows


def measure_growth(servers: dict[int, str], loader: Loader, seeded: dict[int, dict]) -> list[dict]:
    """Each growth page on the small and the large archive in GROWTH_ROUNDS pairs of short
    runs, one server at a time, in the order small-large, large-small, ...: a pair's two runs
    are seconds apart, so a change in what else the machine does weighs on both, and the
    ratio is the median of the pairs' ratios. (Loading both servers at once was tried first:
    they then compete for the two cores, and whichever the scheduler favours looks cheaper:
    ratios of 0.81 and 0.97 for the same pages in two runs minutes apart.)"""
    small, large = GROWTH_ISSUES
    seconds = max(1.0, loader.duration / 3)
    rows = []
    for name, template in GROWTH_PAGES:
        paths = {size: _paths(template, seeded[size]) for size in (small, large)}
        for size in (small, large):
            check_page(servers[size] + paths[size][0], name)
            loader.warm(servers[size], paths[size])
        runs: dict[int, list[dict]] = {small: [], large: []}
        pair_ratios = []
        for round_number in range(GROWTH_ROUNDS):
            order = (small, large) if round_number % 2 == 0 else (large, small)
            pair = {size: loader.run(servers[size], paths[size], seconds) for size in order}
            for size in (small, large):
                runs[size].append(pair[size])
            if pair[small]["rps"]:
                pair_ratios.append(pair[large]["rps"] / pair[small]["rps"])
        summary = {size: {"path": paths[size][0], **combine(runs[size])} for size in (small, large)}
        ratio = statistics.median(pair_ratios) if pair_ratios else 0.0
        rows.append(
            {
                "page": name,
                "small_issues": small,
                "large_issues": large,
                "small": summary[small],
                "large": summary[large],
                "throughput_ratio": ratio,
                "pair_ratios": [round(r, 3) for r in pair_ratios],
                "p50_ratio": summary[large]["p50_ms"] / summary[small]["p50_ms"],
                "ok": ratio >= MIN_GROWTH_RATIO
                and not summary[small]["errors"]
                and not summary[large]["errors"],
            }
        )
        log(
            f"  {name:<18} {small} issues {summary[small]['rps']:7.0f} req/s, "
            f"{large} issues {summary[large]['rps']:7.0f} req/s: ratio {ratio:.2f}"
        )
    return rows


def print_table(result: dict) -> None:
    server = result["server"]
    print()
    print(
        f"Reader pages, {result['seeded']['main']['counts']['issues']} issues: "
        f"{result['connections']} connections, {result['duration_s']:.0f} s each after "
        f"{result['warmup_s']:.0f} s of warm-up ({result['load_generator']}; gunicorn "
        f"{server['workers']} processes × {server['threads']} threads; "
        f"{result['machine']['cores']} cores). Each page's share is of the baseline's runs "
        "interleaved with its own."
    )
    header = (
        f"{'page':<18} {'conn':>4} {'req/s':>7} {'of base':>7} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'errors':>6}  targets met"
    )
    print(header)
    print("-" * len(header))
    for row in result.get("pages", []):
        failed = [name for name, ok in row["checks"].items() if not ok]
        if failed:
            verdict = "NO: " + ", ".join(failed)
        elif row["page"] == "baseline":
            verdict = "(the reference)"
        else:
            verdict = "yes" if row["targets"] else "(no target)"
        share = (
            f"{row['share_of_baseline']:7.0%}"
            if row["connections"] == result["connections"]
            else f"{'—':>7}"
        )
        print(
            f"{row['page']:<18} {row['connections']:4d} {row['rps']:7.0f} {share} "
            f"{row['p50_ms']:7.1f} {row['p99_ms']:7.1f} {row['errors']:6d}  {verdict}"
        )
    if result.get("growth"):
        small, large = GROWTH_ISSUES
        print()
        print(
            f"Growth, page cache off: {small} issues against {large} "
            f"(req/s; ratio = {large} / {small}, at least {MIN_GROWTH_RATIO})"
        )
        header = f"{'page':<18} {small:>8} {large:>8} {'ratio':>7} {'p50 ms':>15}  ok"
        print(header)
        print("-" * len(header))
        for row in result["growth"]:
            p50 = f"{row['small']['p50_ms']:.1f} → {row['large']['p50_ms']:.1f}"
            print(
                f"{row['page']:<18} {row['small']['rps']:8.0f} {row['large']['rps']:8.0f} "
                f"{row['throughput_ratio']:7.2f} {p50:>15}  " + ("yes" if row["ok"] else "NO")
            )
    print()
    print("All targets met." if result["ok"] else "Some targets are missed (NO above).")


def run(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m bench.pages", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per page (10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before each (2)")
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument("--workers", type=int, default=None, help="gunicorn processes")
    parser.add_argument("--threads", type=int, default=None, help="gunicorn threads each")
    parser.add_argument("--no-growth", action="store_true", help="skip the 20/2,000-issue test")
    parser.add_argument(
        "--only",
        default="",
        help='comma-separated pages to measure (with the baseline), "growth" for the growth test',
    )
    parser.add_argument("--reseed", action="store_true", help="rebuild the seeded databases")
    parser.add_argument("--quick", action="store_true", help="3 s per page, 1 s warm-up")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup = 3.0, 1.0
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = only - {page[0] for page in PAGES} - {"growth"}
    if unknown:
        raise SystemExit(f"Unknown pages {sorted(unknown)}; known: {[p[0] for p in PAGES]}, growth")
    measure_growth_too = not args.no_growth and (not only or "growth" in only)
    measure_pages_too = not only or bool(only - {"growth"})

    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    if not database_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("BENCH_DATABASE_URL must be a PostgreSQL URL (postgres://…).")
    workers, threads = server_shape(args.workers, args.threads)
    shape = {"workers": workers, "threads": threads}
    started = time.perf_counter()
    loader = Loader(duration=args.duration, warmup=args.warmup, connections=args.connections)
    result = {
        "benchmark": "pages",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench pages", *(argv or [])]),
        "machine": machine(),
        "load_generator": loader.name,
        "connections": args.connections,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "server": {
            "software": "gunicorn",
            **shape,
            "worker_class": "gthread" if threads > 1 else "sync",
        },
    }
    name = urlsplit(database_url).path.lstrip("/")
    with tempfile.TemporaryDirectory(prefix="bench-static-") as static_root:
        env = production_env(
            redis_url=redis_url,
            static_root=static_root,
            # Plain HTTP on loopback; HSTS, CSP and the rest stay on.
            SITE_URL="http://127.0.0.1",
            SECURE_SSL_REDIRECT="false",
            EMAIL_URL="consolemail://",
        )
        seeded = prepare_database(database_url, env=env, seed_args=[], reseed=args.reseed)
        growth_urls, growth_seeded = {}, {}
        if measure_growth_too:
            for size, suffix in zip(GROWTH_ISSUES, ("small", "large"), strict=True):
                growth_urls[size] = _with_database(database_url, f"{name}_{suffix}")
                growth_seeded[size] = prepare_database(
                    growth_urls[size],
                    env=env,
                    seed_args=["--issues", str(size)],
                    reseed=args.reseed,
                )
        result["seeded"] = {"main": seeded, **{str(k): v for k, v in growth_seeded.items()}}
        subprocess.run(
            [PYTHON, "manage.py", "collectstatic", "--noinput", "-v", "0"],
            cwd=ROOT,
            env={**env, "DATABASE_URL": database_url},
            check=True,
        )
        if measure_pages_too:
            log(f"reader pages on {seeded['counts']['issues']} issues ({loader.name})")
            with gunicorn(env=env, database_url=database_url, **shape) as base:
                result["pages"] = judge(measure_pages(base, loader, seeded, only))
        if growth_urls:
            small, large = GROWTH_ISSUES
            log(f"growth, page cache off: {small} against {large} issues")
            # One process each: with several, wrk's 8 keep-alive connections are shared out
            # between them when a run starts, and a run whose connections all landed on one
            # process (one core, for Python) measures half the throughput of a run where they
            # were spread: runs of the same page came out at 130 or 250 req/s, whatever the
            # archive's size. One process has nothing to share out.
            growth_shape = {"workers": 1, "threads": threads}
            result["growth_server"] = growth_shape
            with (
                gunicorn(
                    env=env, database_url=growth_urls[small], page_cache=False, **growth_shape
                ) as a,
                gunicorn(
                    env=env, database_url=growth_urls[large], page_cache=False, **growth_shape
                ) as b,
            ):
                result["growth"] = measure_growth({small: a, large: b}, loader, growth_seeded)
    result["ok"] = all(row["ok"] for row in result.get("pages", [])) and all(
        row["ok"] for row in result.get("growth", [])
    )
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    return finish("pages", run(argv), print_table)


if __name__ == "__main__":
    sys.exit(main())
