"""Sending the email edition: each subscriber gets each issue once, read from a real SMTP server.

The local SMTP server (tests/stubs/smtp.py, aiosmtpd in this process) receives what Django's
SMTP backend sends; each test reads what it received and what the rows say.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from newsletter.models import EmailSend, Subscriber
from newsletter.services.email_delivery import (
    email_progress,
    email_send_test,
    email_sends_create_for_issue,
    email_sends_retry_failed,
    email_sends_send,
    email_sends_sweep,
)
from newsletter.services.issues import issue_correct, issue_publish, issue_update
from newsletter.services.mail_answers import LATER, REFUSED, UNKNOWN, UNREACHABLE, classify
from newsletter.services.subscribers import subscriber_unsubscribe
from newsletter.tasks.email import send_emails, sweep_email
from tests.factories import EditorFactory, SubscriberFactory
from tests.newsletter.email_data import (
    issue_recipients,
    issue_with_links,
    links,
    readers,
    states,
    unsubscribe_path,
)

pytestmark = pytest.mark.django_db

Send = EmailSend.State


@pytest.fixture(autouse=True)
def quick(settings):
    settings.EMAIL_RETRY_BACKOFF = 0.2
    settings.EMAIL_SWEEP_AFTER = 0
    settings.EMAIL_TIMEOUT = 5


def publish(issue, capture):
    """Publish as an editor does: the emails leave once the transaction commits."""
    with capture(execute=True):
        return issue_publish(issue=issue, actor=EditorFactory())


# --- publishing --------------------------------------------------------------------------------


def test_publishing_emails_each_confirmed_subscriber_once_with_both_parts_and_headers(
    smtp_settings, django_capture_on_commit_callbacks
):
    server = smtp_settings
    confirmed = readers(3)
    SubscriberFactory(email="pending@example.net", state=Subscriber.State.PENDING)
    SubscriberFactory(email="gone@example.net", state=Subscriber.State.UNSUBSCRIBED)
    issue = publish(issue_with_links(), django_capture_on_commit_callbacks)

    for reader in confirmed:
        [received] = server.to(reader.email)
        message = received.message
        row = EmailSend.objects.get(issue=issue, subscriber=reader)
        assert row.state == Send.SENT
        assert message["Message-ID"] == row.message_id
        assert message["Date"]
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert (
            unsubscribe_path(received)
            == f"/email/unsubscribe/{reader.pk}:" + (unsubscribe_path(received).split(":", 1)[1])
        )
        assert message["Subject"] == f"{settings.SITE_NAME} #{issue.number}: {issue.title}"
        html, text = received.part("text/html"), received.part("text/plain")
        assert issue.title in html and issue.title in text
        assert all(link.startswith(("http://", "https://")) for link in links(html))
        assert f"{settings.SITE_URL}{issue.get_absolute_url()}" in text
    assert server.to("pending@example.net") == []
    assert server.to("gone@example.net") == []
    assert states(issue) == {Send.SENT: 3}


def test_nothing_is_sent_before_the_publication_commits(smtp_settings):
    readers(2)
    issue = issue_with_links()
    with transaction.atomic():
        issue_publish(issue=issue, actor=EditorFactory())
        assert EmailSend.objects.filter(issue=issue).count() == 2
        transaction.set_rollback(True)
    assert smtp_settings.messages == []
    assert EmailSend.objects.count() == 0


def test_the_unsubscribe_link_of_the_received_mail_works_in_one_click(
    smtp_settings, django_capture_on_commit_callbacks
):
    [reader] = readers(1)
    publish(issue_with_links(), django_capture_on_commit_callbacks)
    [received] = smtp_settings.to(reader.email)
    path = unsubscribe_path(received)

    # What a mail client does for its own button (RFC 8058): a POST without any cookie or token.
    response = Client(enforce_csrf_checks=True).post(
        path, {"List-Unsubscribe": "One-Click"}, secure=True
    )
    assert response.status_code == 200
    reader.refresh_from_db()
    assert reader.state == Subscriber.State.UNSUBSCRIBED
    assert reader.reason == "one-click unsubscribe in the mail client"
    # And the footer link: the page says so and offers to come back.
    page = Client().get(path, secure=True).content.decode()
    assert "You are unsubscribed" in page
    assert "Subscribe again" in page


def test_a_correction_after_publication_sends_no_email(
    smtp_settings, django_capture_on_commit_callbacks
):
    readers(2)
    issue = publish(issue_with_links(), django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        issue_update(issue=issue, title="Corrected title")
        issue_correct(issue=issue)
        assert email_sends_create_for_issue(issue=issue) == 0
    assert len(issue_recipients(smtp_settings)) == 2
    assert EmailSend.objects.count() == 2


def test_running_again_sends_nothing_twice(smtp_settings, django_capture_on_commit_callbacks):
    readers(3)
    issue = publish(issue_with_links(), django_capture_on_commit_callbacks)
    assert email_sends_send(issue_id=issue.pk) == 0
    assert send_emails(issue_id=issue.pk) == 0
    assert send_emails(issue_id=999_999) == 0  # a missing issue: quietly nothing
    assert len(issue_recipients(smtp_settings)) == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_send_each_email_once(smtp_settings, settings):
    settings.EMAIL_BATCH_SIZE = 5
    readers(40)
    issue = issue_with_links()
    smtp_settings.stop()  # the run queued at publication finds no server: all 40 wait
    issue_publish(issue=issue, actor=EditorFactory())
    assert states(issue) == {Send.PENDING: 40}
    smtp_settings.start()
    time.sleep(0.25)  # their retry time
    errors = []

    def run():
        try:
            email_sends_send(issue_id=issue.pk)
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    recipients = issue_recipients(smtp_settings)
    assert len(recipients) == len(set(recipients)) == 40
    assert states(issue) == {Send.SENT: 40}


# --- the mail server refusing, or away ---------------------------------------------------------


def test_5xx_fails_that_address_for_good_and_4xx_is_tried_again(
    smtp_settings, django_capture_on_commit_callbacks
):
    server = smtp_settings
    good, unknown, full = readers(3)
    server.refuse[unknown.email] = (550, "5.1.1 No such user here")
    server.refuse[full.email] = (452, "4.2.2 Mailbox full, try later")
    issue = publish(issue_with_links(), django_capture_on_commit_callbacks)

    rows = {row.subscriber_id: row for row in EmailSend.objects.filter(issue=issue)}
    assert rows[good.pk].state == Send.SENT
    assert rows[unknown.pk].state == Send.FAILED
    assert "550 5.1.1 No such user here" in rows[unknown.pk].last_error
    assert rows[full.pk].state == Send.PENDING
    assert "Refused for now: The mail server refused the address (452" in rows[full.pk].last_error
    unknown.refresh_from_db()
    assert unknown.state == Subscriber.State.UNSUBSCRIBED
    assert unknown.reason.startswith("hard bounce: The mail server refused the address (550")

    del server.refuse[full.email]
    time.sleep(0.25)  # the retry time
    email_sends_send(issue_id=issue.pk)
    rows[full.pk].refresh_from_db()
    assert rows[full.pk].state == Send.SENT
    assert rows[full.pk].attempts == 2
    assert len(server.to(full.email)) == 1
    assert server.to(unknown.email) == []
    progress = email_progress(issue)
    assert (progress.sent, progress.failed, progress.total) == (2, 1, 3)
    assert "550 5.1.1" in progress.last_problem


def test_a_4xx_that_never_ends_fails_after_the_last_attempt(smtp_settings, settings):
    settings.EMAIL_MAX_ATTEMPTS = 2
    settings.EMAIL_RETRY_BACKOFF = 0
    [reader] = readers(1)
    smtp_settings.refuse[reader.email] = (451, "4.3.0 Try again later")
    issue = issue_with_links()
    issue_publish(issue=issue, actor=EditorFactory())
    email_sends_send(issue_id=issue.pk)
    email_sends_send(issue_id=issue.pk)
    row = EmailSend.objects.get()
    assert (row.state, row.attempts) == (Send.FAILED, 2)
    assert row.last_error.startswith("Gave up after 2 attempts. Last answer: The mail server")
    reader.refresh_from_db()
    assert reader.state == Subscriber.State.CONFIRMED  # a temporary refusal is no bounce


def test_a_refused_message_fails_without_touching_the_subscriber(smtp_settings):
    [reader] = readers(1)
    smtp_settings.refuse_data_next = 1  # 554 after DATA
    issue = issue_with_links()
    issue_publish(issue=issue, actor=EditorFactory())
    email_sends_send(issue_id=issue.pk)
    row = EmailSend.objects.get()
    assert row.state == Send.FAILED
    assert "refused the message (554" in row.last_error
    reader.refresh_from_db()
    assert reader.bounce_count == 0


def test_mail_server_down_loses_nothing_and_the_sweeper_sends_once_it_is_back(
    smtp_settings, django_capture_on_commit_callbacks
):
    server = smtp_settings
    readers(4)
    issue = issue_with_links()
    server.stop()
    issue_publish(issue=issue, actor=EditorFactory())
    email_sends_send(issue_id=issue.pk)

    assert states(issue) == {Send.PENDING: 4}
    problem = email_progress(issue).last_problem
    assert problem.startswith("Not sent yet: the mail server could not be reached (")
    assert "Trying again at" in problem

    server.start()
    time.sleep(0.25)
    with django_capture_on_commit_callbacks(execute=True):
        sweep_email()  # as beat does: the rows are idle, their retry time passed
    assert states(issue) == {Send.SENT: 4}
    recipients = issue_recipients(server)
    assert len(recipients) == len(set(recipients)) == 4


def test_retry_failed_sends_only_what_was_refused_to_who_still_subscribes(smtp_settings):
    server = smtp_settings
    first, second, third = readers(3)
    for reader in (first, second, third):
        server.refuse[reader.email] = (554, "5.7.1 Policy refusal")
    issue = issue_with_links()
    issue_publish(issue=issue, actor=EditorFactory())
    email_sends_send(issue_id=issue.pk)
    assert states(issue) == {Send.FAILED: 3}
    server.refuse.clear()
    subscriber_unsubscribe(subscriber=third, reason="unsubscribe link")
    EmailSend.objects.filter(subscriber=second).update(state=Send.UNCONFIRMED)

    assert email_sends_retry_failed(issue=issue) == 1
    email_sends_send(issue_id=issue.pk)
    assert server.recipients() == [first.email.lower()]


# --- unsubscribing while an issue is going out -------------------------------------------------


def test_an_address_that_unsubscribes_before_its_turn_is_not_sent_to(smtp_settings):
    first, second = readers(2)
    issue = issue_with_links()
    issue_publish(issue=issue, actor=EditorFactory())
    # Claimed by a run (its lease), then unsubscribed: the row is no longer pending.
    EmailSend.objects.update(lease_token="a-run", lease_expires_at=timezone.now() + timedelta(1))
    subscriber_unsubscribe(subscriber=second, reason="unsubscribe link")
    EmailSend.objects.update(lease_token="", lease_expires_at=None)  # the run died
    email_sends_send(issue_id=issue.pk)
    assert issue_recipients(smtp_settings) == [first.email.lower()]
    assert EmailSend.objects.get(subscriber=second).state == Send.SUPPRESSED
    assert email_progress(issue).suppressed == 1


# --- a dead worker -----------------------------------------------------------------------------


def test_a_row_left_handed_over_is_never_sent_again(smtp_settings):
    first, second = readers(2)
    issue = issue_with_links()
    issue_publish(issue=issue, actor=EditorFactory())
    # What a worker killed mid-message leaves: handed over, its lease run out.
    EmailSend.objects.filter(subscriber=first).update(
        state=Send.SENDING, lease_token="dead", lease_expires_at=timezone.now() - timedelta(1)
    )
    result = email_sends_sweep()
    email_sends_send(issue_id=issue.pk)

    assert result["unconfirmed"] == 1
    row = EmailSend.objects.get(subscriber=first)
    assert row.state == Send.UNCONFIRMED
    assert "may have arrived, so it is not sent again" in row.last_error
    assert issue_recipients(smtp_settings) == [second.email.lower()]
    assert email_sends_retry_failed(issue=issue) == 0


def test_the_sweeper_leaves_an_issue_alone_while_a_run_is_at_work(settings):
    settings.EMAIL_SWEEP_AFTER = 300
    readers(2)
    issue = issue_with_links()
    issue_publish(issue=issue, actor=EditorFactory())
    assert email_sends_sweep() == {"unconfirmed": 0, "issues": 0}


# --- pacing ------------------------------------------------------------------------------------


def test_sends_keep_to_the_configured_rate(smtp_settings, settings):
    settings.EMAIL_SEND_RATE = 20
    readers(6)
    issue = issue_with_links()
    issue_publish(issue=issue, actor=EditorFactory())
    started = time.monotonic()
    email_sends_send(issue_id=issue.pk)
    times = [m.at for m in smtp_settings.messages]
    assert len(times) == 6
    # The sixth slot opens 5 intervals after the first, which is no earlier than the start.
    assert times[-1] - started >= 5 / 20


# --- test emails and providers -----------------------------------------------------------------


def test_send_a_test_goes_to_one_address_marked_and_unsubscribes_nobody(smtp_settings):
    [reader] = readers(1)
    issue = issue_with_links()
    message_id = email_send_test(issue=issue, to="editor@example.org")
    [received] = smtp_settings.messages
    assert received.rcpt_tos == ["editor@example.org"]
    assert received.message["Subject"].startswith("[Test] ")
    assert received.message["Message-ID"] == message_id
    page = Client().get(unsubscribe_path(received), secure=True).content.decode()
    assert "This link came from a test email" in page
    reader.refresh_from_db()
    assert reader.state == Subscriber.State.CONFIRMED
    assert EmailSend.objects.count() == 0


def test_a_provider_through_anymail_gets_its_id_stored_and_no_tracking(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    readers(2)
    issue = issue_with_links()
    issue_publish(issue=issue, actor=EditorFactory())
    email_sends_send(issue_id=issue.pk)
    assert len(mail.outbox) == 2
    for message in mail.outbox:
        assert message.track_opens is False and message.track_clicks is False
        row = EmailSend.objects.get(pk=int(message.metadata["send_id"]))
        assert row.state == Send.SENT
        assert row.message_id == str(message.anymail_status.message_id)


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        ("recipients_550", REFUSED),
        ("recipients_450", LATER),
        ("disconnected", UNKNOWN),
        ("timeout", UNKNOWN),
        ("sender_550", UNREACHABLE),
        ("auth", UNREACHABLE),
        ("provider_401", UNREACHABLE),
        ("provider_500", LATER),
        ("provider_422", REFUSED),
        ("provider_refused", REFUSED),
    ],
)
def test_classify_says_what_an_answer_means(error, outcome):
    import smtplib

    from anymail.exceptions import AnymailRecipientsRefused, AnymailRequestsAPIError

    class Answer:
        def __init__(self, status):
            self.status_code = status
            self.reason = "reason"
            self.text = "text"

        def json(self):
            return {}

    errors = {
        "recipients_550": smtplib.SMTPRecipientsRefused({"a@x": (550, b"5.1.1 no")}),
        "recipients_450": smtplib.SMTPRecipientsRefused({"a@x": (450, b"4.2.0 later")}),
        "disconnected": smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
        "timeout": TimeoutError("timed out"),
        "sender_550": smtplib.SMTPSenderRefused(550, b"not you", "n@x"),
        "auth": smtplib.SMTPAuthenticationError(535, b"bad"),
        "provider_401": AnymailRequestsAPIError("x", response=Answer(401)),
        "provider_500": AnymailRequestsAPIError("x", response=Answer(500)),
        "provider_422": AnymailRequestsAPIError("x", response=Answer(422)),
        "provider_refused": AnymailRecipientsRefused("refused"),
    }
    assert classify(errors[error])[0] == outcome
