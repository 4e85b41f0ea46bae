"""Delivery under faults, with a real Celery worker on Redis and the Discord stand-in.

In each scenario every message arrives exactly once (the stand-in's record says so), or the
editors can see exactly what failed and why (the delivery rows and the admin pages say so).

The Redis scenario never touches the shared Redis server: it starts its own redis-server on a
free port, stops it while an issue is published, and starts it again.
"""

from __future__ import annotations

import contextlib
import time

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.urls import reverse

from newsletter.models import Delivery, DeliveryMessage, Submission
from newsletter.services.delivery import delivery_create, delivery_sweep
from portal.celery import app as celery_app
from tests.factories import EditorFactory, SubmissionFactory
from tests.stubs.discord import discord_server, make_channel  # noqa: F401  (fixture)
from tests.workers import OwnRedis, WorkerProcess, broker, needs_redis_server, wait_until

Message = DeliveryMessage.State

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
]

# The worker's own settings: short leases and retries, so that a killed run is taken over in
# seconds rather than minutes.
WORKER_ENV = {
    "DISCORD_HTTP_TIMEOUT": "1",
    "DISCORD_DELIVERY_LEASE": "2",
    "DISCORD_RETRY_BACKOFF": "0.05",
    "DISCORD_SWEEP_AFTER": "1",
}


@pytest.fixture(autouse=True)
def fast_settings(settings):
    settings.DISCORD_HTTP_TIMEOUT = 1.0
    settings.DISCORD_DELIVERY_LEASE = 2
    settings.DISCORD_RETRY_BACKOFF = 0.05
    settings.DISCORD_SWEEP_AFTER = 1


@contextlib.contextmanager
def running_worker(server, *, concurrency: int = 2, **env):
    """A real worker that posts to the stand-in; tasks go to it through Redis."""
    celery_app.conf.task_always_eager = False
    worker = WorkerProcess(
        concurrency=concurrency,
        extra_env={**WORKER_ENV, "DISCORD_API_BASE": server.api_base, **env},
    )
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        celery_app.conf.task_always_eager = True


@contextlib.contextmanager
def production_worker(server, **env):
    """A worker with the production settings for leases, retries and sweeping, and beat inside
    it: what a killed worker or a broker outage costs in real time."""
    celery_app.conf.task_always_eager = False
    worker = WorkerProcess(
        concurrency=2, beat=True, extra_env={"DISCORD_API_BASE": server.api_base, **env}
    )
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        celery_app.conf.task_always_eager = True


def purge_queue():
    with contextlib.suppress(Exception), celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge(django_settings.CELERY_TASK_DEFAULT_QUEUE)


def texts(count: int) -> list[str]:
    return [
        f"Message {n}: [a link](https://example.org/{n}) and <t:1681491600:F>" for n in range(count)
    ]


def sweep_until_done(delivery_ids, *, timeout=60):
    """What beat does every two minutes, here every second: queue stalled deliveries again."""

    def done():
        if Delivery.objects.filter(pk__in=delivery_ids, state__in=["pending", "sending"]).exists():
            delivery_sweep()
            return False
        return True

    wait_until(done, timeout=timeout, interval=1.0, message="deliveries did not finish")


def assert_once_in_order(server, channel, contents):
    posted = server.posted(server.hooks[channel.webhook_id])
    assert [m.content for m in posted] == contents
    assert len({m.id for m in posted}) == len(contents)
    stored = list(DeliveryMessage.objects.filter(delivery__channel=channel).order_by("position"))
    assert [m.state for m in stored] == [Message.SENT] * len(contents)
    assert [m.discord_message_id for m in stored] == [m.id for m in posted]


# --- the worker killed mid-delivery ------------------------------------------------------------


def test_worker_killed_between_messages_then_restarted_posts_each_once(discord_server):  # noqa: F811
    channel = make_channel(discord_server)
    contents = texts(14)
    try:
        with running_worker(discord_server) as worker:
            delivery = delivery_create(channel=channel, key="k", contents=contents)

            # Kill it while it waits for the rate-limit window, every answer stored.
            def paused_after_five():
                posted = len(discord_server.contents())
                stored = DeliveryMessage.objects.filter(state=Message.SENT).count()
                return posted >= 5 and stored == posted

            wait_until(paused_after_five, timeout=30)
            worker.kill()
            killed_at = len(discord_server.contents())
            assert killed_at < len(contents)

            worker.start()
            sweep_until_done([delivery.pk])
    finally:
        purge_queue()

    assert_once_in_order(discord_server, channel, contents)
    assert not DeliveryMessage.objects.filter(maybe_duplicate=True).exists()


