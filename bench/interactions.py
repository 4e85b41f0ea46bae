"""Discord interactions: the time to the answer Discord waits for, 8 at a time.

    python -m bench interactions [--duration 20] [--concurrency 8] [--workers 2] [--threads 4]

gunicorn (production settings, plain HTTP on loopback) answers signed interactions as Discord
sends them: PING, /share (the modal; its autofill refused at once, as for an address it may not
fetch), the share modal submitted (a new submission each time, through the service), /review and
its For / Against / Skip buttons pressed by 8 editors. `--concurrency` clients each send one,
wait for the answer, and send the next, for `--duration` seconds after a warm-up; every request
is signed just before it leaves, with the benchmark's own key pair.

Target: p99 under 500 ms (Discord gives up after 3 s), no error. Its database is
<BENCH_DATABASE_URL's name>_interactions, dropped at the end; the cache is BENCH_REDIS_URL.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import threading
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

from bench import common

TARGET_P99_MS = 500.0
APPLICATION_ID, GUILD_ID = "1100000000000000001", "1200000000000000001"
EDITORS, MEMBERS, PENDING = 8, 8, 400
KINDS = ["ping", "share", "share-modal", "review", "button"]


def seed() -> dict:
    """Editors and members with linked Discord accounts, and pending submissions to review."""
    from allauth.socialaccount.models import SocialAccount
    from django.contrib.auth.models import Group

    from newsletter.models import Kind, Submission
    from newsletter.services.submissions import submission_create
    from tests.factories import UserFactory

    editors_group = Group.objects.get(name="Editors")
    people = {"editors": [], "members": []}
    for role, count in (("editors", EDITORS), ("members", MEMBERS)):
        for number in range(count):
            user = UserFactory(username=f"bench-{role}-{number}")
            if role == "editors":
                user.groups.add(editors_group)
            uid = str(1300000000000000000 + len(people["editors"]) + len(people["members"]))
            SocialAccount.objects.create(user=user, provider="discord", uid=uid)
            people[role].append(uid)
    author = UserFactory(username="bench-author")
    for number in range(PENDING):
        submission_create(
            author=author,
            url=f"https://example.org/pending/{number}",
            kind=Kind.PAPER,
            title=f"Pending paper {number}",
            summary="A summary of a few sentences, as members write them. " * 3,
        )
    people["pending"] = list(Submission.objects.pending().values_list("pk", flat=True))
    return people


class Load:
    """Closed-loop clients: each sends one interaction, waits for the answer, sends the next."""

    def __init__(self, base: str, key, people: dict):
        self.url = f"{base}/discord/interactions/"
        self.key, self.people = key, people
        self.counter = itertools.count()
        self.lock = threading.Lock()
        self.samples: list[tuple[str, float, int]] = []

    def payload(self, kind: str, client: int) -> dict:
        number = next(self.counter)
        editor = self.people["editors"][client % len(self.people["editors"])]
        member = self.people["members"][client % len(self.people["members"])]
        user = {"id": editor if kind in ("review", "button") else member, "username": "bench"}
        base = {
            "id": str(1500000000000000000 + number),
            "application_id": APPLICATION_ID,
            "token": f"bench-token-{number}",
            "version": 1,
            "guild_id": GUILD_ID,
            "channel_id": "1400000000000000001",
            "member": {"user": user, "roles": []},
        }
        if kind == "ping":
            return {"id": base["id"], "application_id": APPLICATION_ID, "type": 1, "version": 1}
        if kind == "share":
            options = [{"name": "url", "type": 3, "value": f"http://10.0.0.1/{number}"}]
            return {**base, "type": 2, "data": {"name": "share", "type": 1, "options": options}}
        if kind == "share-modal":
            values = {"url": f"https://example.org/shared/{number}", "kind": "blog",
                      "title": f"Shared post {number}", "summary": "Worth a read."}  # fmt: skip
            rows = [{"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]}
                    for k, v in values.items()]  # fmt: skip
            return {**base, "type": 5, "data": {"custom_id": "share", "components": rows}}
        if kind == "review":
            return {**base, "type": 2, "data": {"name": "review", "type": 1}}
        pending = self.people["pending"]
        target = pending[(number * 7 + client) % len(pending)]
        action = ("for", "against", "skip")[number % 3]
        data = {"custom_id": f"review:{action}:{target}", "component_type": 2}
        return {**base, "type": 3, "data": data}

    def client(self, number: int, until: float, record: bool) -> None:
        import requests

        session = requests.Session()
        kinds = itertools.cycle(KINDS[number % len(KINDS) :] + KINDS[: number % len(KINDS)])
        while time.monotonic() < until:
            kind = next(kinds)
            body = json.dumps(self.payload(kind, number)).encode()
            stamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "X-Signature-Ed25519": self.key.sign(stamp.encode() + body).signature.hex(),
                "X-Signature-Timestamp": stamp,
            }
            started = time.perf_counter()
            try:
                status = session.post(self.url, data=body, headers=headers, timeout=10).status_code
            except requests.RequestException:
                status = 0
            elapsed = (time.perf_counter() - started) * 1000
            if record:
                with self.lock:
                    self.samples.append((kind, elapsed, status))

    def run(self, seconds: float, concurrency: int, *, record: bool = True) -> None:
        until = time.monotonic() + seconds
        threads = [
            threading.Thread(target=self.client, args=(n, until, record))
            for n in range(concurrency)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def summary(samples: list[tuple[str, float, int]]) -> dict:
    times = [ms for _, ms, _ in samples]
    return {
        "requests": len(samples),
        "errors": sum(1 for _, _, status in samples if status != 200),
        "p50_ms": round(statistics.median(times), 1) if times else 0.0,
        "p90_ms": round(_percentile(times, 0.90), 1),
        "p99_ms": round(_percentile(times, 0.99), 1),
        "max_ms": round(max(times), 1) if times else 0.0,
    }


def print_table(result: dict) -> None:
    print(
        f"\nDiscord interactions, {result['concurrency']} at a time for {result['duration_s']} s "
        f"(gunicorn {result['server']['workers']}×{result['server']['threads']}), "
        f"target p99 < {TARGET_P99_MS:.0f} ms"
    )
    print(f"{'kind':<12} {'requests':>8} {'errors':>6} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8}")
    for kind, row in [*result["kinds"].items(), ("all", result["all"])]:
        print(
            f"{kind:<12} {row['requests']:>8} {row['errors']:>6} {row['p50_ms']:>6.1f}ms "
            f"{row['p90_ms']:>6.1f}ms {row['p99_ms']:>6.1f}ms {row['max_ms']:>6.1f}ms"
        )
    print(f"targets {'met' if result['ok'] else 'MISSED'}")


def run(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m bench interactions", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--duration", type=float, default=20.0, help="seconds measured (20)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before (3)")
    parser.add_argument("--concurrency", type=int, default=8, help="interactions at once (8)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn processes (2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per process (4)")
    args = parser.parse_args(argv)
    database_url, redis_url = common.settings_from_environment()
    from nacl.signing import SigningKey

    key = SigningKey.generate()
    started_at, started, machine = datetime.now(UTC), time.perf_counter(), common.machine()
    name = f"{urlsplit(database_url).path.lstrip('/')}_interactions"
    with common.throwaway_database(database_url, name) as url:
        env = common.production_env(
            DATABASE_URL=url,
            REDIS_URL=redis_url,
            SITE_URL="http://127.0.0.1",
            SECURE_SSL_REDIRECT="false",
            NEWSLETTER_SUBMISSIONS_PER_DAY="1000000",
            DISCORD_APPLICATION_ID=APPLICATION_ID,
            DISCORD_PUBLIC_KEY=key.verify_key.encode().hex(),
            DISCORD_GUILD_ID=GUILD_ID,
        )
        os.environ.update(env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        common.log(f"[interactions] seeding {EDITORS} editors, {MEMBERS} members on {name}")
        people = seed()
        with common.gunicorn(
            env=env, workers=args.workers, threads=args.threads, lifetime=300 + args.duration
        ) as base:
            load = Load(base, key, people)
            load.run(args.warmup, args.concurrency, record=False)
            common.log(f"[interactions] {args.concurrency} at a time for {args.duration} s")
            load.run(args.duration, args.concurrency)
    samples = load.samples
    kinds = {kind: summary([s for s in samples if s[0] == kind]) for kind in KINDS}
    overall = summary(samples)
    return {
        "benchmark": "interactions",
        "started_at": started_at.isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench interactions", *argv]),
        "machine": machine,
        "concurrency": args.concurrency,
        "duration_s": args.duration,
        "server": {"software": "gunicorn", "workers": args.workers, "threads": args.threads},
        "target_p99_ms": TARGET_P99_MS,
        "kinds": kinds,
        "all": overall,
        "ok": overall["p99_ms"] < TARGET_P99_MS and overall["errors"] == 0 and bool(samples),
        "seconds": round(time.perf_counter() - started, 1),
    }
