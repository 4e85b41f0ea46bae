"""Soak: minutes of mixed traffic, then a check that nothing was lost or sent twice.

    python -m bench soak [--minutes 10] [--publish-every SECONDS]

wrk plays readers, members and editors (bench/soak.lua) against gunicorn with production
settings, a Celery worker with its beat and the Discord stand-in; then every acknowledged
submission must be stored and every Discord message posted once, with no 5xx and no failed
request. Its database is <BENCH_DATABASE_URL's name>_soak_<pid>, dropped at the end; the
broker and cache are BENCH_REDIS_URL. docs/performance.md explains the method.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from bench import common

DRAIN_SECONDS = 180  # longest wait for the last deliveries after the traffic stops
SEARCHES = ["quantization", "pruning", "sparse+attention", "distillation", "inference"]
# A small community. seed_bench's editors are member0 to member4: two of them vote, and the
# four members who submit come after them.
SEED = {"issues": 1, "big_issue": 8, "submissions": 30, "members": 9, "events": 4, "rsvps": 5}
PEOPLE = ["reader"] * 4 + [f"member member{n}@example.org" for n in range(5, 9)]
PEOPLE += ["publisher member0", "editor member1"]


def seed(discord) -> tuple[list[str], object]:
    """Migrate and seed the throwaway database (Django set up on the server's environment) and
    add a channel on the Discord stand-in; answers the readers' paths and the webhook."""
    import django

    django.setup()
    from django.core.management import call_command

    from tests.stubs.discord import make_channel

    call_command("migrate", verbosity=0, interactive=False)
    answer = io.StringIO()
    call_command("seed_bench", verbosity=0, processes=1, stdout=answer, **SEED)
    paths = json.loads(answer.getvalue())["paths"]
    hook = discord.create_webhook(name="Newsletter (soak)")
    make_channel(discord, hook, name="soak")
    pages = ["/", "/archive/", "/archive/feed/rss/", "/events/", paths["issue"], paths["event"]]
    return pages + [f"/archive/search/?q={q}" for q in SEARCHES], hook


def record(output: str) -> dict:
    """What the people saw, from bench/soak.lua's "SOAK ..." lines."""
    answers = defaultdict(list)
    seen: dict = {"submitted": {}, "votes": 0, "published": [], "failures": [], "requests": {}}
    for line in output.splitlines():
        if not line.startswith("SOAK "):
            continue
        what, _, rest = line.removeprefix("SOAK ").partition(" ")
        if what == "r":
            kind, status, ms = rest.split()
            answers[kind].append((float(ms), int(status)))
        elif what == "submitted":
            pk, link = rest.split()
            seen["submitted"][int(pk)] = link
        elif what == "voted":
            seen["votes"] += 1
        elif what == "published":
            seen["published"].append(int(rest))
        else:
            seen["failures"].append(rest)
    for kind, found in answers.items():
        ordered, statuses = sorted(ms for ms, _ in found), Counter(status for _, status in found)
        seen["requests"][kind] = {
            "requests": len(ordered),
            "p50_ms": round(statistics.median(ordered), 1),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1),
            "max_ms": round(ordered[-1], 1),
            "statuses": {str(status): count for status, count in sorted(statuses.items())},
            "5xx": sum(count for status, count in statuses.items() if status >= 500),
        }
    return seen


def check(seen: dict, discord, hook) -> dict:
    """The database against what the site acknowledged, and the stand-in against the database,
    once no delivery is pending or sending (or after DRAIN_SECONDS)."""
    from newsletter.models import Delivery, DeliveryMessage, Issue, Submission

    unfinished = Delivery.objects.filter(state__in=["pending", "sending"])
    started = time.monotonic()
    while unfinished.exists() and time.monotonic() - started < DRAIN_SECONDS:
        time.sleep(1)
    stored = dict(Submission.objects.filter(pk__in=seen["submitted"]).values_list("pk", "url"))
    rows = list(
        DeliveryMessage.objects.values_list("discord_message_id", "state", "maybe_duplicate")
    )
    posted = [m.id for m in discord.posted(hook)]
    contents = discord.contents(hook)
    return {
        "drain_seconds": round(time.monotonic() - started, 1),
        "submissions_acknowledged": len(seen["submitted"]),
        "submissions_missing": [
            pk for pk, url in seen["submitted"].items() if stored.get(pk) != url
        ],
        "issues_published": Issue.objects.published().count() - SEED["issues"],
        "deliveries": {s: Delivery.objects.filter(state=s).count() for s in Delivery.State.values},
        "discord_messages_expected": len(rows),
        "discord_messages_posted": len(posted),
        "discord_duplicate_contents": len(contents) - len(set(contents)),
        "maybe_duplicate_rows": sum(1 for *_, maybe in rows if maybe),
        "rate_limited_429": discord.count(429, hook),
        "delivered_once": all(
            sent and state == DeliveryMessage.State.SENT for sent, state, _ in rows
        )
        and sorted(row[0] for row in rows) == sorted(posted)
        and len(set(posted)) == len(posted),
    }


