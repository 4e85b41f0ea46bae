"""Reader pages under load, with wrk: each page's throughput and latency as a share of a trivial
view's measured in the same run, and the growth of two pages' cost from 20 to 2,000 issues.

    python -m bench pages [--quick] [--duration 10] [--only "rss feed,growth"] [--reseed]
    python -m bench pages --only "search 2000"   # varied searches on 2,000 issues (50,000 items)

docs/performance.md explains the method. Environment: BENCH_DATABASE_URL (the growth archives
add _small and _large to its name), BENCH_REDIS_URL, GUNICORN_WORKERS and GUNICORN_THREADS.
"""

from __future__ import annotations

import argparse
import hashlib
import http.cookies
import json
import os
import random
import re
import secrets
import statistics
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from datetime import UTC, datetime
from urllib.error import HTTPError
from urllib.parse import urlencode, urlsplit

from bench import common
from newsletter.management.bench_vocabulary import (
    BENCH_MEMBER,
    OPENERS,
    PASSWORD,
    TARGETS,
    TOPICS,
)
from newsletter.spelling import spellings

CONNECTIONS = 8
PAIRED_ROUNDS = 3  # runs of each page, each right after a run of the baseline
VARIED = "{2,000 searches}"
# Each page with its targets ("share": half the baseline's throughput, "p99": p99 under 100 ms,
# "search": p50 under 50 ms) and, when not CONNECTIONS, its connections. {issue}, {item},
# {topic} and {event} come from the seed. The varied searches go past the page cache: what
# search itself costs.
PAGES = [
    ("home", "/", ("share", "p99"), None),
    ("archive", "/archive/", ("share", "p99"), None),
    ("issue (40 items)", "{issue}", ("share", "p99"), None),
    ("topic", "{topic}", ("share", "p99"), None),
    ("item", "{item}", ("share", "p99"), None),
    ("search", "/archive/search/?q=quantization", ("share", "p99", "search"), None),
    ("rss feed", "/archive/feed/rss/", ("share", "p99"), None),
    ("events", "/events/", ("share", "p99"), None),
    ("event", "{event}", ("share", "p99"), None),
    ("search varied", VARIED, ("search",), None),
    ("search varied c=1", VARIED, (), 1),
]
# The logged-in pass: each page with a seeded member's (or editor's) session cookie, paired with
# the anonymous baseline, and the share of it the page must reach (None: no share target).
# The editor's review queue and composer (its pool: the seed's accepted submissions, 500, the
# issue's "composer with 500 accepted items") are measured with one connection (one editor):
# p50 < 150 ms.
LOGGED_IN = "logged in"
LOGGED_IN_PAGES = [
    ("healthz", "/healthz", "member", 0.8),
    ("home", "/", "member", 0.4),
    ("archive", "/archive/", "member", 0.4),
    ("issue (40 items)", "{issue}", "member", 0.4),
    ("topic", "{topic}", "member", 0.4),
    ("item", "{item}", "member", 0.4),
    ("search", "/archive/search/?q=quantization", "member", 0.4),
    ("events", "/events/", "member", 0.4),
    ("event", "{event}", "member", 0.4),
    ("my submissions", "/my/submissions/", "member", 0.25),
    ("my rsvps", "/events/me/rsvps/", "member", 0.25),
    ("review queue", "/admin/newsletter/submission/?state=pending", "editor", None),
    ("composer", "{compose}", "editor", None),
]
# Seeded accounts (seed_bench): the first five members are editors; the member has answers.
LOGINS = {"member": f"member{BENCH_MEMBER}@example.org", "editor": "member1@example.org"}
MAX_EDITOR_P50_MS = 150.0
GROWTH_PAGES = [("archive", "/archive/"), ("issue (40 items)", "{issue}")]
GROWTH_ISSUES = (20, 2000)
GROWTH_ROUNDS = 6  # pairs of runs: small then large archive, then large then small, ...
MIN_SHARE, MAX_P99_MS, MAX_SEARCH_P50_MS = 0.5, 100.0, 50.0
# "search varied" on the large (2,000-issue, 50,000-item) archive, main server shape.
LARGE_SEARCH = "search 2000"
MAX_LARGE_SEARCH_P50_MS, MAX_LARGE_SEARCH_P99_MS = 25.0, 100.0
MIN_GROWTH_RATIO = 0.9  # "no slower", less the run-to-run noise of a loopback benchmark
SERVER_LIFETIME = 30 * 60
# A seeded database is stale once any of this code has changed: the seed, the renderings it
# stores, the migrations. (A list of the files that matter went stale when modules moved.)
SEED_INPUTS = ["newsletter", "events", "portal", "templates"]
SEED_MARK = "bench-seed "


