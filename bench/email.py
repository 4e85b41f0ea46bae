"""The email edition: an issue to 50,000 subscribers against a local SMTP server.

    python -m bench email     (or: python -m bench.email [--subscribers 50000] [--rate 200])

What it does, all on loopback:

1. Creates a throwaway PostgreSQL database (dropped at the end), a draft issue of 12 items
   composed through the editors' services, and `--subscribers` confirmed subscribers.
2. Times the creation of the sends alone, as publishing runs it (one row per subscriber, in a
   transaction that is then rolled back), then publishes the issue for real: the sends are
   created in the publishing transaction and the sending runs queued when it commits.
3. A real Celery worker on Redis (`--processes`, default 2) sends through Django's SMTP backend
   to an in-process SMTP server (aiosmtpd) at `--rate` messages per second (EMAIL_SEND_RATE,
   one pace in Redis for every process). While it sends, the resident memory of the worker's
   processes is read every second.

Targets: the sends created in under 10 s; the worker's memory flat (the last tenth of the send
within 16 MB of the first tenth's, per process); the whole send within 1.1 times the floor the
rate sets, (n - 1) / rate seconds; and every subscriber received the issue exactly once.

Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/portal_bench; the
throwaway database is named bench_email_<name>), BENCH_REDIS_URL (default
redis://127.0.0.1:6379/14).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bench.common import DEFAULT_DATABASE_URL, add_bench_items, finish, machine

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
CREATE_TARGET_S = 10.0
THROUGHPUT_RATIO = 1.1
MEMORY_GROWTH_MB = 16.0
ITEMS = 12


def log(message: str) -> None:
    print(f"[email] {message}", file=sys.stderr, flush=True)


def setup_django(database_url: str, redis_url: str):
    """Django on the test settings, against a throwaway database."""
    os.environ["DATABASE_URL"] = database_url
    os.environ["REDIS_URL"] = redis_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django
    from django.conf import settings

    if settings.configured:  # Django is set up once per process
        raise SystemExit("email: run it in a process of its own: python -m bench email")
    django.setup()
    if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        raise SystemExit("BENCH_DATABASE_URL must be a PostgreSQL URL (postgres://…).")
    name = settings.DATABASES["default"]["NAME"]
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = f"bench_email_{name}"
    from django.test.utils import setup_databases

    return setup_databases(verbosity=0, interactive=False, aliases={"default"})


INTRODUCTION = (
    "Welcome back, #ml-efficiency! This month's papers, tools and events, as shared by you."
)
CLOSING = "Most of what you read here comes from the links you share: keep them coming! ❤️"


def build(subscribers: int):
    """A 12-item draft, composed by the services, and the confirmed subscribers."""
    from django.conf import settings
    from django.utils import timezone

    from newsletter.models import Subscriber
    from newsletter.services.issues import issue_create
    from tests.factories import EditorFactory, UserFactory

    settings.NEWSLETTER_SUBMISSIONS_PER_DAY = 1000
    editor = EditorFactory(username="bench-editor")
    author = UserFactory(username="bench-author")
    issue = issue_create(
        title="What happened in ML Efficiency this month?",
        introduction=INTRODUCTION,
        closing=CLOSING,
        actor=editor,
    )
    add_bench_items(issue, ITEMS, editor=editor, author=author)
    now = timezone.now()
    Subscriber.objects.bulk_create(
        (
            Subscriber(
                email=f"reader{n}@example.net",
                key=f"reader{n}@example.net",
                state=Subscriber.State.CONFIRMED,
                confirmed_at=now,
            )
            for n in range(subscribers)
        ),
        batch_size=5000,
    )
    return issue, editor


def time_creation(issue) -> float:
    """Seconds to create one send per subscriber, as publishing does; rolled back after."""
    from django.db import transaction

    from newsletter.services.email_delivery import email_sends_create_for_issue

    with transaction.atomic():
        started = time.perf_counter()
        created = email_sends_create_for_issue(issue=issue)
        seconds = time.perf_counter() - started
        transaction.set_rollback(True)  # the queued runs go with it
    log(f"created {created} sends in {seconds:.2f} s (rolled back)")
    return seconds


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def send(issue, editor, server, worker, count: int, rate: float) -> dict:
    """Publish, then follow the send to its end: progress, memory, duplicates."""
    from django.db import transaction

    from newsletter.models import EmailSend
    from newsletter.services.issues import issue_publish

    with transaction.atomic():
        started_publishing = time.perf_counter()
        issue_publish(issue=issue, actor=editor)
        publish_s = time.perf_counter() - started_publishing
        started = time.monotonic()  # the runs are queued when this block commits
    log(f"published (rendering, sends, all in one transaction) in {publish_s:.2f} s")
    processes = _children(worker.proc.pid)
    samples: list[tuple[float, dict[int, float]]] = []  # (fraction sent, {pid: MB})
    deadline = started + 3 * (count - 1) / rate + 120
    while True:
        received = len(_issue_messages(server))
        samples.append((received / count, {p: _rss_mb(p) or 0.0 for p in processes}))
        if received >= count or time.monotonic() > deadline:
            break
        time.sleep(1.0)
        if int(time.monotonic() - started) % 30 == 0:
            log(f"{received} of {count} sent")
    messages = _issue_messages(server)
    seconds = (messages[-1].at if messages else time.monotonic()) - started
    first = messages[0].at - started if messages else None
    copies = Counter(r.lower() for m in messages for r in m.rcpt_tos)
    floor = (count - 1) / rate
    states = Counter(EmailSend.objects.filter(issue=issue).values_list("state", flat=True))
    growth = _memory_growth(samples, processes)
    return {
        "subscribers": count,
        "rate_per_s": rate,
        "publish_s": round(publish_s, 2),
        "first_message_s": round(first, 2) if first is not None else None,
        "seconds": round(seconds, 1),
        "floor_s": round(floor, 1),
        "ratio": round(seconds / floor, 3) if floor else None,
        "messages_per_s": round(len(messages) / seconds, 1) if seconds else None,
        "received": len(messages),
        "received_once": sum(1 for n in copies.values() if n == 1),
        "received_twice_or_more": sum(1 for n in copies.values() if n > 1),
        "rows": dict(states),
        "worker_rss_mb": growth,
    }


def _issue_messages(server) -> list:
    """What the subscribers received (the submitters get their own emails at publication)."""
    with server.lock:
        return [m for m in server.messages if m.rcpt_tos[0].endswith("@example.net")]


def _memory_growth(samples, processes) -> dict:
    """Per worker process: the median RSS over the first and the last tenth of the send."""
    result = {}
    for pid in processes:
        early = [mb[pid] for fraction, mb in samples if fraction <= 0.1 and mb.get(pid)]
        late = [mb[pid] for fraction, mb in samples if fraction >= 0.9 and mb.get(pid)]
        if early and late:
            first, last = statistics.median(early), statistics.median(late)
            result[str(pid)] = {
                "first_tenth": round(first, 1),
                "last_tenth": round(last, 1),
                "growth": round(last - first, 1),
                "max": round(max(mb[pid] for _, mb in samples if mb.get(pid)), 1),
            }
    return result


def print_table(result: dict) -> None:
    row = result.get("send") or {}
    print()
    print(
        f"Email edition: {result['subscribers']} subscribers at {result['rate']:g} messages/s, "
        f"worker with {result['worker_processes']} processes, local SMTP server"
    )
    lines = [
        ("create the sends", f"{result['create_s']:.2f} s", f"< {CREATE_TARGET_S:g} s"),
        ("publish (one transaction)", f"{row.get('publish_s', 0):.2f} s", "—"),
        ("first message after commit", f"{row.get('first_message_s') or 0:.2f} s", "—"),
        (
            "whole send",
            f"{row.get('seconds', 0):.1f} s ({row.get('messages_per_s') or 0:g}/s)",
            f"≤ {THROUGHPUT_RATIO} × floor {row.get('floor_s', 0):.1f} s "
            f"(× {row.get('ratio') or 0:.3f})",
        ),
        (
            "received once / twice",
            f"{row.get('received_once', 0)} / {row.get('received_twice_or_more', 0)}",
            f"{result['subscribers']} / 0",
        ),
    ]
    for pid, memory in (row.get("worker_rss_mb") or {}).items():
        lines.append(
            (
                f"worker process {pid} RSS",
                f"{memory['first_tenth']} → {memory['last_tenth']} MB (max {memory['max']})",
                f"growth ≤ {MEMORY_GROWTH_MB:g} MB",
            )
        )
    width = max(len(label) for label, _, _ in lines)
    for label, value, target in lines:
        print(f"{label:<{width}}  {value:<34} {target}")
    print()
    print(
        "All targets met."
        if result["ok"]
        else "Some targets missed: " + ", ".join(result["missed"])
    )


def run(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m bench email", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--subscribers", type=int, default=50_000, help="confirmed subscribers (50000)"
    )
    parser.add_argument(
        "--rate", type=float, default=100.0, help="EMAIL_SEND_RATE, messages/s (100)"
    )
    parser.add_argument("--processes", type=int, default=2, help="worker processes and lanes (2)")
    parser.add_argument("--batch", type=int, default=500, help="EMAIL_BATCH_SIZE (500)")
    args = parser.parse_args(argv)

    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    old_config = setup_django(database_url, redis_url)
    from django.conf import settings
    from django.test.utils import teardown_databases

    from portal.celery import app as celery_app
    from tests.stubs.smtp import SMTPServer
    from tests.workers import WorkerProcess

    settings.EMAIL_SEND_RATE = args.rate
    settings.EMAIL_SEND_LANES = args.processes
    settings.EMAIL_BATCH_SIZE = args.batch
    result = {
        "benchmark": "email",
        "started_at": started_at.isoformat(timespec="seconds"),
        "machine": machine(),
        "subscribers": args.subscribers,
        "rate": args.rate,
        "worker_processes": args.processes,
        "batch_size": args.batch,
    }
    try:
        log(f"building a {ITEMS}-item issue and {args.subscribers} confirmed subscribers")
        issue, editor = build(args.subscribers)
        result["create_s"] = round(time_creation(issue), 2)
        with SMTPServer(keep_data=False) as server:
            celery_app.conf.task_always_eager = False
            worker = WorkerProcess(
                concurrency=args.processes,
                extra_env={
                    "PORTAL_TEST_EMAIL_URL": server.email_url,
                    "EMAIL_SEND_RATE": str(args.rate),
                    "EMAIL_BATCH_SIZE": str(args.batch),
                    "LOG_LEVEL": "WARNING",
                },
            )
            worker.start(timeout=60)
            try:
                result["send"] = send(issue, editor, server, worker, args.subscribers, args.rate)
            finally:
                worker.stop()
                celery_app.conf.task_always_eager = True
                with celery_app.connection_for_write() as conn:
                    conn.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)
    finally:
        from django.db import connections

        connections.close_all()
        teardown_databases(old_config, verbosity=0)
    result["missed"] = _missed(result)
    result["ok"] = not result["missed"]
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def _missed(result: dict) -> list[str]:
    row = result.get("send") or {}
    missed = []
    if result.get("create_s", CREATE_TARGET_S) >= CREATE_TARGET_S:
        missed.append("creating the sends")
    if not row.get("ratio") or row["ratio"] > THROUGHPUT_RATIO:
        missed.append("throughput")
    if row.get("received_once") != result["subscribers"] or row.get("received_twice_or_more"):
        missed.append("exactly once")
    memory = row.get("worker_rss_mb") or {}
    if not memory or any(m["growth"] > MEMORY_GROWTH_MB for m in memory.values()):
        missed.append("flat memory")
    return missed


def main(argv: list[str] | None = None) -> int:
    return finish("email", run(argv), print_table)


if __name__ == "__main__":
    sys.exit(main())