def run(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m bench soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--minutes", type=float, default=10, help="length of the traffic (10)")
    parser.add_argument("--publish-every", type=float, default=0, help="seconds (minutes × 12)")
    args = parser.parse_args(argv)
    seconds = args.minutes * 60
    publish_every = args.publish_every or max(20.0, seconds / 5)
    lifetime = seconds + DRAIN_SECONDS + 600  # a hard bound on every child process
    database_url, redis_url = common.settings_from_environment()
    from tests.stubs.discord import DiscordServer

    clock = time.perf_counter()
    result: dict = {
        "benchmark": "soak",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "minutes": args.minutes,
        "machine": common.machine(),
        "people": PEOPLE,
    }
    if not result["machine"]["wrk"]:  # before starting anything
        raise SystemExit(common.WRK_MISSING)
    with ExitStack() as stack:
        discord = stack.enter_context(DiscordServer())
        name = f"{urlsplit(database_url).path.lstrip('/')}_soak_{os.getpid()}"
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="soak-")))
        env = common.production_env(
            REDIS_URL=redis_url,
            STATIC_ROOT=str(work / "static"),
            SITE_URL="https://127.0.0.1",  # behind a "TLS proxy": X-Forwarded-Proto: https
            DATABASE_URL=stack.enter_context(common.throwaway_database(database_url, name)),
            DISCORD_API_BASE=discord.api_base,
            # Members submit as often as the soak asks; the flood limit has its own tests.
            NEWSLETTER_SUBMISSIONS_PER_DAY="1000000",
        )
        common.log(f"[soak] migrating and seeding {name}")
        os.environ.update(env)
        paths, hook = seed(discord)
        common.manage("collectstatic", "--noinput", "-v", "0", env=env)
        workers = max(2, min(os.cpu_count() or 1, 4))
        base = stack.enter_context(
            common.gunicorn(env=env, workers=workers, threads=4, lifetime=lifetime)
        )
        worker = [common.PYTHON, "-m", "celery", "-A", "portal", "--quiet", "worker", "--beat",
                  "--schedule", str(work / "beat-schedule"), "--loglevel=WARNING",
                  "--concurrency=2", "--without-gossip", "--without-mingle"]  # fmt: skip
        stack.enter_context(common.child(worker, lifetime=lifetime, env=env))
        result["server"] = {"gunicorn_workers": workers, "threads": 4, "celery_concurrency": 2}
        people = {"SOAK_PEOPLE": ";".join(PEOPLE), "SOAK_READER_PATHS": " ".join(paths)}
        people["SOAK_PUBLISH_EVERY"] = str(publish_every)
        common.log(f"[soak] traffic for {args.minutes:g} min: {', '.join(PEOPLE)}")
        # One person per thread, each on a connection of their own; a request fails after 30 s,
        # as with the previous client (a log-in's password hashing is slow on a busy machine).
        n = len(PEOPLE)
        load = common.wrk(
            base, seconds, connections=n, threads=n, script="soak.lua", env=people, timeout=30
        )
        common.log("[soak] traffic stopped; waiting for the last deliveries")
        result |= record(load.pop("output"))
        result["wrk"] = load
        result["checks"] = checks = check(result, discord, hook)
    result["ok"] = (
        not result["failures"]
        and not load["socket_errors"]
        and checks["submissions_acknowledged"] > 0
        and not checks["submissions_missing"]
        and checks["issues_published"] >= 1
        and checks["delivered_once"]
        and checks["deliveries"].get("failed", 0) == 0
        and all(row["5xx"] == 0 for row in result["requests"].values())
    )
    result["seconds"] = round(time.perf_counter() - clock, 1)
    return result


def print_table(result: dict) -> None:
    print(
        f"\nSoak: {result['minutes']:g} min of mixed traffic against gunicorn, production settings"
    )
    header = f"{'requests':<10} {'count':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'5xx':>5}"
    print(f"{header}\n{'-' * len(header)}")
    for kind, row in result["requests"].items():
        print(
            f"{kind:<10} {row['requests']:7d} {row['p50_ms']:8.1f} {row['p99_ms']:8.1f} "
            f"{row['max_ms']:8.1f} {row['5xx']:5d}"
        )
    checks = result["checks"]
    print(
        f"\nsubmissions acknowledged {checks['submissions_acknowledged']}, missing "
        f"{len(checks['submissions_missing'])}; votes {result['votes']}; issues published "
        f"{checks['issues_published']}; connection errors {result['wrk']['socket_errors'] or 0}"
    )
    print(
        f"Discord: {checks['discord_messages_posted']} messages posted for "
        f"{checks['discord_messages_expected']} expected, delivered once: "
        f"{'yes' if checks['delivered_once'] else 'NO'}; deliveries {checks['deliveries']}; "
        f"429s {checks['rate_limited_429']}; drained in {checks['drain_seconds']} s"
    )
    for line in result["failures"][:20]:
        print(f"  failed: {line}")
    print("All checks hold." if result["ok"] else "Some checks FAILED.")