def prepare_database(url: str, *, env: dict, seed_args: list[str], reseed: bool) -> dict:
    """A migrated database at `url` filled by `manage.py seed_bench`, reused while seeded from
    the same inputs. Its comment keeps the seed's answer and marks it as the benchmark's own:
    no other database is ever dropped."""
    digest = hashlib.sha256(json.dumps(seed_args).encode())
    for file in sorted(file for name in SEED_INPUTS for file in (common.ROOT / name).rglob("*")):
        if file.suffix in {".py", ".html"}:
            digest.update(str(file.relative_to(common.ROOT)).encode() + file.read_bytes())
    mark, name = f"{SEED_MARK}{digest.hexdigest()[:16]} ", urlsplit(url).path.lstrip("/")
    query = "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = {text}"
    found = common.database_sql(url, query, name, name)
    comment = (found[0][0] or "") if found else None
    if comment is not None and not comment.startswith(SEED_MARK):
        raise SystemExit(f"The database {name} exists and was not created by the benchmark.")
    if comment and comment.startswith(mark) and not reseed:
        common.log(f"{name}: reusing the seeded database (same code and options)")
        return json.loads(comment.removeprefix(mark))
    if comment is not None:
        common.database_sql(url, "DROP DATABASE {name} WITH (FORCE)", name)
    common.database_sql(url, "CREATE DATABASE {name}", name)
    common.database_sql(url, "COMMENT ON DATABASE {name} IS {text}", name, SEED_MARK)
    common.log(f"{name}: manage.py migrate, then seed_bench {' '.join(seed_args)}")
    common.manage("migrate", "--noinput", "-v", "0", env={**env, "DATABASE_URL": url})
    # A batch job: no statement timeout (storing 50,000 search vectors takes longer than a
    # web request may on a busy machine).
    seed_env = {**env, "DATABASE_URL": url, "DATABASE_STATEMENT_TIMEOUT": "0"}
    seeded = common.manage("seed_bench", *seed_args, env=seed_env)
    common.database_sql(url, "COMMENT ON DATABASE {name} IS {text}", name, mark + seeded)
    settle(url, name)
    return json.loads(seeded)


def settle(url: str, name: str) -> None:
    """The seed writes hundreds of megabytes, and PostgreSQL's checkpoint then spreads their
    writing over the next minutes (checkpoint_completion_target): a run measured in that time
    measured the disk too (a p99 of 124 ms right after a seed, 55 ms in the run after it). A
    CHECKPOINT writes them now: the benchmark measures the archive at rest, as readers meet it.
    It needs a superuser or pg_checkpoint; without them the run goes on, and says so."""
    import psycopg

    try:
        common.database_sql(url, "CHECKPOINT", name)
    except psycopg.Error as error:
        common.log(f"{name}: no CHECKPOINT after the seed ({error}); the first runs may be slower")


def serve(env: dict, url: str, *, workers: int, threads: int, page_cache: bool = True):
    """gunicorn on the database at `url`, with a cache namespace of its own."""
    env = {**env, "DATABASE_URL": url, "CACHE_KEY_PREFIX": f"bench-{secrets.token_hex(4)}"}
    if not page_cache:
        env["READER_CACHE_SECONDS"] = "0"
    return common.gunicorn(env=env, workers=workers, threads=threads, lifetime=SERVER_LIFETIME)


