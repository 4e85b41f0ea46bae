"""Stop things and check that nothing is lost.

- PostgreSQL drops the connection in the middle of a submission: the member gets the friendly
  error page, and the submission is stored completely or not at all.
- Redis (broker and cache) is down while a member submits and while an editor publishes: both
  are stored and the member and editor see normal pages; once Redis is back, the sweepers queue
  what could not be queued and a real worker runs it.

The Redis tests start their own redis-server on a free port, so the Redis other test runs use is
never stopped. (A killed Celery worker is covered in tests/newsletter/test_delivery_faults.py.)
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from newsletter.models import (
    Activity,
    Delivery,
    DeliveryMessage,
    ExtraLink,
    Issue,
    Notification,
    Submission,
)
from newsletter.tasks.delivery import sweep_deliveries
from newsletter.tasks.submissions import sweep_followups
from portal.celery import app as celery_app
from portal.settings import ACCOUNT_RATE_LIMITS as PRODUCTION_RATE_LIMITS
from tests.factories import EditorFactory, SubmissionFactory, UserFactory
from tests.newsletter.issue_data import draft_issue, published_issue
from tests.sample_site import PASSWORD
from tests.stubs.discord import DiscordServer, make_channel
from tests.workers import WorkerProcess, reset_broker, wait_until

SUBMIT = reverse("portal:submission-create")


def submit_data(url: str, **overrides) -> dict:
    data = {
        "url": url,
        "kind": "blog",
        "title": "Pruning, explained",
        "summary": "Why **magnitude** pruning works.",
        "note_to_editors": "",
        "links-TOTAL_FORMS": "3",
        "links-INITIAL_FORMS": "0",
        "links-MIN_NUM_FORMS": "0",
        "links-MAX_NUM_FORMS": "3",
        "links-0-label": "Code",
        "links-0-url": "https://github.com/example/pruning",
        "links-1-label": "Talk",
        "links-1-url": "https://www.youtube.com/watch?v=abcdefghijk",
    }
    data.update(overrides)
    return data


# --- PostgreSQL drops the connection mid-request --------------------------------------------------


def terminate_before(table: str):
    """A database execute wrapper: just before the first INSERT into `table`, the server
    terminates this connection's backend (as a restart or a failover would)."""
    fired = []

    def wrapper(execute, sql, params, many, context):
        if not fired and sql.lstrip().upper().startswith(f'INSERT INTO "{table.upper()}"'):
            fired.append(sql)
            pid = context["connection"].connection.info.backend_pid
            with psycopg.connect(**admin_connection_kwargs(), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        return execute(sql, params, many, context)

    return wrapper, fired


def admin_connection_kwargs() -> dict:
    d = connection.settings_dict
    kwargs = {"dbname": d["NAME"], "host": d.get("HOST") or "127.0.0.1", "user": d.get("USER")}
    if d.get("PORT"):
        kwargs["port"] = d["PORT"]
    if d.get("PASSWORD"):
        kwargs["password"] = d["PASSWORD"]
    return kwargs


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "table", ["newsletter_submission", "newsletter_extralink", "newsletter_activity"]
)
def test_connection_dropped_mid_submission_stores_nothing_and_shows_error_page(table):
    member = UserFactory()
    client = Client(raise_request_exception=False)
    client.force_login(member)
    url = "https://example.org/posts/dropped"
    wrapper, fired = terminate_before(table)

    with connection.execute_wrapper(wrapper):
        response = client.post(SUBMIT, submit_data(url), secure=True)

    assert fired, f"the request never inserted into {table}"
    assert response.status_code == 500
    text = response.content.decode()
    assert "Something went wrong on our side" in text
    assert "My submissions" in text
    assert "Traceback" not in text and "psycopg" not in text.lower()
    connection.close()  # the test's own connection was the one terminated
    assert Submission.objects.count() == 0
    assert ExtraLink.objects.count() == 0
    assert Activity.objects.count() == 0

    # The site recovers on the next request, and the member's second try is stored whole.
    response = client.post(SUBMIT, submit_data(url), secure=True)
    assert response.status_code == 302
    submission = Submission.objects.get()
    assert submission.extra_links.count() == 2
    assert list(submission.activity.values_list("action", flat=True)) == ["submitted"]