def test_worker_killed_while_waiting_for_discord_flags_exactly_that_message(
    discord_server,  # noqa: F811
):
    """Killed with a POST in flight: Discord stored it but we never heard. The only message
    that can then appear twice is that one, and the admin says so."""
    channel = make_channel(discord_server)
    contents = texts(4)
    try:
        with running_worker(discord_server, DISCORD_HTTP_TIMEOUT="3") as worker:
            discord_server.slow_next = 3  # the answers to messages 1-3 are slow
            discord_server.slow_seconds = 1.5
            delivery = delivery_create(channel=channel, key="k", contents=contents)
            # Message 3 is stored by Discord, its answer not yet sent.
            wait_until(lambda: len(discord_server.contents()) == 3, timeout=30)
            worker.kill()
            worker.start()
            sweep_until_done([delivery.pk])
    finally:
        purge_queue()

    posted = discord_server.contents(discord_server.hooks[channel.webhook_id])
    assert posted == [contents[0], contents[1], contents[2], contents[2], contents[3]]
    flagged = list(
        DeliveryMessage.objects.filter(maybe_duplicate=True).values_list("position", flat=True)
    )
    assert flagged == [2]
    assert set(DeliveryMessage.objects.values_list("state", flat=True)) == {Message.SENT}


def test_a_killed_workers_delivery_goes_on_within_half_a_minute_of_its_return(
    discord_server,  # noqa: F811
):
    """Production settings, beat included: killed mid-delivery and started again at once, the
    worker goes on with the delivery within 30 s (the lease expires, the sweeper queues it)."""
    channel = make_channel(discord_server)
    contents = texts(20)
    try:
        with production_worker(discord_server) as worker:
            delivery = delivery_create(channel=channel, key="k", contents=contents)
            wait_until(
                lambda: (
                    len(discord_server.contents()) >= 7
                    and DeliveryMessage.objects.filter(state=Message.SENT).count()
                    == len(discord_server.contents())
                ),
                timeout=30,
            )
            worker.kill()
            posted = len(discord_server.contents())
            worker.start()
            back = time.monotonic()
            wait_until(
                lambda: len(discord_server.contents()) > posted,
                timeout=30,
                message=lambda: (
                    "nothing was posted within 30 s of the worker's return: "
                    + repr(Delivery.objects.values().get(pk=delivery.pk))
                    + "".join(worker.log[-30:])
                ),
            )
            waited = time.monotonic() - back
            wait_until(
                lambda: Delivery.objects.filter(pk=delivery.pk, state="sent").exists(), timeout=60
            )
    finally:
        purge_queue()

    assert waited < 30
    # The kill may land while a POST is in flight: Discord stored it, the answer never came.
    # That one message may then appear twice, flagged for the editors (the one ambiguous case,
    # see newsletter/services/delivery.py); everything else appears once, in order.
    flagged = list(
        DeliveryMessage.objects.filter(delivery=delivery, maybe_duplicate=True).values_list(
            "content", flat=True
        )
    )
    assert len(flagged) <= 1
    posted = discord_server.contents(discord_server.hooks[channel.webhook_id])
    once = [text for i, text in enumerate(posted) if not (i and text == posted[i - 1] in flagged)]
    assert once == contents
    assert set(DeliveryMessage.objects.values_list("state", flat=True)) == {Message.SENT}


# --- Redis stopped while an issue is published -------------------------------------------------


@contextlib.contextmanager
def redis_then_down(server, settings):
    """Our own Redis as broker for this process and a worker; yields it already stopped."""
    redis = OwnRedis()
    redis.start()
    settings.REDIS_URL = redis.url
    try:
        with broker(redis.url), running_worker(server, REDIS_URL=redis.url):
            redis.stop()
            yield redis
    finally:
        redis.stop()


@needs_redis_server
def test_redis_down_while_deliveries_are_created_loses_nothing(discord_server, settings):  # noqa: F811
    channels = [make_channel(discord_server, name=f"channel {n}") for n in range(2)]
    contents = texts(7)
    with redis_then_down(discord_server, settings) as redis:
        started = time.monotonic()
        with transaction.atomic():  # as publishing does
            deliveries = [
                delivery_create(channel=channel, key="issue:1", contents=contents)
                for channel in channels
            ]
        assert time.monotonic() - started < 15  # the failed queueing did not hang
        assert {d.state for d in Delivery.objects.all()} == {Delivery.State.PENDING}
        assert discord_server.contents() == []

        redis.start()
        sweep_until_done([d.pk for d in deliveries], timeout=90)

    for channel in channels:
        assert_once_in_order(discord_server, channel, contents)