def check_page(url: str, name: str) -> None:
    """Fetch a page once before loading it: it must answer 200 with the expected content."""
    with urllib.request.urlopen(url, timeout=10) as response:
        body = response.read().decode()
    if name.startswith("issue") and len(re.findall(r'<article class="issue-item', body)) < 40:
        raise SystemExit(f"{name}: {url} shows fewer than the 40 items expected")
    if name == "search" and "<mark>" not in body:
        raise SystemExit(f"search: {url} highlights nothing; the seed has no matches")
    if name in ("topic", "item") and 'class="topic-chip"' not in body:
        raise SystemExit(f"{name}: {url} shows no topic; the seed gave the items none")


def varied_searches(count: int = 2000) -> list[str]:
    """Distinct searches in the proportions readers type them: mostly one or two words, some
    "quoted phrases", a few with `or` or an -exclusion, some in a word's other spelling
    ("quantisation", "optimizers": found through newsletter/spelling.py) and some misspelt (a
    letter left out: mostly nothing matches, and the page asks "Did you mean"), all from the
    seed's vocabulary."""

    words = sorted({w.lower() for t in TOPICS + TARGETS + OPENERS for w in t.split() if len(w) > 3})
    rng = random.Random(11)

    def misspelt(word: str) -> str:
        cut = rng.randrange(1, len(word) - 1)
        return word[:cut] + word[cut + 1 :]

    # The vocabulary's words in their other spelling ("optimisers" as "optimizers").
    respelt = [other for word in words for other in spellings(word) if other != word]
    queries: set[str] = set(words) | set(respelt) | {f'"{topic}"' for topic in TOPICS}
    while len(queries) < count:
        a, b = rng.sample(words, 2)
        other = rng.choice(respelt)
        forms = [f"{a} {b}", f"{a} or {b}", f"{a} -{b}", f"{other} {b}", f"{misspelt(a)} {b}"]
        queries.add(rng.choices(forms, weights=[8, 1, 1, 1, 1])[0])
    ordered = sorted(queries)
    rng.shuffle(ordered)
    # A parameter the page does not read keeps the page cache out: every request is searched.
    return [f"/archive/search/?{urlencode({'q': q, 'uncached': 1})}" for q in ordered[:count]]


def combine(runs: list[dict]) -> dict:
    """Several runs of one page as one: throughput over all, the median p50, the worst p99."""
    requests, seconds = sum(r["requests"] for r in runs), sum(r["seconds"] for r in runs)
    return {
        "requests": requests,
        "rps": requests / seconds,
        "runs_rps": [round(r["rps"], 1) for r in runs],
        "p50_ms": statistics.median(r["p50_ms"] for r in runs),
        "p90_ms": statistics.median(r["p90_ms"] for r in runs),
        "p99_ms": max(r["p99_ms"] for r in runs),
        "max_ms": max(r["max_ms"] for r in runs),
        "bytes_per_response": (
            sum(r["bytes_per_response"] * r["requests"] for r in runs) / max(1, requests)
        ),
        "errors": sum(r["errors"] for r in runs),
        "connections": runs[0]["connections"],
    }


def paired_runs(loads: list[tuple], rounds: int, args, alternate: bool = False):
    """Two loads (a server, its paths, the connections), each warmed up, then `rounds` pairs
    of runs of a third of --duration, the second right after the first (alternating: the other
    way round every other pair). A pair's runs are seconds apart, so what else the machine does
    weighs on both."""

    def run(load: tuple, seconds: float) -> dict:
        base, paths, connections, *headers = load
        return common.wrk(
            base + paths[0],
            seconds=seconds,
            connections=connections,
            paths=paths,
            headers=headers[0] if headers else {},
        )

    if args.warmup:
        for load in loads:
            run(load, args.warmup)
    runs: tuple[list, list] = ([], [])
    for number in range(rounds):
        for index in (1, 0) if alternate and number % 2 else (0, 1):
            runs[index].append(run(loads[index], args.duration / 3))
    return runs


