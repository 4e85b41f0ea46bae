"""The email edition under faults, with a real Celery worker on Redis and a real SMTP server.

In each scenario every subscriber receives the issue exactly once (the SMTP server's record
says so), or the editors can see exactly what did not go and why (the rows and the admin say
so). The only message that may be missing is one the worker was killed while handing over
(the server may have kept it): it is marked "may have arrived" and never sent twice.
"""

from __future__ import annotations

import contextlib
import time

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from newsletter.models import EmailSend
from newsletter.services.email_delivery import email_progress, email_sends_sweep
from newsletter.services.issues import issue_publish
from portal.celery import app as celery_app
from tests.factories import EditorFactory
from tests.newsletter.email_data import issue_recipients, issue_with_links, readers, states
from tests.workers import OwnRedis, WorkerProcess, broker, needs_redis_server, wait_until

Send = EmailSend.State

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
]

# The worker's own settings: a pace a test can watch, short leases and retries, so that a
# killed run's rows are taken over in seconds rather than minutes.
WORKER_ENV = {
    "EMAIL_SEND_RATE": "25",
    "EMAIL_BATCH_SIZE": "10",
    "EMAIL_TIMEOUT": "1",
    "EMAIL_LEASE": "2",
    "EMAIL_RETRY_BACKOFF": "0.5",
    "EMAIL_SWEEP_AFTER": "1",
    "EMAIL_RUN_SECONDS": "5",
}


@pytest.fixture(autouse=True)
def fast_settings(settings):
    settings.EMAIL_SEND_RATE = 25.0
    settings.EMAIL_BATCH_SIZE = 10
    settings.EMAIL_SEND_LANES = 2
    settings.EMAIL_TIMEOUT = 1
    settings.EMAIL_LEASE = 2
    settings.EMAIL_SWEEP_AFTER = 1


