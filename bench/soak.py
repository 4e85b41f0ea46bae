"""Soak: mixed traffic for minutes on end, then a check that nothing was lost or sent twice.

    python -m bench soak [--minutes 10]        (or: python -m bench.soak --minutes 1)

What it does, all on loopback and bounded in time:

1. Creates a throwaway PostgreSQL database (dropped at the end), migrates it and seeds a small
   community: members, two editors, a published issue, events, and a Discord channel whose
   webhook is the local Discord stand-in (5 requests per 2 s per webhook, like Discord).
2. Starts its own redis-server on a free port (or uses BENCH_REDIS_URL without one), gunicorn
   with production settings (DEBUG off, secure cookies, behind a "TLS proxy": requests carry
   X-Forwarded-Proto: https), and a Celery worker with its beat, as production runs them.
3. For `--minutes`, virtual users act as people do, each with its own session and CSRF token:
   readers browse the home page, archive, issues, search, feed and events; members log in and
   submit links and look at their submissions; editors vote on every new submission in the
   review queue (two votes accept it), and one of them composes and publishes an issue every
   `--publish-every` seconds, which the worker delivers to the Discord stand-in.
4. Stops the traffic, waits (bounded) for the deliveries to finish, and checks: no 5xx and no
   failed request, every submission the site acknowledged is stored with its link, every
   Discord message of every delivery posted exactly once (the stand-in's record against the
   database's), and no delivery failed.

Prints a table and saves bench/results/soak-<time>.json and soak-latest.json. Exit status 0
when every check holds. Environment: BENCH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/portal_bench; the throwaway database is portal_soak_<pid>),
BENCH_REDIS_URL (used only when redis-server is not installed).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
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
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
PASSWORD = "soak passphrase for every account"  # the throwaway accounts' password
MEMBERS, READERS, EDITORS = 4, 4, 2
DRAIN_SECONDS = 180  # longest wait for the last deliveries after the traffic stops
SEARCHES = ["quantization", "pruning", "sparse attention", "distillation", "inference"]


def log(message: str) -> None:
    print(f"[soak] {message}", file=sys.stderr, flush=True)


# --- Processes: Redis, gunicorn, the worker ------------------------------------------------------


@contextmanager
def process(command: list[str], *, lifetime: float, env: dict | None = None, quiet: bool = True):
    """A child process with a hard bound on its life; stopped (then killed) on the way out."""
    if shutil.which("timeout"):
        command = ["timeout", "--kill-after=10", str(int(lifetime)), *command]
    child = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        # The children's own reports go to stderr, so stdout keeps only the soak's table.
        stdout=subprocess.DEVNULL if quiet else sys.stderr,
        stderr=subprocess.DEVNULL if quiet else sys.stderr,
        preexec_fn=die_with_parent,
    )
    try:
        yield child
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()


def wait_for(predicate, *, timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise SystemExit(f"{what} within {timeout:.0f} s")


def redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def http_ok(url: str) -> bool:
    import requests

    with requests.Session() as session:
        session.trust_env = False
        try:
            # As the TLS proxy forwards it; plain HTTP is redirected to https.
            answer = session.get(url, headers={"X-Forwarded-Proto": "https"}, timeout=2)
            return answer.status_code == 200
        except requests.RequestException:
            return False


# --- The database ------------------------------------------------------------------------------


@contextmanager
def throwaway_database(base_url: str):
    """A new, empty database for this run only; dropped afterwards (and only that one)."""
    from psycopg import sql

    name = f"portal_soak_{os.getpid()}"
    url = urlunsplit(urlsplit(base_url)._replace(path=f"/{name}"))
    with admin_connection(base_url) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield url
    finally:
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        with admin_connection(base_url) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def setup_django(env: dict) -> None:
    os.environ.update(env)
    import django
    from django.conf import settings

    if settings.configured:  # Django is set up once per process
        raise SystemExit("soak: run it in a process of its own: python -m bench soak")

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def seed(discord) -> dict:
    """Members, editors, a published issue, events, and a channel on the stand-in."""
    from datetime import timedelta

    from django.utils import timezone

    from events.models import Event
    from newsletter.models import Kind, Submission
    from newsletter.services.compose import issue_fill
    from newsletter.services.issues import issue_create, issue_publish
    from newsletter.services.submissions import submission_create, submission_transition
    from tests.factories import EditorFactory, UserFactory
    from tests.stubs.discord import make_channel

    members = [UserFactory(username=f"soak-member-{n}", password=PASSWORD) for n in range(MEMBERS)]
    editors = [
        EditorFactory(username=f"soak-editor-{n}", password=PASSWORD) for n in range(EDITORS)
    ]
    for n in range(6):
        submission = submission_create(
            author=members[n % MEMBERS],
            url=f"https://example.org/soak/seed/{n}",
            kind=[Kind.PAPER, Kind.BLOG, Kind.TOOL][n % 3],
            title=f"Seed item {n}: {SEARCHES[n % len(SEARCHES)]} at scale",
            summary=f"A first look at **{SEARCHES[n % len(SEARCHES)]}**.",
        )
        submission_transition(
            submission=submission, to_state=Submission.State.ACCEPTED, actor=editors[0]
        )
    issue = issue_create(title="The first issue", introduction="Hello!", actor=editors[0])
    issue_fill(issue=issue, actor=editors[0])
    issue = issue_publish(issue=issue, actor=editors[0])
    events = []
    for n in range(3):
        start = timezone.now() + timedelta(days=3 + n)
        events.append(
            Event.objects.create(
                title=f"Reading group {n}",
                slug=f"reading-group-{n}",
                start=start,
                end=start + timedelta(hours=1),
                state=Event.State.PUBLISHED,
                capacity=20,
            )
        )
    hook = discord.create_webhook(name="Newsletter (soak)")
    make_channel(discord, hook, name="soak")
    return {
        "members": [m.email for m in members],
        "editors": [e.username for e in editors],
        "reader_paths": [
            "/",
            "/archive/",
            issue.get_absolute_url(),
            "/archive/feed/rss/",
            "/events/",
            *[event.get_absolute_url() for event in events],
            *[f"/archive/search/?q={q.replace(' ', '+')}" for q in SEARCHES],
        ],
        "hook": hook,
    }


# --- Virtual users -----------------------------------------------------------------------------


@dataclass
class Record:
    """Everything the virtual users saw, shared between their threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, dict[int, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    failures: list[str] = field(default_factory=list)
    retries: list[str] = field(default_factory=list)  # GETs sent again after a dropped connection
    submitted: dict[int, str] = field(default_factory=dict)  # pk -> link, as the site answered
    to_review: list[int] = field(default_factory=list)
    votes: int = 0
    published: list[int] = field(default_factory=list)

    def note(self, kind: str, status: int, seconds: float) -> None:
        with self.lock:
            self.latencies[kind].append(seconds)
            self.statuses[kind][status] += 1

    def fail(self, message: str) -> None:
        with self.lock:
            if len(self.failures) < 200:
                self.failures.append(message)

    def retry(self, message: str) -> None:
        with self.lock:
            if len(self.retries) < 200:
                self.retries.append(message)


def _reason(exc: Exception) -> str:
    """The exception and its innermost cause, on one line."""
    cause = exc
    while cause.__cause__ is not None or cause.__context__ is not None:
        cause = cause.__cause__ or cause.__context__
    detail = f"{type(exc).__name__}"
    if cause is not exc:
        detail += f" ({type(cause).__name__}: {cause})"
    return detail[:300]


class User:
    def __init__(self, base: str, record: Record, stop: threading.Event):
        import requests

        self.base = base
        self.record = record
        self.stop = stop
        self.session = requests.Session()
        self.session.trust_env = False  # loopback only: no proxy from the environment
        self.session.headers.update(
            {"X-Forwarded-Proto": "https", "Origin": f"https://{urlsplit(base).netloc}"}
        )
        self.random = random.Random()  # the traffic's shape, not security

    def request(self, kind: str, method: str, path: str, data: dict | None = None):
        import requests

        if data is not None:
            data = {"csrfmiddlewaretoken": self.session.cookies.get("csrftoken", ""), **data}
        started = time.perf_counter()
        # A GET is sent again once if the connection fails, as browsers and proxies do when
        # the server closed an idle keep-alive connection just as it was reused (gunicorn
        # closes them after 2 s). The retries are counted and shown; a POST never is resent.
        try:
            try:
                response = self._send(method, path, data)
            except requests.ConnectionError as exc:
                if method != "GET":
                    raise
                self.record.retry(f"{method} {path}: {_reason(exc)}")
                response = self._send(method, path, data)
        except requests.RequestException as exc:
            self.record.fail(f"{method} {path}: {_reason(exc)}")
            self.record.note(kind, 0, time.perf_counter() - started)
            return None
        self.record.note(kind, response.status_code, time.perf_counter() - started)
        # Loopback stands in for the TLS proxy: send the site's Secure cookies over it too.
        for cookie in self.session.cookies:
            cookie.secure = False
        if response.status_code >= 500:
            self.record.fail(f"{method} {path}: {response.status_code}")
        return response

    def _send(self, method: str, path: str, data: dict | None):
        return self.session.request(
            method, self.base + path, data=data, allow_redirects=False, timeout=30
        )

    def expect(self, response, status: int, what: str) -> bool:
        if response is None:
            return False
        if response.status_code != status:
            self.record.fail(f"{what}: {response.status_code}, expected {status}")
            return False
        return True

    def pause(self, seconds: float) -> None:
        self.stop.wait(self.random.uniform(0.5, 1.5) * seconds)


def reader(user: User, paths: list[str]) -> None:
    while not user.stop.is_set():
        path = user.random.choice(paths)
        user.expect(user.request("reader", "GET", path), 200, f"GET {path}")
        user.pause(0.1)


def member(user: User, email: str, number: int) -> None:
    user.request("login", "GET", "/accounts/login/")
    response = user.request(
        "login", "POST", "/accounts/login/", {"login": email, "password": PASSWORD}
    )
    if not user.expect(response, 302, f"log in {email}"):
        return
    kinds = ["paper", "blog", "tool", "repo"]
    sent = 0
    while not user.stop.is_set():
        user.expect(user.request("member", "GET", "/submit/"), 200, "GET /submit/")
        link = f"https://example.org/soak/{number}/{sent}-{secrets.token_hex(3)}"
        topic = user.random.choice(SEARCHES)
        response = user.request(
            "submit",
            "POST",
            "/submit/",
            {
                "url": link,
                "kind": kinds[sent % len(kinds)],
                "title": f"Member {number}, link {sent}: {topic} in practice",
                "summary": f"Notes on **{topic}**, with numbers.",
                "note_to_editors": "",
                "links-TOTAL_FORMS": "0",
                "links-INITIAL_FORMS": "0",
                "links-MIN_NUM_FORMS": "0",
                "links-MAX_NUM_FORMS": "3",
            },
        )
        sent += 1
        if user.expect(response, 302, f"submit {link}"):
            match = re.search(r"/my/submissions/(\d+)/$", response.headers.get("Location", ""))
            if match is None:
                user.record.fail(f"submit {link}: redirected to {response.headers.get('Location')}")
            else:
                pk = int(match[1])
                with user.record.lock:
                    user.record.submitted[pk] = link
                    user.record.to_review.append(pk)
                user.expect(user.request("member", "GET", f"/my/submissions/{pk}/"), 200, "detail")
        user.expect(user.request("member", "GET", "/my/submissions/"), 200, "my submissions")
        user.pause(1.5)


def editor(user: User, username: str, *, publisher: bool, publish_every: float) -> None:
    user.request("login", "GET", "/admin/login/")
    response = user.request(
        "login",
        "POST",
        "/admin/login/",
        {"username": username, "password": PASSWORD, "next": "/admin/"},
    )
    if not user.expect(response, 302, f"admin log in {username}"):
        return
    voted: set[int] = set()
    next_issue = time.monotonic() + publish_every
    while not user.stop.is_set():
        user.expect(user.request("editor", "GET", "/admin/newsletter/submission/"), 200, "queue")
        with user.record.lock:
            waiting = [pk for pk in user.record.to_review if pk not in voted]
        for pk in waiting[:5]:
            response = user.request(
                "vote", "POST", f"/admin/newsletter/submission/{pk}/vote/", {"value": "1"}
            )
            if user.expect(response, 302, f"vote on {pk}"):
                voted.add(pk)
                with user.record.lock:
                    user.record.votes += 1
        if publisher and time.monotonic() >= next_issue:
            publish(user)
            next_issue = time.monotonic() + publish_every
        user.pause(1.0)


def publish(user: User) -> None:
    """Create an issue, fill it from the accepted pool and publish it, as an editor does."""
    response = user.request("editor", "GET", "/admin/newsletter/issue/add/")
    if not user.expect(response, 200, "issue add page"):
        return
    number = re.search(r'name="number"[^>]*value="(\d+)"', response.text)
    if number is None:
        user.record.fail("issue add page: no number suggested")
        return
    response = user.request(
        "publish",
        "POST",
        "/admin/newsletter/issue/add/",
        {
            "number": number[1],
            "title": f"Soak issue {number[1]}",
            "slug": "",
            "introduction": "What the **community** shared.",
            "closing": "Thanks for reading.",
            "_continue": "Save and continue editing",
        },
    )
    if not user.expect(response, 302, "create issue"):
        return
    issue = re.search(r"/issue/(\d+)/", response.headers.get("Location", ""))
    if issue is None:
        user.record.fail(f"create issue: redirected to {response.headers.get('Location')}")
        return
    pk = issue[1]
    compose = f"/admin/newsletter/issue/{pk}/compose/"
    response = user.request("publish", "POST", compose, {"action": "fill"})
    if not user.expect(response, 302, "fill issue"):
        return
    response = user.request(
        "publish", "POST", f"/admin/newsletter/issue/{pk}/publishing/", {"action": "publish"}
    )
    if user.expect(response, 302, "publish issue"):
        with user.record.lock:
            user.record.published.append(int(number[1]))


# --- Checking what happened ----------------------------------------------------------------------


def check(record: Record, discord, hook) -> dict:
    from newsletter.models import Delivery, DeliveryMessage, Issue, Submission

    stored = dict(Submission.objects.filter(pk__in=record.submitted).values_list("pk", "url"))
    missing = sorted(pk for pk, link in record.submitted.items() if stored.get(pk) != link)
    rows = list(
        DeliveryMessage.objects.values_list("discord_message_id", "state", "maybe_duplicate")
    )
    posted = [m.id for m in discord.posted(hook)]
    ids = [row[0] for row in rows if row[0]]
    delivered_once = (
        all(state == DeliveryMessage.State.SENT for _, state, _ in rows)
        and sorted(ids) == sorted(posted)
        and len(set(posted)) == len(posted)
        and len(ids) == len(rows)
    )
    contents = discord.contents(hook)
    return {
        "submissions_acknowledged": len(record.submitted),
        "submissions_missing": missing,
        "issues_published": Issue.objects.filter(state=Issue.State.PUBLISHED).count(),
        "deliveries": {
            state: Delivery.objects.filter(state=state).count() for state in Delivery.State.values
        },
        "discord_messages_expected": len(rows),
        "discord_messages_posted": len(posted),
        "discord_duplicate_contents": len(contents) - len(set(contents)),
        "maybe_duplicate_rows": sum(1 for *_, maybe in rows if maybe),
        "rate_limited_429": discord.count(429, hook),
        "delivered_once": delivered_once,
    }


def deliveries_done() -> bool:
    from newsletter.models import Delivery

    return not Delivery.objects.filter(state__in=["pending", "sending"]).exists()


def figures(record: Record) -> dict:
    out = {}
    for kind, values in sorted(record.latencies.items()):
        ordered = sorted(values)
        out[kind] = {
            "requests": len(ordered),
            "p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1),
            "statuses": {str(k): v for k, v in sorted(record.statuses[kind].items())},
            "5xx": sum(v for k, v in record.statuses[kind].items() if k >= 500),
            "failed": record.statuses[kind].get(0, 0),
        }
    return out


# --- Running it --------------------------------------------------------------------------------


def run(argv: list[str] | None) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m bench soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--minutes", type=float, default=10, help="length of the traffic (10)")
    parser.add_argument(
        "--publish-every", type=float, default=0, help="seconds between issues (minutes × 12)"
    )
    args = parser.parse_args(argv)
    seconds = args.minutes * 60
    publish_every = args.publish_every or max(20.0, seconds / 5)
    lifetime = seconds + DRAIN_SECONDS + 600  # a hard bound on every child process

    from tests.stubs.discord import DiscordServer

    started_at = datetime.now(UTC)
    clock = time.perf_counter()
    result: dict = {
        "benchmark": "soak",
        "started_at": started_at.isoformat(timespec="seconds"),
        "minutes": args.minutes,
        "machine": machine(),
        "users": {"readers": READERS, "members": MEMBERS, "editors": EDITORS},
    }
    with ExitStack() as stack:
        discord = stack.enter_context(DiscordServer())
        if shutil.which("redis-server"):
            port = free_port()
            stack.enter_context(
                process(
                    ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                     "--save", "", "--appendonly", "no"],
                    lifetime=lifetime,
                )
            )  # fmt: skip
            wait_for(lambda: redis_answers(port), timeout=10, what="redis-server did not start")
            redis_url = f"redis://127.0.0.1:{port}/0"
        else:
            redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
        database_url = stack.enter_context(
            throwaway_database(os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
        )
        static_root = stack.enter_context(tempfile.TemporaryDirectory(prefix="soak-static-"))
        env = production_env(
            redis_url=redis_url,
            static_root=static_root,
            SITE_URL="https://127.0.0.1",  # behind a "TLS proxy": X-Forwarded-Proto: https
            DATABASE_URL=database_url,
            CACHE_KEY_PREFIX=f"soak-{secrets.token_hex(4)}",
            DISCORD_API_BASE=discord.api_base,
            EMAIL_URL="memorymail://",
            # Members submit as often as the soak asks; the flood limit has its own tests.
            NEWSLETTER_SUBMISSIONS_PER_DAY="1000000",
        )
        log("migrating and seeding a throwaway database")
        setup_django(env)
        seeded = seed(discord)
        subprocess.run(
            [PYTHON, "manage.py", "collectstatic", "--noinput", "-v", "0"],
            cwd=ROOT, env=env, check=True,
        )  # fmt: skip
        http_port = free_port()
        cores = os.cpu_count() or 1
        workers = max(2, min(cores, 4))
        stack.enter_context(
            process(
                [PYTHON, "-m", "gunicorn", "portal.wsgi:application",
                 "--bind", f"127.0.0.1:{http_port}", "--workers", str(workers),
                 "--threads", "4", "--worker-class", "gthread", "--timeout", "30",
                 "--graceful-timeout", "10", "--log-level", "warning"],
                lifetime=lifetime, env=env, quiet=False,
            )
        )  # fmt: skip
        base = f"http://127.0.0.1:{http_port}"
        wait_for(lambda: http_ok(f"{base}/healthz"), timeout=60, what="gunicorn did not answer")
        beat_schedule = stack.enter_context(tempfile.TemporaryDirectory(prefix="soak-beat-"))
        stack.enter_context(
            process(
                [PYTHON, "-m", "celery", "-A", "portal", "--quiet", "worker", "--beat",
                 "--schedule", str(Path(beat_schedule) / "schedule"), "--loglevel=WARNING",
                 "--concurrency=2", "--without-gossip", "--without-mingle"],
                lifetime=lifetime, env=env, quiet=False,
            )
        )  # fmt: skip
        result["server"] = {"gunicorn_workers": workers, "threads": 4, "celery_concurrency": 2}

        record, stop = Record(), threading.Event()
        threads = [
            threading.Thread(target=reader, args=(User(base, record, stop), seeded["reader_paths"]))
            for _ in range(READERS)
        ]
        threads += [
            threading.Thread(target=member, args=(User(base, record, stop), email, n))
            for n, email in enumerate(seeded["members"])
        ]
        threads += [
            threading.Thread(
                target=editor,
                args=(User(base, record, stop), username),
                kwargs={"publisher": n == 0, "publish_every": publish_every},
            )
            for n, username in enumerate(seeded["editors"])
        ]
        log(
            f"traffic for {args.minutes:g} min: {READERS} readers, {MEMBERS} members, {EDITORS} editors"
        )
        for thread in threads:
            thread.start()
        stop.wait(seconds)
        stop.set()
        for thread in threads:
            thread.join(60)
        log("traffic stopped; waiting for the last deliveries")
        drained = time.monotonic()
        try:
            wait_for(
                deliveries_done, timeout=DRAIN_SECONDS, what="deliveries did not finish", interval=1
            )
        except SystemExit as exc:
            record.fail(str(exc))
        result["drain_seconds"] = round(time.monotonic() - drained, 1)
        result["requests"] = figures(record)
        result["checks"] = check(record, discord, seeded["hook"])
        result["votes"] = record.votes
        result["failures"] = record.failures
        result["retries"] = record.retries
    checks = result["checks"]
    result["ok"] = (
        not record.failures
        and not checks["submissions_missing"]
        and checks["submissions_acknowledged"] > 0
        and checks["delivered_once"]
        and checks["issues_published"] > 1
        and checks["deliveries"].get("failed", 0) == 0
        and all(row["5xx"] == 0 and row["failed"] == 0 for row in result["requests"].values())
    )
    result["seconds"] = round(time.perf_counter() - clock, 1)
    return result


def print_table(result: dict) -> None:
    print()
    print(f"Soak: {result['minutes']:g} min of mixed traffic against gunicorn, production settings")
    header = f"{'requests':<10} {'count':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'5xx':>5} {'failed':>6}"
    print(header)
    print("-" * len(header))
    for kind, row in result["requests"].items():
        print(
            f"{kind:<10} {row['requests']:7d} {row['p50_ms']:8.1f} {row['p99_ms']:8.1f} "
            f"{row['max_ms']:8.1f} {row['5xx']:5d} {row['failed']:6d}"
        )
    checks = result["checks"]
    print()
    print(
        f"submissions acknowledged {checks['submissions_acknowledged']}, missing "
        f"{len(checks['submissions_missing'])}; votes {result['votes']}; issues published "
        f"{checks['issues_published']}"
    )
    print(
        f"Discord: {checks['discord_messages_posted']} messages posted for "
        f"{checks['discord_messages_expected']} expected, delivered once: "
        f"{'yes' if checks['delivered_once'] else 'NO'}; deliveries {checks['deliveries']}; "
        f"429s {checks['rate_limited_429']}; drained in {result['drain_seconds']} s"
    )
    retries = result.get("retries", [])
    print(f"GETs sent again after a dropped keep-alive connection: {len(retries)}")
    for retry in retries[:5]:
        print(f"  retried: {retry}")
    for failure in result["failures"][:20]:
        print(f"  failure: {failure}")
    print("All checks hold." if result["ok"] else "Some checks FAILED.")


def main(argv: list[str] | None = None) -> int:
    return finish("soak", run(argv), print_table)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
