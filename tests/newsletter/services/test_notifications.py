"""The submitter's emails: accepted, rejected (with the reason), published; each sent once."""

import email
from email.header import decode_header, make_header
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.urls import reverse

from newsletter.models import Activity, Notification, Section, Submission
from newsletter.services.compose import issue_item_add
from newsletter.services.decisions import submission_decide
from newsletter.services.issues import issue_create, issue_publish
from newsletter.tasks.submissions import send_notification
from tests.factories import EditorFactory, SubmissionFactory, UserFactory
from tests.workers import wait_until

State = Submission.State


def emailed_log(submission):
    return list(
        submission.activity.filter(action=Activity.Action.EMAILED).values_list("detail", flat=True)
    )


@pytest.fixture
def decide(editor, django_capture_on_commit_callbacks):
    """Decide as an editor and run what is queued after commit, as a real request would."""

    def decide_(submission, to_state, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return submission_decide(
                submission=submission, actor=editor, to_state=to_state, **kwargs
            )

    return decide_


@pytest.mark.django_db
def test_accepted_email_is_sent_once_even_if_the_task_runs_twice(decide):
    submission = decide(SubmissionFactory(title="Sparse attention"), State.ACCEPTED)
    notification = Notification.objects.get(submission=submission)
    send_notification(notification_id=notification.pk)
    send_notification.delay(notification_id=notification.pk)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [submission.author.email]
    assert message.subject == "Accepted: Sparse attention"
    assert f"/my/submissions/{submission.pk}/" in message.body
    assert emailed_log(submission) == ["Emailed the submitter: accepted"]


@pytest.mark.django_db
def test_rejected_email_carries_the_reason_and_the_note(decide):
    submission = decide(
        SubmissionFactory(title="Yet another LLM list"),
        State.REJECTED,
        reason=Submission.RejectReason.ALREADY_COVERED,
        note="We featured this list in issue #3.",
    )
    [message] = mail.outbox
    assert message.subject == "Not this time: Yet another LLM list"
    assert "Reason: Already covered in an earlier issue" in message.body
    assert "We featured this list in issue #3." in message.body
    assert "edit the submission and send it back for review" in message.body
    assert f"/my/submissions/{submission.pk}/" in message.body
    assert emailed_log(submission) == ["Emailed the submitter: rejected"]


@pytest.mark.django_db
def test_published_email_links_to_the_item_in_its_issue(
    decide, editor, django_capture_on_commit_callbacks
):
    submission = decide(SubmissionFactory(kind="paper", title="GPTQ"), State.ACCEPTED)
    issue = issue_create(title="Quantization month", actor=editor)
    item = issue_item_add(
        issue=issue,
        submission=submission,
        section=Section.objects.get(slug="papers-and-posts"),
        actor=editor,
    )
    with django_capture_on_commit_callbacks(execute=True):
        issue_publish(issue=issue, actor=editor)
    issue.refresh_from_db()
    published = [m for m in mail.outbox if m.subject.startswith("Published")]
    assert [m.subject for m in published] == [f"Published in issue #{issue.number}: GPTQ"]
    assert f"{issue.get_absolute_url()}#{item.anchor}" in published[0].body
    # Running the task again sends nothing more.
    send_notification(notification_id=Notification.objects.get(kind="published").pk)
    assert len(mail.outbox) == 2


@pytest.mark.django_db
def test_task_returns_quietly_when_the_notification_is_gone():
    assert send_notification(notification_id=987654) is None
    assert mail.outbox == []


@pytest.mark.django_db
def test_reject_reopened_before_the_email_left_is_not_emailed(
    editor, django_capture_on_commit_callbacks
):
    submission = SubmissionFactory()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        submission_decide(
            submission=submission, actor=editor, to_state=State.REJECTED, reason="detail"
        )
    submission_decide(submission=submission, actor=editor, to_state=State.PENDING)
    for task in queued:
        task()
    assert mail.outbox == []
    assert emailed_log(submission) == [
        "Not emailed (rejected): the submission is waiting for review now"
    ]
    # Rejected again later: this time the email is true, and it goes out.
    with django_capture_on_commit_callbacks(execute=True):
        submission_decide(
            submission=submission, actor=editor, to_state=State.REJECTED, reason="off-topic"
        )
    assert [m.subject for m in mail.outbox] == [f"Not this time: {submission.title}"]


@pytest.mark.django_db
def test_email_that_failed_to_send_goes_out_once_on_the_next_run(decide, settings):
    # The mail server is down: nothing is marked sent, so the next run still sends.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    submission = decide(SubmissionFactory(), State.ACCEPTED)
    assert submission.state == State.ACCEPTED  # the decision stands
    notification = Notification.objects.get()
    assert notification.sent_at is None
    with pytest.raises(OSError):
        send_notification(notification_id=notification.pk)
    notification.refresh_from_db()
    assert notification.sent_at is None
    assert emailed_log(submission) == []
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    send_notification(notification_id=notification.pk)
    send_notification(notification_id=notification.pk)
    assert len(mail.outbox) == 1


# --- Through a real worker on Redis -------------------------------------------------------------


@pytest.fixture
def worker_mailbox(tmp_path, monkeypatch):
    """Where the worker started next writes its emails (see tests/settings.py)."""
    folder = tmp_path / "mail"
    folder.mkdir()
    monkeypatch.setenv("PORTAL_TEST_EMAIL_DIR", str(folder))
    return folder


def read_mailbox(folder: Path) -> list[email.message.Message]:
    messages = []
    for path in sorted(folder.glob("*.log")):
        for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if chunk.strip():
                messages.append(email.message_from_bytes(chunk.strip()))
    return messages


def subject_of(message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def body_of(message) -> str:
    return message.get_payload(decode=True).decode()


def tasks_done(worker, name: str) -> int:
    return sum(f"Task {name}[" in line and "succeeded" in line for line in worker.log)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_emails_each_decision_once_even_when_queued_again(
    worker_mailbox, celery_worker, client
):
    # A browser test earlier in the run can leave the migration's Editors group unrestored.
    Group.objects.get_or_create(name="Editors")
    editor = EditorFactory()
    rejected = SubmissionFactory(title="A list of lists")
    accepted = SubmissionFactory(title="Sparse attention")
    client.force_login(editor)
    # An editor decides in the admin; the emails are queued after commit, through Redis.
    for submission, data in (
        (rejected, {"decision": "reject", "reason": "covered", "note": "See issue #3."}),
        (accepted, {"decision": "accept"}),
    ):
        response = client.post(
            reverse("admin:newsletter_submission_decide", args=[submission.pk]), data
        )
        assert response.status_code == 302
    wait_until(lambda: tasks_done(celery_worker, "newsletter.send_notification") == 2)
    # A duplicate delivery of both tasks, twice, at once (the worker runs two at a time).
    for notification in Notification.objects.all():
        send_notification.delay(notification_id=notification.pk)
        send_notification.delay(notification_id=notification.pk)
    wait_until(lambda: tasks_done(celery_worker, "newsletter.send_notification") == 6)

    messages = read_mailbox(worker_mailbox)
    assert sorted(subject_of(m) for m in messages) == [
        "Accepted: Sparse attention",
        "Not this time: A list of lists",
    ]
    assert {m["To"] for m in messages} == {rejected.author.email, accepted.author.email}
    rejection = next(m for m in messages if subject_of(m).startswith("Not this time"))
    assert "Reason: Already covered in an earlier issue" in body_of(rejection)
    assert "See issue #3." in body_of(rejection)
    assert emailed_log(rejected) == ["Emailed the submitter: rejected"]
    assert emailed_log(accepted) == ["Emailed the submitter: accepted"]


@pytest.mark.django_db
def test_member_who_turned_decision_emails_off_is_not_emailed(decide):
    author = UserFactory(email_decisions=False)
    submission = decide(SubmissionFactory(author=author), State.ACCEPTED)
    assert mail.outbox == []
    assert emailed_log(submission) == ["Not emailed: the submitter turned decision emails off"]
    assert Notification.objects.get(submission=submission).sent_at is not None