def measure_pages(base: str, seeded: dict, args) -> list[dict]:
    """Each page paired with the baseline, and its targets checked against that baseline."""
    check_page(base + "/healthz", "baseline")
    baseline = (base, ["/healthz"], args.connections)
    rows, baseline_runs = [], []
    for name, path, targets, connections in PAGES:
        if args.only and name not in args.only:
            continue
        paths = varied_searches() if path == VARIED else [path.format(**seeded["paths"])]
        check_page(base + paths[0], name)
        load = (base, paths, connections or args.connections)
        paired, runs = paired_runs([baseline, load], PAIRED_ROUNDS, args)
        baseline_runs += paired
        row = {"page": name, "path": paths[0], "targets": targets, **combine(runs)}
        row["share_of_baseline"] = share = row["rps"] / combine(paired)["rps"]
        row["checks"] = {"no errors": row["errors"] == 0}
        if "share" in targets:
            row["checks"][f"≥ {MIN_SHARE:.0%} of baseline"] = share >= MIN_SHARE
        if "p99" in targets:
            row["checks"][f"p99 < {MAX_P99_MS:.0f} ms"] = row["p99_ms"] < MAX_P99_MS
        if "search" in targets:
            row["checks"][f"p50 < {MAX_SEARCH_P50_MS:.0f} ms"] = row["p50_ms"] < MAX_SEARCH_P50_MS
        row["ok"] = all(row["checks"].values())
        rows.append(row)
        common.log(f"  {name}: {row['rps']:.0f} req/s, {share:.0%} of the baseline")
    figures = combine(baseline_runs)
    checks = {"no errors": figures["errors"] == 0}
    reference = {"page": "baseline", "path": "/healthz", "targets": (), "share_of_baseline": 1}
    return [{**reference, **figures, "checks": checks, "ok": checks["no errors"]}, *rows]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _cookies(headers) -> dict[str, str]:
    jar = http.cookies.SimpleCookie()
    for value in headers.get_all("Set-Cookie") or ():
        jar.load(value)
    return {name: morsel.value for name, morsel in jar.items()}


def log_in(base: str, email: str) -> dict:
    """Log in through the site's login form, as a person would; the session and CSRF cookies
    (the only ones a member keeps between pages) as a Cookie header."""

    url = base + "/accounts/login/"
    with urllib.request.urlopen(url, timeout=10) as response:
        cookies = _cookies(response.headers)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.read().decode())
    form = urlencode({"login": email, "password": PASSWORD, "csrfmiddlewaretoken": token[1]})
    request = urllib.request.Request(
        url, form.encode(), headers={"Cookie": f"csrftoken={cookies['csrftoken']}", "Referer": url}
    )
    try:
        urllib.request.build_opener(_NoRedirect).open(request, timeout=30).close()
    except HTTPError as answer:
        if answer.code == 302:
            cookies.update(_cookies(answer.headers))
    if "sessionid" not in cookies:
        raise SystemExit(f"Could not log in as {email} through {url}")
    return {"Cookie": f"sessionid={cookies['sessionid']}; csrftoken={cookies['csrftoken']}"}


def check_logged_in(url: str, name: str, headers: dict, seeded: dict) -> None:
    """The page answers 200 to the member, who sees it as a member (a "Log out" button); the
    composer lists the seed's whole pool (one page of it)."""
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as page:
        body = page.read().decode()
    if name != "healthz" and "Log out" not in body:
        raise SystemExit(f"{name}: {url} is not shown as to a logged-in member")
    if name == "composer" and body.count('name="add" value=') != seeded["pool"]:
        raise SystemExit(f"composer: {url} does not list the {seeded['pool']} of the pool")
    if name == "my rsvps" and "Your answer:" not in body:
        raise SystemExit(f"{name}: {url} lists no answer; the seed gave the member none")


