"""Discord delivery: how close to the rate limit's floor an issue reaches its channels.

    python -m bench delivery          (or: python -m bench.delivery [--repeat 1])

What it does, all on loopback:

1. Creates a throwaway PostgreSQL database (dropped at the end) and builds two published
   issues through the editors' services: the reference edition (March 2023) and an issue of
   40 items.
2. Starts the local Discord stand-in (5 requests per 2 seconds per webhook, like Discord) and
   a real Celery worker on Redis with 5 processes, one per channel (`--processes N` to
   change: a run that must wait for its rate-limit window hands its process to other
   channels, so fewer processes also serve five channels, starting the later ones a little
   later).
3. For each issue, to 1 and then to 5 new channels: creates the deliveries in one transaction
   exactly as publishing does, and measures from the commit to the last message stored by
   the stand-in. The floor is what the bucket allows at best: with n messages per channel,
   ceil(n / 5) - 1 full windows of 2 s. Each channel has its own webhook, hence its own
   bucket, so five channels share the floor of one.

Targets: at most 1.2 × the floor (when the floor is 0, i.e. at most 5 messages, under 1 s),
and no 429 at all, since pacing by the X-RateLimit headers should never run into one.

Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/portal_bench; the
throwaway database is named bench_delivery_<name>), BENCH_REDIS_URL (default
redis://127.0.0.1:6379/14).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from datetime import UTC, datetime

from bench.common import DEFAULT_DATABASE_URL, finish, machine

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
BUCKET, WINDOW = 5, 2.0
CHANNEL_COUNTS = (1, 5)
TARGET_RATIO = 1.2
TARGET_WHEN_NO_FLOOR = 1.0  # seconds, for deliveries that fit in one window


def log(message: str) -> None:
    print(f"[delivery] {message}", file=sys.stderr, flush=True)


def setup_django(database_url: str, redis_url: str):
    """Django on the test settings (emails kept in memory), against a throwaway database."""
    os.environ["DATABASE_URL"] = database_url
    os.environ["REDIS_URL"] = redis_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django
    from django.conf import settings

    if settings.configured:  # Django is set up once per process
        raise SystemExit("delivery: run it in a process of its own: python -m bench delivery")
    django.setup()
    if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        raise SystemExit("BENCH_DATABASE_URL must be a PostgreSQL URL (postgres://…).")
    name = settings.DATABASES["default"]["NAME"]
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = f"bench_delivery_{name}"
    from django.test.utils import setup_databases

    return setup_databases(verbosity=0, interactive=False, aliases={"default"})


def build_issues():
    """The reference edition and a 40-item issue, composed and published by the services."""
    from django.conf import settings

    from newsletter import reference
    from newsletter.models import Kind, Submission
    from newsletter.services.compose import issue_item_add
    from newsletter.services.issues import issue_create, issue_publish
    from newsletter.services.submissions import submission_create, submission_transition
    from tests.factories import EditorFactory, UserFactory

    settings.NEWSLETTER_SUBMISSIONS_PER_DAY = 1000  # one author submits all 40
    editor = EditorFactory(username="bench-editor")
    author = UserFactory(username="bench-author")
    edition = reference.reference_edition_build(author=author, editor=editor, publish=True)

    big = issue_create(
        title="What happened in ML Efficiency this month?",
        introduction=reference.INTRODUCTION,
        closing=reference.CLOSING,
        actor=editor,
    )
    kinds = [Kind.PAPER, Kind.PAPER, Kind.BLOG, Kind.TOOL, Kind.REPO]
    for number in range(40):
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
        issue_item_add(issue=big, submission=submission, actor=editor)
    big = issue_publish(issue=big, actor=editor)
    return [("reference edition", edition), ("40-item issue", big)]


def deliver(server, issue, channels: int) -> dict:
    """Deliver `issue` to new channels as publishing does; time it from the commit."""
    from django.db import transaction

    from newsletter.models import Delivery, DiscordChannel
    from newsletter.services.delivery import deliveries_create_for_issue
    from tests.stubs.discord import make_channel
    from tests.workers import wait_until

    DiscordChannel.objects.update(active=False)
    hooks = [server.create_webhook() for _ in range(channels)]
    for hook in hooks:
        make_channel(server, hook)
    with transaction.atomic():
        deliveries = deliveries_create_for_issue(issue=issue)
        started = time.monotonic()  # the tasks are queued when this block commits
    ids = [d.pk for d in deliveries]
    wait_until(
        lambda: not Delivery.objects.filter(pk__in=ids, state__in=["pending", "sending"]).exists(),
        timeout=120,
        interval=0.1,
        message="deliveries did not finish",
    )
    failed = list(
        Delivery.objects.filter(pk__in=ids)
        .exclude(state="sent")
        .values_list("last_error", flat=True)
    )
    posted = [server.posted(hook) for hook in hooks]
    per_channel = len(posted[0])
    finished = max(message.at for messages in posted for message in messages)
    first = max(messages[0].at for messages in posted)
    seconds = finished - started
    floor = (math.ceil(per_channel / BUCKET) - 1) * WINDOW
    rate_limited = sum(server.count(429, hook) for hook in hooks)
    once_in_order = all(
        [m.content for m in messages] == [m.content for m in posted[0]] for messages in posted
    )
    ok = (
        not failed
        and rate_limited == 0
        and once_in_order
        and (seconds <= TARGET_RATIO * floor if floor else seconds <= TARGET_WHEN_NO_FLOOR)
    )
    return {
        "channels": channels,
        "messages_per_channel": per_channel,
        "seconds": round(seconds, 3),
        "floor_s": floor,
        "first_message_s": round(first - started, 3),
        "ratio": round(seconds / floor, 3) if floor else None,
        "rate_limited_429": rate_limited,
        "failed": failed,
        "ok": ok,
    }


def print_table(result: dict) -> None:
    print()
    print(
        f"Discord delivery against the stand-in's bucket ({BUCKET} per {WINDOW:g} s per webhook), "
        f"worker with {result['worker_processes']} processes"
    )
    header = (
        f"{'issue':<18} {'channels':>8} {'messages':>8} {'seconds':>8} {'floor s':>8} "
        f"{'× floor':>8} {'1st msg s':>9} {'429s':>5}  ok"
    )
    print(header)
    print("-" * len(header))
    for row in result["rows"]:
        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else "—"
        print(
            f"{row['issue']:<18} {row['channels']:8d} {row['messages_per_channel']:8d} "
            f"{row['seconds']:8.2f} {row['floor_s']:8.1f} {ratio:>8} {row['first_message_s']:9.2f} "
            f"{row['rate_limited_429']:5d}  {'yes' if row['ok'] else 'NO'}"
        )
    print()
    print(
        f"Targets: ≤ {TARGET_RATIO} × floor (≤ {TARGET_WHEN_NO_FLOOR:g} s when the floor is 0), "
        "no 429. " + ("All met." if result["ok"] else "Some missed (NO above).")
    )


def run(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m bench delivery", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of each case (1)")
    parser.add_argument(
        "--processes", type=int, default=max(CHANNEL_COUNTS), help="worker processes (5)"
    )
    args = parser.parse_args(argv)

    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    old_config = setup_django(database_url, redis_url)
    from django.conf import settings
    from django.test.utils import teardown_databases

    from portal.celery import app as celery_app
    from tests.stubs.discord import DiscordServer
    from tests.workers import WorkerProcess

    processes = args.processes
    result = {
        "benchmark": "delivery",
        "started_at": started_at.isoformat(timespec="seconds"),
        "machine": machine(),
        "bucket": {"requests": BUCKET, "window_s": WINDOW},
        "worker_processes": processes,
        "message_limit": settings.DISCORD_MESSAGE_LIMIT,
    }
    rows = []
    try:
        log("building the reference edition and a 40-item issue")
        issues = build_issues()  # published with no channel yet: nothing is delivered
        with DiscordServer(bucket_size=BUCKET, bucket_window=WINDOW) as server:
            settings.DISCORD_API_BASE = server.api_base
            celery_app.conf.task_always_eager = False
            worker = WorkerProcess(
                concurrency=processes, extra_env={"DISCORD_API_BASE": server.api_base}
            )
            worker.start(timeout=60)
            try:
                log("warming up the worker processes")
                deliver(server, issues[0][1], processes)
                for label, issue in issues:
                    for channels in CHANNEL_COUNTS:
                        for _ in range(args.repeat):
                            time.sleep(WINDOW)  # let the last buckets drain, as between issues
                            row = {"issue": label, **deliver(server, issue, channels)}
                            log(
                                f"{label} to {channels} channel(s): {row['seconds']:.2f} s "
                                f"(floor {row['floor_s']:.1f} s, 429s {row['rate_limited_429']})"
                            )
                            rows.append(row)
            finally:
                worker.stop()
                celery_app.conf.task_always_eager = True
                with celery_app.connection_for_write() as conn:
                    conn.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)
    finally:
        from django.db import connections

        connections.close_all()
        teardown_databases(old_config, verbosity=0)
    result["rows"] = rows
    result["ok"] = bool(rows) and all(row["ok"] for row in rows)
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    return finish("delivery", run(argv), print_table)


if __name__ == "__main__":
    sys.exit(main())