@needs_redis_server
def test_redis_down_while_an_issue_is_published_loses_nothing(discord_server, settings):  # noqa: F811
    from newsletter.rendering import issue_discord_messages
    from newsletter.services.compose import issue_item_add
    from newsletter.services.issues import issue_create, issue_publish

    first = make_channel(discord_server, name="first")
    second = make_channel(discord_server, name="second")
    issue = issue_create(title="Published while Redis is down", introduction="Hello!")
    for number in range(8):
        issue_item_add(
            issue=issue,
            submission=SubmissionFactory(
                state=Submission.State.ACCEPTED,
                title=f"Paper {number}",
                summary="Why it matters, in a few sentences. " * 8,
            ),
        )
    with redis_then_down(discord_server, settings) as redis:
        issue_publish(issue=issue, actor=EditorFactory())

        issue.refresh_from_db()
        assert issue.state == issue.State.PUBLISHED
        deliveries = list(Delivery.objects.filter(issue=issue))
        assert len(deliveries) == 2
        assert discord_server.contents() == []

        redis.start()
        sweep_until_done([d.pk for d in deliveries], timeout=90)

    expected = issue_discord_messages(issue)
    assert_once_in_order(discord_server, first, expected)
    assert_once_in_order(discord_server, second, expected)


# --- one channel, several deliveries; one webhook, several processes ---------------------------


def test_two_issues_to_one_channel_go_out_one_after_the_other(discord_server):  # noqa: F811
    """Two worker processes, two issues published a moment apart to the same channel: the
    second waits for the first, then follows it; no message of one lands among the other's."""
    channel = make_channel(discord_server)
    first, second = texts(8), [text.replace("Message", "Second issue") for text in texts(8)]
    try:
        with running_worker(discord_server, concurrency=2):
            older = delivery_create(channel=channel, key="issue:1", contents=first)
            newer = delivery_create(channel=channel, key="issue:2", contents=second)
            wait_until(
                lambda: Delivery.objects.filter(state=Delivery.State.SENT).count() == 2,
                timeout=60,
                message="the two deliveries did not both finish",
            )
    finally:
        purge_queue()

    assert discord_server.contents(discord_server.hooks[channel.webhook_id]) == first + second
    older.refresh_from_db()
    newer.refresh_from_db()
    assert older.finished_at < newer.finished_at
    assert discord_server.count(429) == 0


def test_two_processes_posting_to_one_webhook_share_its_rate_limit(discord_server):  # noqa: F811
    """Two channels in two threads of one webhook share Discord's bucket (5 per 2 s); two
    worker processes sending both at once cause no 429 of their own."""
    hook = discord_server.create_webhook()
    channels = [
        make_channel(
            discord_server, hook, name=f"thread {n}", thread_id=discord_server.create_thread(hook)
        )
        for n in range(2)
    ]
    contents = texts(10)
    try:
        with running_worker(discord_server, concurrency=2):
            for channel in channels:
                delivery_create(channel=channel, key="k", contents=contents)
            wait_until(
                lambda: Delivery.objects.filter(state=Delivery.State.SENT).count() == 2,
                timeout=60,
                message="the two deliveries did not both finish",
            )
    finally:
        purge_queue()

    assert discord_server.count(429) == 0
    for channel in channels:
        posted = [m for m in discord_server.messages if m.thread_id == channel.thread_id]
        assert [m.content for m in posted] == contents


@needs_redis_server
def test_published_while_redis_is_down_the_editor_is_told_and_discord_follows_within_30_s(
    discord_server,  # noqa: F811
    settings,
    client,
):
    """Production settings, beat in the worker: publishing says Discord will follow, the
    deliveries list says the delivery waits for the task queue, and once Redis is back the
    first message is posted within 30 s."""
    from tests.newsletter.issue_data import draft_issue

    editor = EditorFactory(is_superuser=True)
    channel = make_channel(discord_server, name="news")
    issue = draft_issue(items=2, editor=editor)
    client.force_login(editor)
    redis = OwnRedis()
    redis.start()
    settings.REDIS_URL = redis.url
    try:
        with broker(redis.url), production_worker(discord_server, REDIS_URL=redis.url):
            redis.stop()

            response = client.post(
                reverse("admin:newsletter_issue_publishing", args=[issue.pk]),
                {"action": "publish"},
                follow=True,
            )

            page = response.content.decode()
            assert (
                f"Issue #{issue.number} is published. Delivery to Discord will follow when the "
                "task queue is reachable again."
            ) in page
            delivery = Delivery.objects.get(issue=issue)
            assert delivery.queue_failed_at is not None
            listing = client.get(reverse("admin:newsletter_delivery_changelist"))
            assert "Waiting for the task queue, unreachable since" in listing.content.decode()

            redis.start()
            back = time.monotonic()
            wait_until(
                lambda: discord_server.contents(),
                timeout=30,
                message="nothing was posted within 30 s of Redis coming back",
            )
            waited = time.monotonic() - back
            wait_until(
                lambda: Delivery.objects.filter(pk=delivery.pk, state="sent").exists(), timeout=60
            )
    finally:
        redis.stop()

    assert waited < 30
    assert_once_in_order(
        discord_server, channel, list(delivery.messages.values_list("content", flat=True))
    )
    assert Delivery.objects.get(pk=delivery.pk).queue_failed_at is None