def measure_logged_in(base: str, seeded: dict, args) -> list[dict]:
    """Each page with a member's (or editor's) session cookie, paired with the anonymous
    baseline: its share of the anonymous /healthz, measured seconds apart."""
    baseline = (base, ["/healthz"], args.connections)
    sessions = {role: log_in(base, email) for role, email in LOGINS.items()}
    rows = []
    for name, path, role, share_target in LOGGED_IN_PAGES:
        path = path.format(**seeded["paths"])
        check_logged_in(base + path, name, sessions[role], seeded)
        connections = args.connections if share_target else 1
        load = (base, [path], connections, sessions[role])
        paired, runs = paired_runs([baseline, load], PAIRED_ROUNDS, args)
        row = {"page": name, "role": role, "path": path, **combine(runs)}
        row["share_of_baseline"] = share = row["rps"] / combine(paired)["rps"]
        # A page slower than a run answers no request in it: that is a miss, not a p50 of 0.
        row["checks"] = {"no errors": row["errors"] == 0, "answered": row["requests"] > 0}
        if share_target:
            row["checks"][f"≥ {share_target:.0%} of anonymous baseline"] = share >= share_target
        else:
            row["checks"][f"p50 < {MAX_EDITOR_P50_MS:.0f} ms"] = row["p50_ms"] < MAX_EDITOR_P50_MS
        row["ok"] = all(row["checks"].values())
        rows.append(row)
        common.log(f"  {name} ({role}): {row['rps']:.0f} req/s, {share:.0%} of the baseline")
    return rows


def measure_large_search(base: str, args) -> list[dict]:
    """The varied searches on the 2,000-issue archive (its own server, the main shape), paired
    with that server's /healthz: p50 < 25 ms and p99 < 100 ms at CONNECTIONS."""
    baseline = (base, ["/healthz"], args.connections)
    paths = varied_searches()
    check_page(base + paths[0], "search varied")
    paired, runs = paired_runs([baseline, (base, paths, args.connections)], PAIRED_ROUNDS, args)
    row = {"page": "search varied (2,000 issues)", "path": paths[0], **combine(runs)}
    row["share_of_baseline"] = row["rps"] / combine(paired)["rps"]
    row["checks"] = {
        "no errors": row["errors"] == 0,
        f"p50 < {MAX_LARGE_SEARCH_P50_MS:.0f} ms": row["p50_ms"] < MAX_LARGE_SEARCH_P50_MS,
        f"p99 < {MAX_LARGE_SEARCH_P99_MS:.0f} ms": row["p99_ms"] < MAX_LARGE_SEARCH_P99_MS,
    }
    row["ok"] = all(row["checks"].values())
    common.log(f"  {row['page']}: p50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms")
    return [row]


def measure_growth(servers: dict[int, str], seeded: dict, args) -> list[dict]:
    """Each growth page on the small and the large archive, in pairs of runs alternating which
    goes first; the ratio is the median of the pairs' throughput ratios. (Loading both at once
    was tried first: they then compete for the cores, and whichever the scheduler favours looks
    cheaper.)"""
    rows = []
    for name, path in GROWTH_PAGES:
        loads = []
        for size in GROWTH_ISSUES:
            paths = [path.format(**seeded[size]["paths"])]
            check_page(servers[size] + paths[0], name)
            loads.append((servers[size], paths, args.connections))
        small, large = paired_runs(loads, GROWTH_ROUNDS, args, alternate=True)
        ratios = [b["rps"] / a["rps"] for a, b in zip(small, large, strict=True)]
        small, large, ratio = combine(small), combine(large), statistics.median(ratios)
        ok = ratio >= MIN_GROWTH_RATIO and not small["errors"] + large["errors"]
        rows.append({"page": name, "small": small, "large": large, "ratio": ratio, "ok": ok})
        common.log(f"  {name}: {small['rps']:.0f} against {large['rps']:.0f} req/s")
    return rows


