"""The email edition in the editors' admin: the list, CSV export and import, each issue's
progress, the previews and "send a test to me"."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from newsletter.models import EmailSend, Subscriber
from newsletter.services.email_delivery import email_sends_send
from newsletter.services.issues import issue_publish
from tests.factories import EditorFactory, IssueFactory, SubscriberFactory
from tests.newsletter.email_data import issue_with_links, readers

pytestmark = pytest.mark.django_db

State = Subscriber.State
LIST = reverse("admin:newsletter_subscriber_changelist")
SENDS = reverse("admin:newsletter_emailsend_changelist")


def html(response) -> str:
    return response.content.decode()


# --- the list ----------------------------------------------------------------------------------


def test_editors_see_state_source_dates_and_bounces(editor_client):
    SubscriberFactory(email="ada@example.org")
    SubscriberFactory(
        email="gone@example.org",
        state=State.UNSUBSCRIBED,
        reason="hard bounce: 550 5.1.1 no such user",
        bounce_count=1,
        source=Subscriber.Source.IMPORT,
    )
    page = html(editor_client.get(LIST))
    assert "ada@example.org" in page and "gone@example.org" in page
    assert "hard bounce: 550 5.1.1 no such user" in page
    assert "Imported by an editor" in page
    assert "Confirmed: <strong>1</strong>" in page
    assert "Unsubscribed: <strong>1</strong>" in page
    assert "Import a list" in page and "Export all as CSV" in page


def test_editors_cannot_add_or_confirm_an_address_by_hand(editor_client):
    reader = SubscriberFactory(state=State.PENDING)
    assert editor_client.get(reverse("admin:newsletter_subscriber_add")).status_code == 403
    change = reverse("admin:newsletter_subscriber_change", args=[reader.pk])
    assert editor_client.post(change, {"state": "confirmed"}).status_code == 403
    reader.refresh_from_db()
    assert reader.state == State.PENDING


@pytest.mark.parametrize("count", [1, 30])
def test_subscriber_list_queries_do_not_grow_with_rows(
    editor_client, django_assert_num_queries, count
):
    readers(count)
    editor_client.get(LIST)
    with django_assert_num_queries(QUERIES_FOR_SUBSCRIBER_LIST):
        response = editor_client.get(LIST)
    assert html(response).count('class="field-email"') == count


@pytest.mark.parametrize("count", [1, 30])
def test_send_list_queries_do_not_grow_with_rows(editor_client, django_assert_num_queries, count):
    issue = IssueFactory()
    for reader in readers(count):
        EmailSend.objects.create(issue=issue, subscriber=reader, last_error="450 later")
    editor_client.get(SENDS)
    with django_assert_num_queries(QUERIES_FOR_SEND_LIST):
        response = editor_client.get(SENDS)
    assert html(response).count("450 later") == count


# The user and session come from the cache; permissions, the counts by state, the rows, the date
# hierarchy: none per row.
QUERIES_FOR_SUBSCRIBER_LIST = 8
# Permissions, counts, the rows with issue and address, the issue filter (user and session cached).
QUERIES_FOR_SEND_LIST = 7


def test_unsubscribe_selected_records_the_editor(editor_client, editor):
    reader = SubscriberFactory()
    response = editor_client.post(
        LIST, {"action": "unsubscribe", "_selected_action": [reader.pk]}, follow=True
    )
    assert "1 address unsubscribed." in html(response)
    reader.refresh_from_db()
    assert reader.state == State.UNSUBSCRIBED
    assert reader.reason == f"removed by {editor.get_username()}"


# --- export and import -------------------------------------------------------------------------


def test_export_all_as_csv_keeps_spreadsheets_from_running_formulas(editor_client):
    SubscriberFactory(email="ada@example.org")
    SubscriberFactory(
        email="eve@example.org", state=State.UNSUBSCRIBED, last_bounce="=HYPERLINK(1)"
    )
    response = editor_client.get(reverse("admin:newsletter_subscriber_export"))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["email", "state", "source"]
    assert sorted(row[0] for row in rows[1:]) == ["ada@example.org", "eve@example.org"]
    assert "'=HYPERLINK(1)" in [row[8] for row in rows[1:]]


def test_import_a_pasted_list_sends_each_new_address_its_confirmation(
    editor_client, django_capture_on_commit_callbacks
):
    SubscriberFactory(email="here@example.org")
    url = reverse("admin:newsletter_subscriber_import")
    assert "New addresses get the confirmation email" in html(editor_client.get(url))

    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(
            url,
            {"addresses": "new@example.org\nhere@example.org\nnot-an-address\n"},
            follow=True,
        )
    page = html(response)
    assert "1 new address added; each gets the confirmation email. 1 already on the list" in page
    assert "Line 3" in page
    [message] = mail.outbox
    assert message.to == ["new@example.org"]
    assert "Confirm your subscription" in message.subject
    assert Subscriber.objects.get(key="new@example.org").source == Subscriber.Source.IMPORT


def test_import_a_csv_file(editor_client, django_capture_on_commit_callbacks):
    upload = SimpleUploadedFile(
        "list.csv", "\ufeffname,email\nAda,ada@example.org\n".encode(), "text/csv"
    )
    with django_capture_on_commit_callbacks(execute=True):
        editor_client.post(reverse("admin:newsletter_subscriber_import"), {"file": upload})
    assert Subscriber.objects.get().state == State.PENDING
    assert len(mail.outbox) == 1


def test_import_with_nothing_to_import_says_so(editor_client):
    response = editor_client.post(reverse("admin:newsletter_subscriber_import"), {})
    assert response.status_code == 200
    assert "Choose a file or paste some addresses." in html(response)


# --- an issue's email --------------------------------------------------------------------------


def test_a_published_issue_shows_its_email_progress(editor_client, smtp_settings):
    good, refused, later = readers(3)
    smtp_settings.refuse[refused.email] = (550, "5.1.1 No such user")
    smtp_settings.refuse[later.email] = (451, "4.4.1 Try again later")
    issue = issue_with_links()
    issue_publish(issue=issue, actor=EditorFactory())
    email_sends_send(issue_id=issue.pk)

    page = html(editor_client.get(reverse("admin:newsletter_issue_change", args=[issue.pk])))
    assert "Email · 1 of 3 sent" in page
    assert '<progress value="2" max="3"' in page
    assert "failed <strong>1</strong>" in page
    assert "waiting <strong>1</strong>" in page
    assert "Retry the failed emails" in page
    assert "Corrections after publication do not send the email again" in page
    failed = html(editor_client.get(f"{SENDS}?issue__id__exact={issue.pk}&state__exact=failed"))
    assert "550 5.1.1 No such user" in failed


def test_retry_failed_from_the_issue_page(
    editor_client, smtp_settings, django_capture_on_commit_callbacks
):
    [reader] = readers(1)
    smtp_settings.refuse[reader.email] = (554, "5.7.1 Blocked for now")
    issue = issue_with_links()
    issue_publish(issue=issue, actor=EditorFactory())
    email_sends_send(issue_id=issue.pk)
    smtp_settings.refuse.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(
            reverse("admin:newsletter_issue_email_retry", args=[issue.pk]), follow=True
        )
    assert "1 email queued again." in html(response)
    assert EmailSend.objects.get().state == EmailSend.State.SENT
    assert len(smtp_settings.to(reader.email)) == 1


def test_a_draft_shows_the_list_size_and_sends_a_test_to_the_editor(editor_client, editor):
    readers(2)
    issue = issue_with_links()
    page = html(editor_client.get(reverse("admin:newsletter_issue_change", args=[issue.pk])))
    assert "to the <strong>2</strong> confirmed subscribers" in page
    assert "Send a test to me" in page

    response = editor_client.post(
        reverse("admin:newsletter_issue_email_test", args=[issue.pk]), follow=True
    )
    assert f"A test email is on its way to {editor.email}." in html(response)
    [message] = mail.outbox
    assert message.to == [editor.email]
    assert message.subject.startswith("[Test] ")
    assert issue.title in message.alternatives[0][0]
    assert EmailSend.objects.count() == 0
    assert (
        editor_client.get(reverse("admin:newsletter_issue_email_test", args=[issue.pk])).status_code
        == 405
    )


def test_a_failed_test_email_says_why(editor_client, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9
    issue = issue_with_links()
    response = editor_client.post(
        reverse("admin:newsletter_issue_email_test", args=[issue.pk]), follow=True
    )
    assert "The test email could not be sent: ConnectionRefusedError" in html(response)


def test_preview_shows_the_email_beside_the_web_and_discord(editor_client):
    issue = issue_with_links()
    page = html(editor_client.get(reverse("admin:newsletter_issue_preview", args=[issue.pk])))
    frame = reverse("admin:newsletter_issue_email_html", args=[issue.pk])
    assert page.count(f'<iframe src="{frame}"') == 2
    assert 'width="600"' in page and 'width="390"' in page
    assert re.search(r'<textarea id="email-text"[^>]*>[^<]*Read it on the web: ', page)
    assert 'href="#email"' in page and 'href="#discord"' in page

    email = editor_client.get(frame)
    assert email.status_code == 200
    assert email["X-Frame-Options"] == "SAMEORIGIN"
    policy = email["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in policy
    assert "frame-ancestors 'self'" in policy
    assert "sandbox allow-popups" in policy
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]
    assert issue.title in html(email)
    text = editor_client.get(reverse("admin:newsletter_issue_email_text", args=[issue.pk]))
    assert text["Content-Type"] == "text/plain; charset=utf-8"
    assert "Read it on the web:" in html(text)


def test_members_cannot_reach_the_email_pages(member_client):
    issue = IssueFactory()
    for url in (
        LIST,
        reverse("admin:newsletter_subscriber_export"),
        reverse("admin:newsletter_issue_email_html", args=[issue.pk]),
    ):
        response = member_client.get(url)
        assert response.status_code in (302, 403)


def test_the_text_preview_escapes_what_the_issue_holds(editor_client):
    issue = issue_with_links(introduction="</textarea><script>alert(1)</script>")
    page = html(editor_client.get(reverse("admin:newsletter_issue_preview", args=[issue.pk])))
    assert "<script>alert(1)" not in page
    assert "&lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
