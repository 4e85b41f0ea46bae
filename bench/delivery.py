"""Discord delivery: how close to the rate limit's floor an issue reaches 1 and 5 channels.

    python -m bench delivery [--repeat 1] [--processes 5]

The reference edition and a 40-item issue, delivered by a Celery worker to the local Discord
stand-in (5 requests per 2 s per webhook): at most 1.2 × the floor the bucket allows, no 429.
The 40-item issue also goes to a forum channel: 41 posts (the introduction and one per item),
each opening its own thread, against the same floor.
Its database is <BENCH_DATABASE_URL's name>_delivery, dropped at the end; the broker is
BENCH_REDIS_URL. docs/performance.md explains the method.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

from bench import common

BUCKET, WINDOW = 5, 2.0
CHANNEL_COUNTS = (1, 5)
TARGET_RATIO = 1.2
TARGET_WHEN_NO_FLOOR = 1.0  # seconds, for deliveries that fit in one window


def build_issues() -> list[tuple[str, object]]:
    """The reference edition (imported as editors import past editions) and a 40-item issue,
    composed and published by the services."""
    from django.utils import timezone

    from newsletter.services.imports import edition_import
    from newsletter.services.issues import issue_create, issue_publish
    from portal.management.commands.demo_data import REFERENCE_EDITION
    from tests.factories import EditorFactory, UserFactory

    editor = EditorFactory(username="bench-editor")
    author = UserFactory(username="bench-author")
    edition = edition_import(
        text=REFERENCE_EDITION.read_text(encoding="utf-8"),
        published_at=timezone.now(),
        actor=editor,
        author=author,
    )
    big = issue_create(
        title="What happened in ML Efficiency this month?",
        introduction=edition.introduction,
        closing=edition.closing,
        actor=editor,
    )
    common.add_bench_items(big, 40, editor=editor, author=author)
    big = issue_publish(issue=big, actor=editor)
    return [("reference edition", edition), ("40-item issue", big)]


def deliver(server, issue, channels: int, *, forum: bool = False) -> dict:
    """Deliver `issue` to new channels (forum channels with `forum`) as publishing does; time
    it from the commit."""
    from django.db import transaction

    from newsletter.models import Delivery, DiscordChannel
    from newsletter.services.delivery import deliveries_create_for_issue
    from tests.stubs.discord import make_channel
    from tests.workers import wait_until

    DiscordChannel.objects.update(active=False)
    hooks = [server.create_webhook(forum=forum) for _ in range(channels)]
    for hook in hooks:
        make_channel(server, hook, forum=forum)
    with transaction.atomic():
        ids = [d.pk for d in deliveries_create_for_issue(issue=issue)]
        started = time.monotonic()  # the tasks are queued when this block commits
    unfinished = Delivery.objects.filter(pk__in=ids, state__in=["pending", "sending"])
    wait_until(lambda: not unfinished.exists(), timeout=120, interval=0.1, message="not delivered")
    failed = Delivery.objects.filter(pk__in=ids).exclude(state="sent")
    posted = [server.posted(hook) for hook in hooks]
    seconds = max(message.at for messages in posted for message in messages) - started
    floor = (math.ceil(len(posted[0]) / BUCKET) - 1) * WINDOW
    rate_limited = sum(server.count(429, hook) for hook in hooks)
    in_order = all([m.content for m in p] == [m.content for m in posted[0]] for p in posted)
    threads = sum(len({m.thread_id for m in messages if m.thread_id}) for messages in posted)
    if forum:  # every post opened a thread of its own, each once
        in_order = in_order and threads == sum(len(messages) for messages in posted)
    return {
        "channels": channels,
        "forum": forum,
        "threads": threads,
        "messages_per_channel": len(posted[0]),
        "seconds": round(seconds, 3),
        "floor_s": floor,
        "first_message_s": round(max(messages[0].at for messages in posted) - started, 3),
        "ratio": round(seconds / floor, 3) if floor else None,
        "rate_limited_429": rate_limited,
        "failed": list(failed.values_list("last_error", flat=True)),
        "ok": not failed.exists()
        and rate_limited == 0
        and in_order
        and seconds <= (TARGET_RATIO * floor if floor else TARGET_WHEN_NO_FLOOR),
    }


def print_table(result: dict) -> None:
    print(
        f"\nDiscord delivery against the stand-in's bucket ({BUCKET} per {WINDOW:g} s per "
        f"webhook), worker with {result['worker_processes']} processes"
    )
    header = (
        f"{'issue':<18} {'channels':>8} {'messages':>8} {'seconds':>8} {'floor s':>8} "
        f"{'× floor':>8} {'1st msg s':>9} {'429s':>5}  ok"
    )
    print(f"{header}\n{'-' * len(header)}")
    for row in result["rows"]:
        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else "—"
        print(
            f"{row['issue']:<18} {row['channels']:8d} {row['messages_per_channel']:8d} "
            f"{row['seconds']:8.2f} {row['floor_s']:8.1f} {ratio:>8} {row['first_message_s']:9.2f} "
            f"{row['rate_limited_429']:5d}  {'yes' if row['ok'] else 'NO'}"
        )
    print(
        f"\nTargets: ≤ {TARGET_RATIO} × floor (≤ {TARGET_WHEN_NO_FLOOR:g} s when the floor is 0), "
        "no 429. " + ("All met." if result["ok"] else "Some missed (NO above).")
    )


def run(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m bench delivery", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of each case (1)")
    parser.add_argument("--processes", type=int, default=5, help="worker processes (5)")
    args = parser.parse_args(argv)
    database_url, redis_url = common.settings_from_environment()
    from tests.stubs.discord import DiscordServer

    started_at, started = datetime.now(UTC), time.perf_counter()
    name = f"{urlsplit(database_url).path.lstrip('/')}_delivery"
    with (
        DiscordServer(bucket_size=BUCKET, bucket_window=WINDOW) as server,
        common.throwaway_database(database_url, name) as url,
    ):
        env = common.production_env(
            DATABASE_URL=url,
            REDIS_URL=redis_url,
            DISCORD_API_BASE=server.api_base,
            NEWSLETTER_SUBMISSIONS_PER_DAY="1000",  # one author submits all 40
        )
        os.environ.update(env)
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        common.log(f"[delivery] building the reference edition and a 40-item issue on {name}")
        issues = build_issues()  # published with no channel yet: nothing is delivered
        worker = [common.PYTHON, "-m", "celery", "-A", "portal", "--quiet", "worker",
                  f"--concurrency={args.processes}", "--loglevel=WARNING",
                  "--without-gossip", "--without-mingle"]  # fmt: skip
        with common.child(worker, lifetime=600 + 60 * args.repeat, env=env):
            common.log("[delivery] warming up the worker processes")
            deliver(server, issues[0][1], args.processes)
            rows = []
            cases = [(i, c, False) for i in issues for c in CHANNEL_COUNTS]
            cases.append((("40 items, forum", issues[1][1]), 1, True))
            for (label, issue), channels, forum in cases:
                for _ in range(args.repeat):
                    time.sleep(WINDOW)  # let the last buckets drain, as between issues
                    rows.append({"issue": label, **deliver(server, issue, channels, forum=forum)})
                    common.log(
                        f"[delivery] {label}, {channels} channel(s): {rows[-1]['seconds']} s"
                    )
    return {
        "benchmark": "delivery",
        "started_at": started_at.isoformat(timespec="seconds"),
        "machine": common.machine(),
        "bucket": {"requests": BUCKET, "window_s": WINDOW},
        "worker_processes": args.processes,
        "message_limit": settings.DISCORD_MESSAGE_LIMIT,
        "rows": rows,
        "ok": all(row["ok"] for row in rows),
        "seconds": round(time.perf_counter() - started, 1),
    }