def print_table(result: dict) -> None:
    server, machine = result["server"], result["machine"]
    print(
        f"\nReader pages, {result['seeded']['main']['counts']['issues']} issues, {machine['wrk']}, "
        f"gunicorn {server['workers']} × {server['threads']} threads, {machine['cores']} cores: "
        f"runs of {result['duration_s'] / 3:.0f} s, each page's interleaved with the baseline's"
    )
    header = f"{'page':<18} conn   req/s  of base  p50 ms  p99 ms  errors  targets met"
    print(f"{header}\n{'-' * len(header)}")
    for row in result.get("pages", []):
        failed = [check for check, ok in row["checks"].items() if not ok]
        verdict = {"baseline": "(the reference)"}.get(row["page"], "(no target)")
        verdict = "yes" if row["targets"] else verdict
        share = row["share_of_baseline"] if row["connections"] == result["connections"] else None
        print(
            f"{row['page']:<18} {row['connections']:4d} {row['rps']:7.0f} "
            f"{f'{share:.0%}' if share else '—':>8} {row['p50_ms']:7.1f} {row['p99_ms']:7.1f} "
            f"{row['errors']:7d}  {'NO: ' + ', '.join(failed) if failed else verdict}"
        )
    print_logged_in(result)
    for row in result.get("large_search", []):
        failed = [check for check, ok in row["checks"].items() if not ok]
        print(
            f"\n{row['page']}: {row['rps']:.0f} req/s, p50 {row['p50_ms']:.1f} ms, "
            f"p99 {row['p99_ms']:.1f} ms, {row['errors']} errors  "
            f"{'NO: ' + ', '.join(failed) if failed else 'targets met'}"
        )
    if result.get("growth"):
        small, large = GROWTH_ISSUES
        print(
            f"\nGrowth, page cache off: req/s on {small} and {large} issues (the ratio at least "
            f"{MIN_GROWTH_RATIO})\n{'page':<18} {small:>7} {large:>7} {'ratio':>6}  p50 ms"
        )
    for row in result.get("growth", []):
        small, large = row["small"], row["large"]
        print(
            f"{row['page']:<18} {small['rps']:7.0f} {large['rps']:7.0f} {row['ratio']:6.2f}  "
            f"{small['p50_ms']:.1f} → {large['p50_ms']:.1f}  {'yes' if row['ok'] else 'NO'}"
        )
    print("\nAll targets met." if result["ok"] else "\nSome targets are missed (NO above).")


def print_logged_in(result: dict) -> None:
    if not result.get("logged_in"):
        return
    anonymous = {row["page"]: row for row in result.get("pages", [])}
    print(
        "\nLogged in: each page with a seeded member's (editor's) session cookie, its share of "
        "the anonymous /healthz\nfrom the same run, next to the anonymous share of the same "
        "page (the first table)"
    )
    header = (
        f"{'page':<18} {'role':<7} conn   req/s  of base  anon  p50 ms  p99 ms  errors  targets"
    )
    print(f"{header}\n{'-' * len(header)}")
    for row in result["logged_in"]:
        failed = [check for check, ok in row["checks"].items() if not ok]
        known = anonymous.get("baseline" if row["page"] == "healthz" else row["page"])
        anon = f"{known['share_of_baseline']:.0%}" if known else "—"
        print(
            f"{row['page']:<18} {row['role']:<7} {row['connections']:4d} {row['rps']:7.0f} "
            f"{row['share_of_baseline']:8.0%} {anon:>5} {row['p50_ms']:7.1f} {row['p99_ms']:7.1f} "
            f"{row['errors']:7d}  {'NO: ' + ', '.join(failed) if failed else 'yes'}"
        )


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench pages", description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per page (10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before each (2)")
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument("--workers", type=int, default=0, help="gunicorn processes (cores)")
    parser.add_argument("--threads", type=int, default=0, help="gunicorn threads each (4)")
    parser.add_argument("--no-growth", action="store_true", help="skip the 20/2,000-issue test")
    parser.add_argument("--only", default="", help='some pages, comma-separated; "growth" too')
    parser.add_argument("--reseed", action="store_true", help="rebuild the seeded databases")
    parser.add_argument("--quick", action="store_true", help="3 s per page, 1 s warm-up")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup = 3.0, 1.0
    args.only = {name.strip() for name in args.only.split(",") if name.strip()}
    known = [page[0] for page in PAGES] + ["growth", LOGGED_IN, LARGE_SEARCH]
    if args.only - set(known):
        parser.error(f"unknown pages {sorted(args.only - set(known))}; known: {known}")
    # One process per core, four threads each: docs/performance.md compares the shapes.
    args.workers = args.workers or int(os.environ.get("GUNICORN_WORKERS", 0)) or os.cpu_count()
    args.threads = args.threads or int(os.environ.get("GUNICORN_THREADS", 0)) or 4
    return args