# --- Discord failing: a third of the answers, or the webhook deleted half-way -------------------


def test_a_backoff_frees_the_worker_process_for_other_channels(discord_server):  # noqa: F811
    """Waiting 1 + 2 + 4 s between attempts to a failing webhook holds no worker process."""
    failing = make_channel(discord_server, name="failing")
    healthy = make_channel(discord_server, name="healthy")
    discord_server.hooks[failing.webhook_id].failing = 3
    contents = texts(3)
    try:
        with running_worker(discord_server, concurrency=1, DISCORD_RETRY_BACKOFF="1"):
            slow = delivery_create(channel=failing, key="k", contents=contents)
            fine = delivery_create(channel=healthy, key="k", contents=contents)
            wait_until(
                lambda: Delivery.objects.filter(pk=fine.pk, state=Delivery.State.SENT).exists(),
                timeout=30,
            )
            fine.refresh_from_db()
            slow.refresh_from_db()
            # The healthy channel did not wait for the failing one's backoff.
            assert (fine.finished_at - fine.created_at).total_seconds() < 3
            assert slow.state != Delivery.State.SENT
            assert "Discord had an error (503" in slow.last_error
            assert "trying again in" in slow.last_error
            wait_until(
                lambda: Delivery.objects.filter(pk=slow.pk, state=Delivery.State.SENT).exists(),
                timeout=30,
            )
    finally:
        purge_queue()

    assert_once_in_order(discord_server, healthy, contents)
    assert_once_in_order(discord_server, failing, contents)
    assert discord_server.count(503) == 3
    slow.refresh_from_db()
    assert slow.last_error == ""


def test_a_third_of_answers_5xx_still_posts_each_message_once(discord_server):  # noqa: F811
    channels = [make_channel(discord_server, name=f"channel {n}") for n in range(3)]
    contents = texts(9)
    discord_server.fail_every = 3
    try:
        with running_worker(discord_server):
            deliveries = [
                delivery_create(channel=channel, key="k", contents=contents) for channel in channels
            ]
            sweep_until_done([d.pk for d in deliveries], timeout=90)
    finally:
        purge_queue()

    for channel in channels:
        assert_once_in_order(discord_server, channel, contents)
    assert discord_server.count(503) >= 9


def test_webhook_deleted_half_way_tells_the_editors_what_failed(
    discord_server,  # noqa: F811
    client,
    tmp_path,
):
    editor = EditorFactory()
    doomed = make_channel(discord_server, name="doomed")
    healthy = make_channel(discord_server, name="healthy")
    discord_server.delete_webhook_after(discord_server.hooks[doomed.webhook_id], 3)
    contents = texts(7)
    try:
        with running_worker(discord_server, PORTAL_TEST_EMAIL_DIR=str(tmp_path)):
            failing = delivery_create(channel=doomed, key="k", contents=contents)
            fine = delivery_create(channel=healthy, key="k", contents=contents)
            sweep_until_done([failing.pk, fine.pk], timeout=60)
    finally:
        purge_queue()

    assert_once_in_order(discord_server, healthy, contents)
    assert discord_server.contents(discord_server.hooks[doomed.webhook_id]) == contents[:3]
    failing.refresh_from_db()
    doomed.refresh_from_db()
    assert failing.state == Delivery.State.FAILED
    assert "Discord no longer knows this webhook" in failing.last_error
    assert doomed.active is False
    assert (
        list(failing.messages.values_list("state", flat=True))
        == [Message.SENT] * 3 + [Message.PENDING] * 4
    )
    # What the editors are told: an email, and a banner on the admin pages.
    [email] = [path.read_text() for path in tmp_path.iterdir()]
    assert f"To: {editor.email}" in email
    assert "The Discord channel “doomed” was switched off" in email
    assert "Discord no longer knows this webhook" in email
    assert discord_server.hooks[doomed.webhook_id].token not in email
    client.force_login(editor)
    page = client.get(reverse("admin:newsletter_delivery_changelist")).content.decode()
    assert "Discord channel" in page
    assert "is switched off: Discord no longer knows this webhook" in page
    assert '<progress value="3" max="7"' in page
    assert '<progress value="7" max="7"' in page