# --- Redis down while members submit and editors publish -----------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisProcess:
    """A throwaway redis-server on loopback, without persistence, for this test only."""

    def __init__(self, port: int):
        self.port = port
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self.answers, timeout=10, message="redis-server did not start")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def own_redis(settings) -> Iterator[RedisProcess]:
    """Broker and cache on a redis-server of this test's own, which the test may kill."""
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    redis = RedisProcess(free_port())
    redis.start()
    settings.REDIS_URL = redis.url
    settings.CELERY_BROKER_URL = redis.url
    settings.CACHES = {
        "default": {
            "BACKEND": "portal.cache.ResilientRedisCache",  # production's, on this server
            "LOCATION": redis.url,
            "KEY_PREFIX": "reliability",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }
    old_broker = celery_app.conf.broker_url
    celery_app.conf.task_always_eager = False
    reset_broker(redis.url)
    try:
        yield redis
    finally:
        redis.kill()
        celery_app.conf.task_always_eager = True
        reset_broker(old_broker)


@pytest.fixture
def discord(settings) -> Iterator[DiscordServer]:
    with DiscordServer() as server:
        settings.DISCORD_API_BASE = server.api_base
        yield server


def start_worker(redis: RedisProcess, **env: str) -> WorkerProcess:
    worker = WorkerProcess(extra_env={"REDIS_URL": redis.url, **env})
    worker.start()
    return worker


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_redis_down_while_member_submits_then_metadata_is_fetched_once_back(
    own_redis, thirdparty_server, settings
):
    member = UserFactory()
    client = Client()
    client.force_login(member)
    page = thirdparty_server.url_for("/pages/og.html")
    own_redis.kill()

    started = time.monotonic()
    response = client.post(
        SUBMIT, submit_data(page, title="", summary=""), secure=True, follow=True
    )
    waited = time.monotonic() - started

    assert response.status_code == 200
    assert "Thank you! Your link is waiting for the editors" in response.content.decode()
    submission = Submission.objects.get()
    assert submission.extra_links.count() == 2
    assert submission.metadata_fetched_at is None
    assert waited < 10, f"the member waited {waited:.1f} s for a broker that is down"

    own_redis.start()
    worker = start_worker(own_redis, NEWSLETTER_SWEEP_AFTER="0")
    try:
        sweep_followups.delay()  # what beat does every few minutes
        submission = wait_until(
            lambda: Submission.objects.filter(
                pk=submission.pk, metadata_fetched_at__isnull=False
            ).first(),
            timeout=30,
            message="the metadata fetch never ran after Redis came back",
        )
    finally:
        worker.stop()
    assert submission.title == "Training Tiny Models, & Why"
    assert submission.activity.filter(action=Activity.Action.METADATA).count() == 1


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_redis_down_while_editor_publishes_then_emails_and_discord_follow(
    own_redis, discord, settings
):
    editor = EditorFactory(is_superuser=True)
    hook = discord.create_webhook()
    make_channel(discord, hook)
    issue = draft_issue(items=2, editor=editor)
    authors = {
        item.submission.author.email for item in issue.items.select_related("submission__author")
    }
    client = Client()
    client.force_login(editor)
    own_redis.kill()

    response = client.post(
        reverse("admin:newsletter_issue_publishing", args=[issue.pk]),
        {"action": "publish"},
        secure=True,
        follow=True,
    )

    assert response.status_code == 200
    assert (
        f"Issue #{issue.number} is published. Delivery to Discord will follow when the task "
        "queue is reachable again."
    ) in response.content.decode()
    issue.refresh_from_db()
    assert issue.state == Issue.State.PUBLISHED
    assert Notification.objects.filter(sent_at__isnull=True).count() == 2
    delivery = Delivery.objects.get(issue=issue)
    assert delivery.state == Delivery.State.PENDING
    assert delivery.queue_failed_at is not None
    listing = client.get(reverse("admin:newsletter_delivery_changelist"), secure=True)
    assert "Waiting for the task queue, unreachable since" in listing.content.decode()
    assert mail.outbox == []
    assert discord.contents(hook) == []
    # Readers see the issue at once: the archive does not need Redis either.
    assert Client().get(issue.get_absolute_url(), secure=True).status_code == 200

    own_redis.start()
    worker = start_worker(
        own_redis,
        DISCORD_API_BASE=discord.api_base,
        DISCORD_SWEEP_AFTER="0",
        NEWSLETTER_SWEEP_AFTER="0",
    )
    try:
        sweep_followups.delay()
        sweep_deliveries.delay()
        wait_until(
            lambda: not Notification.objects.filter(sent_at__isnull=True).exists(),
            timeout=30,
            message="the submitters' emails were never sent after Redis came back",
        )
        wait_until(
            lambda: Delivery.objects.filter(pk=delivery.pk, state=Delivery.State.SENT).exists(),
            timeout=30,
            message="the Discord delivery never ran after Redis came back",
        )
    finally:
        worker.stop()
    total = DeliveryMessage.objects.filter(delivery=delivery).count()
    assert len(discord.contents(hook)) == total  # each message once
    # Each submitter was emailed, once.
    emailed = Activity.objects.filter(action=Activity.Action.EMAILED)
    assert sorted(emailed.values_list("submission__author__email", flat=True)) == sorted(authors)


@pytest.mark.django_db(transaction=True)
def test_publish_now_with_the_broker_unreachable_publishes_and_says_discord_will_follow(
    discord, settings
):
    editor = EditorFactory(is_superuser=True)
    make_channel(discord)
    issue = draft_issue(items=1, editor=editor)
    client = Client()
    client.force_login(editor)
    reset_broker(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    celery_app.conf.task_always_eager = False

    response = client.post(
        reverse("admin:newsletter_issue_changelist"),
        {"action": "publish_now", "_selected_action": [issue.pk], "confirmed": "yes"},
        secure=True,
        follow=True,
    )

    page = response.content.decode()
    assert "1 issue published." in page
    assert "Delivery to Discord will follow when the task queue is reachable again." in page
    assert Issue.objects.get(pk=issue.pk).state == Issue.State.PUBLISHED
    assert Delivery.objects.get(issue=issue).queue_failed_at is not None


@pytest.mark.redis
def test_production_cache_is_the_resilient_one(settings):
    assert settings.CACHES["default"]["BACKEND"] == "portal.cache.ResilientRedisCache"


@pytest.mark.django_db
def test_redis_down_readers_and_logins_still_work(own_redis, settings):
    """The cache (rendered pages, rate-limit counters) is on Redis too: it must not be needed."""
    settings.ACCOUNT_RATE_LIMITS = PRODUCTION_RATE_LIMITS
    issue = published_issue(items=2)
    member = UserFactory()
    reader = Client()
    pages = ["/", reverse("newsletter:archive"), issue.get_absolute_url()]
    assert [reader.get(page, secure=True).status_code for page in pages] == [200, 200, 200]
    own_redis.kill()

    assert [reader.get(page, secure=True).status_code for page in pages] == [200, 200, 200]
    response = Client().post(
        reverse("account_login"), {"login": member.email, "password": PASSWORD}, secure=True
    )
    assert response.status_code == 302
    own_redis.start()
    assert reader.get(issue.get_absolute_url(), secure=True).status_code == 200
    assert cache.set("back", 1) is None and cache.get("back") == 1


# --- The follow-ups sweeper ----------------------------------------------------------------------


@pytest.mark.django_db
def test_followups_sweep_queues_only_overdue_work(settings, django_capture_on_commit_callbacks):
    settings.NEWSLETTER_SWEEP_AFTER = 600
    now = timezone.now()
    fresh, overdue, stale = (
        Notification.objects.create(
            submission=SubmissionFactory(state=Submission.State.ACCEPTED),
            kind=Notification.Kind.ACCEPTED,
            created_at=now - age,
        )
        for age in (timedelta(minutes=1), timedelta(minutes=20), timedelta(days=2))
    )
    sent = Notification.objects.create(
        submission=SubmissionFactory(state=Submission.State.ACCEPTED),
        kind=Notification.Kind.ACCEPTED,
        created_at=now - timedelta(minutes=20),
        sent_at=now - timedelta(minutes=19),
    )
    unfetched = SubmissionFactory(title="", created_at=now - timedelta(minutes=20))

    with django_capture_on_commit_callbacks(execute=True):
        queued = sweep_followups()  # tasks run inline in tests, as they would on a worker

    assert queued == 2
    assert [m.to for m in mail.outbox] == [[overdue.submission.author.email]]
    assert Notification.objects.filter(sent_at__isnull=False).count() == 2
    for notification in (fresh, stale):
        notification.refresh_from_db()
        assert notification.sent_at is None
    assert sent.submission.activity.count() == 0
    unfetched.refresh_from_db()
    assert unfetched.metadata_fetched_at is not None  # tried (the example.org fetch fails)