def run(argv: list[str]) -> dict:
    args = parse(argv)
    database_url, redis_url = common.settings_from_environment()
    started, name = time.perf_counter(), urlsplit(database_url).path.lstrip("/")
    urls = {"main": database_url}
    large = not args.only or bool(args.only & {"growth", LARGE_SEARCH})
    if (not args.no_growth or LARGE_SEARCH in args.only) and large:
        for size, suffix in zip(GROWTH_ISSUES, ("small", "large"), strict=True):
            if size == GROWTH_ISSUES[0] and args.only and "growth" not in args.only:
                continue  # the large-archive search needs only the large archive
            urls[size] = common.database_named(database_url, f"{name}_{suffix}")
    result = {
        "benchmark": "pages",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench pages", *argv]),
        "machine": common.machine(),
        "connections": args.connections,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "server": {"software": "gunicorn", "workers": args.workers, "threads": args.threads},
        "growth_server": {"workers": 1, "threads": args.threads},
        "seeded": {},
    }
    if not result["machine"]["wrk"]:  # before minutes of seeding
        raise SystemExit(common.WRK_MISSING)
    with tempfile.TemporaryDirectory(prefix="bench-static-") as static_root:
        # Plain HTTP on loopback; HSTS, CSP and the rest stay on.
        env = common.production_env(
            REDIS_URL=redis_url,
            STATIC_ROOT=static_root,
            SITE_URL="http://127.0.0.1",
            SECURE_SSL_REDIRECT="false",
        )
        seeded = result["seeded"]
        for key, url in urls.items():
            seed_args = [] if key == "main" else ["--issues", str(key)]
            seeded[key] = prepare_database(url, env=env, seed_args=seed_args, reseed=args.reseed)
        common.manage(
            "collectstatic", "--noinput", "-v", "0", env={**env, "DATABASE_URL": database_url}
        )
        if not args.only or args.only - {"growth", LARGE_SEARCH}:
            common.log(f"reader pages on {seeded['main']['counts']['issues']} issues")
            with serve(env, database_url, workers=args.workers, threads=args.threads) as base:
                if not args.only or args.only - {"growth", LOGGED_IN, LARGE_SEARCH}:
                    result["pages"] = measure_pages(base, seeded["main"], args)
                if not args.only or LOGGED_IN in args.only:
                    common.log("logged in: a member's and an editor's pages")
                    result["logged_in"] = measure_logged_in(base, seeded["main"], args)
        if GROWTH_ISSUES[1] in urls and (not args.only or LARGE_SEARCH in args.only):
            common.log(f"varied searches on {GROWTH_ISSUES[1]} issues")
            big = GROWTH_ISSUES[1]
            with serve(env, urls[big], workers=args.workers, threads=args.threads) as base:
                result["large_search"] = measure_large_search(base, args)
        if GROWTH_ISSUES[0] in urls and (not args.only or "growth" in args.only):
            common.log(f"growth, page cache off: {GROWTH_ISSUES[0]} against {GROWTH_ISSUES[1]}")
            # One process each: with several, wrk's keep-alive connections are shared out between
            # them when a run starts, and a run whose connections all landed on one process (one
            # core, for Python) measures half the throughput of one where they were spread.
            shape = {"workers": 1, "threads": args.threads, "page_cache": False}
            with ExitStack() as stack:
                servers = {
                    n: stack.enter_context(serve(env, urls[n], **shape)) for n in GROWTH_ISSUES
                }
                result["growth"] = measure_growth(servers, seeded, args)
    measured = [
        *result.get("pages", []),
        *result.get("logged_in", []),
        *result.get("large_search", []),
        *result.get("growth", []),
    ]
    result["ok"] = all(row["ok"] for row in measured)
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result