@contextlib.contextmanager
def running_worker(server, **env):
    """A real worker (two processes) that sends through the local SMTP server."""
    celery_app.conf.task_always_eager = False
    worker = WorkerProcess(
        concurrency=2,
        extra_env={**WORKER_ENV, "PORTAL_TEST_EMAIL_URL": server.email_url, **env},
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


def publish(count: int):
    people = readers(count)
    issue = issue_publish(issue=issue_with_links(), actor=EditorFactory())
    return issue, people


def sweep_until_done(issue, *, timeout=90):
    """What beat does every minute, here every second: finish what was left."""

    def done():
        if EmailSend.objects.filter(issue=issue, state__in=[Send.PENDING, Send.SENDING]).exists():
            email_sends_sweep()
            return False
        return True

    wait_until(done, timeout=timeout, interval=1.0, message="the sends did not finish")


def copies(server, people) -> dict[str, int]:
    received = issue_recipients(server)
    return {person.email.lower(): received.count(person.email.lower()) for person in people}


def sent_rows(issue) -> int:
    return EmailSend.objects.filter(issue=issue, state=Send.SENT).count()


# --- the worker killed mid-batch ---------------------------------------------------------------


def test_worker_killed_mid_batch_then_restarted_sends_each_once(smtp_server, settings):
    settings.EMAIL_SEND_RATE = 8.0  # a message every 125 ms, shared by both processes
    try:
        with running_worker(smtp_server, EMAIL_SEND_RATE="8") as worker:
            started = time.monotonic()
            issue, people = publish(30)

            # Kill it just after an answer is stored: the next message is a pace's slot away.
            wait_until(lambda: sent_rows(issue) >= 8, timeout=30, interval=0.005)
            stored = sent_rows(issue)
            wait_until(lambda: sent_rows(issue) > stored, timeout=5, interval=0.002)
            worker.kill()
            killed_at = len(issue_recipients(smtp_server))
            assert killed_at < 30
            assert states(issue).get(Send.PENDING, 0) > 0

            worker.start()
            sweep_until_done(issue)
            seconds = time.monotonic() - started
    finally:
        purge_queue()

    assert set(copies(smtp_server, people).values()) == {1}
    assert states(issue) == {Send.SENT: 30}
    assert seconds >= 29 / 8  # the pace held across the restart


def test_worker_killed_with_a_message_in_flight_never_sends_it_twice(smtp_server, settings):
    settings.EMAIL_SEND_LANES = 1
    try:
        with running_worker(smtp_server) as worker:
            issue, people = publish(20)
            wait_until(lambda: len(issue_recipients(smtp_server)) >= 5, timeout=30)
            # The server keeps the next message but does not answer: the worker dies waiting.
            smtp_server.hold_data.clear()
            # Until a message is held: one answered just before the hold might still be marked
            # sent before the kill lands, and then nothing would be in flight.
            wait_until(
                lambda: (
                    smtp_server.held
                    and EmailSend.objects.filter(issue=issue, state=Send.SENDING).exists()
                ),
                timeout=30,
                interval=0.01,
            )
            worker.kill()
            in_flight = len(issue_recipients(smtp_server)) - sent_rows(issue)
            smtp_server.hold_data.set()

            worker.start()
            sweep_until_done(issue)
    finally:
        purge_queue()

    assert in_flight == 1
    counts = copies(smtp_server, people)
    assert set(counts.values()) == {1}  # nobody twice, nobody missing
    [unconfirmed] = EmailSend.objects.filter(issue=issue, state=Send.UNCONFIRMED)
    assert "may have arrived, so it is not sent again" in unconfirmed.last_error
    assert states(issue) == {Send.SENT: 19, Send.UNCONFIRMED: 1}
    assert email_progress(issue).unconfirmed == 1


# --- the mail server refusing some recipients, or down for a while -----------------------------


def test_refused_recipients_lose_and_double_nothing_and_the_admin_says_so(smtp_server):
    try:
        with running_worker(smtp_server):
            people = readers(12)
            unknown, busy = people[3], people[7]
            smtp_server.refuse[unknown.email.lower()] = (550, "5.1.1 No such user here")
            smtp_server.refuse[busy.email.lower()] = (451, "4.3.2 Try again later")
            issue = issue_publish(issue=issue_with_links(), actor=EditorFactory())

            wait_until(lambda: sent_rows(issue) == 10, timeout=30)
            editor = EditorFactory()
            client = Client()
            client.force_login(editor)
            page = client.get(reverse("admin:newsletter_issue_change", args=[issue.pk]))
            html = page.content.decode()
            assert "Email · 10 of 12 sent" in html
            assert "550 5.1.1 No such user here" in html or "451 4.3.2" in html

            del smtp_server.refuse[busy.email.lower()]  # the greylisting ends
            sweep_until_done(issue)
    finally:
        purge_queue()

    counts = copies(smtp_server, people)
    assert counts.pop(unknown.email.lower()) == 0
    assert set(counts.values()) == {1}
    assert states(issue) == {Send.SENT: 11, Send.FAILED: 1}
    failed = EmailSend.objects.get(issue=issue, state=Send.FAILED)
    assert "550 5.1.1 No such user here" in failed.last_error
    assert EmailSend.objects.get(issue=issue, subscriber=busy).attempts >= 2
    unknown.refresh_from_db()
    assert unknown.state == "unsubscribed"


def test_smtp_server_down_for_a_while_loses_and_doubles_nothing(smtp_server):
    try:
        with running_worker(smtp_server):
            issue, people = publish(40)
            wait_until(lambda: len(issue_recipients(smtp_server)) >= 10, timeout=30)
            smtp_server.stop()
            wait_until(
                lambda: "could not be reached" in email_progress(issue).last_problem,
                timeout=30,
                message="the admin did not say the server is down",
            )
            received_while_down = len(issue_recipients(smtp_server))
            time.sleep(2)
            assert len(issue_recipients(smtp_server)) == received_while_down
            smtp_server.start()
            sweep_until_done(issue)
    finally:
        purge_queue()

    counts = copies(smtp_server, people)
    assert max(counts.values()) == 1  # nothing doubled
    unconfirmed = EmailSend.objects.filter(issue=issue, state=Send.UNCONFIRMED).count()
    # Nothing lost: every row is sent, or (if the stop cut a message mid-transfer) marked.
    found = states(issue)
    assert found.get(Send.SENT, 0) + unconfirmed == 40
    assert unconfirmed <= 2  # at most the message each process was handing over
    assert sum(counts.values()) >= 40 - unconfirmed


# --- Redis stopped while the issue is published ------------------------------------------------


@needs_redis_server
def test_published_while_redis_is_down_every_reader_gets_one_copy_once_it_is_back(
    smtp_server, settings
):
    """The sends are rows from the moment of publishing: a broker that cannot take the tasks
    loses none of them, and the sweeper (beat's job, every minute) queues them when it is back."""
    redis = OwnRedis()
    redis.start()
    settings.REDIS_URL = redis.url
    try:
        with broker(redis.url), running_worker(smtp_server, REDIS_URL=redis.url):
            redis.stop()
            issue, people = publish(12)

            assert states(issue) == {Send.PENDING: 12}
            time.sleep(2)  # the worker has nothing it could have been given
            assert issue_recipients(smtp_server) == []

            redis.start()
            sweep_until_done(issue)
    finally:
        redis.stop()

    assert copies(smtp_server, people) == {person.email.lower(): 1 for person in people}
    assert states(issue) == {Send.SENT: 12}
