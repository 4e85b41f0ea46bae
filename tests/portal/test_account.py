"""A member's account: email preferences, download my data, delete my account."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from events import services as event_services
from events.models import RSVP
from newsletter.models import Section, Submission, Subscriber
from newsletter.services.compose import issue_item_add
from newsletter.services.decisions import submission_decide
from newsletter.services.issues import issue_create, issue_publish
from newsletter.services.subscribers import member_receives_issues, subscriber_set_for_member
from portal.models import User
from tests.factories import EventFactory, RSVPFactory, SubmissionFactory, UserFactory, VoteFactory

PASSWORD = "correct horse battery staple"
DELETE = reverse("portal:account-delete")
State = Submission.State


def test_profile_saves_email_preferences_and_the_going_switch(member_client, member):
    data = {"display_name": "Ada", "discord_handle": "", "timezone": "UTC", "credit_me": "on"}
    response = member_client.post(
        reverse("portal:profile"), {**data, "show_when_going": "on", "email_reminders": "on"}
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.show_when_going, member.email_reminders, member.email_decisions) == (
        True,
        True,
        False,
    )
    body = member_client.get(reverse("portal:profile")).content.decode()
    assert "Email me decisions on my submissions" in body
    assert "Email me each issue" in body
    assert reverse("portal:account-data") in body and DELETE in body


def test_my_data_holds_profile_submissions_votes_and_rsvps(client, editor):
    SubmissionFactory(author=editor, title="My own link", summary="Mine.")
    SubmissionFactory(title="Someone else's link")
    VoteFactory(editor=editor, submission=SubmissionFactory(url="https://example.org/voted"))
    RSVPFactory(user=editor, event=EventFactory(title="Reading night"))
    RSVPFactory(event=EventFactory(title="Not my night"))
    client.force_login(editor)

    response = client.get(reverse("portal:account-data"))

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="my-data.json"'
    data = json.loads(response.content)
    assert data["profile"]["email"] == editor.email
    assert [s["title"] for s in data["submissions"]] == ["My own link"]
    assert [v["submission"] for v in data["votes"]] == ["https://example.org/voted"]
    assert [(r["event"], r["answer"]) for r in data["rsvps"]] == [("Reading night", "going")]


def test_my_data_is_for_members_only(client, db):
    response = client.get(reverse("portal:account-data"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_delete_account_wrong_password_deletes_nothing(member_client, member):
    SubmissionFactory(author=member)
    response = member_client.post(DELETE, {"password": "not it"})
    assert response.status_code == 200
    assert "That is not your password; nothing was deleted." in response.content.decode()
    member.refresh_from_db()
    assert member.is_active and member.email
    assert member.submissions.get().state == State.PENDING


def test_delete_account_keeps_published_items_credited_to_a_former_member(
    client, editor, django_capture_on_commit_callbacks
):
    member = UserFactory(display_name="Ada Lovelace")
    published = SubmissionFactory(author=member, title="Kept in the archive")
    with django_capture_on_commit_callbacks(execute=True):
        submission_decide(submission=published, actor=editor, to_state=State.ACCEPTED)
        issue = issue_create(title="A month", actor=editor)
        issue_item_add(
            issue=issue,
            submission=published,
            section=Section.objects.get(slug="papers-and-posts"),
            actor=editor,
        )
        issue_publish(issue=issue, actor=editor)
    pending = SubmissionFactory(author=member)
    accepted = SubmissionFactory(author=member)
    submission_decide(submission=accepted, actor=editor, to_state=State.ACCEPTED)
    rejected = SubmissionFactory(author=member)
    submission_decide(submission=rejected, actor=editor, to_state=State.REJECTED, reason="other")
    subscriber_set_for_member(user=member, receive=True)
    assert "Ada Lovelace" in client.get(issue.get_absolute_url()).content.decode()
    client.force_login(member)
    elsewhere = Client()
    elsewhere.force_login(member)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(DELETE, {"password": PASSWORD}, follow=True)

    assert "Your account is deleted." in response.content.decode()
    member.refresh_from_db()
    assert not member.is_active and member.email == "" and not member.has_usable_password()
    states = {s.pk: s.state for s in Submission.objects.filter(author=member)}
    assert states == {
        published.pk: State.PUBLISHED,
        pending.pk: State.WITHDRAWN,
        accepted.pk: State.WITHDRAWN,
        rejected.pk: State.REJECTED,
    }
    assert Subscriber.objects.get().state == Subscriber.State.UNSUBSCRIBED
    assert not member_receives_issues(member)
    page = Client().get(issue.get_absolute_url()).content.decode()
    assert "Ada Lovelace" not in page and "a former member" in page
    # Signed out here and in the other session.
    for session in (client, elsewhere):
        assert session.get(reverse("portal:profile")).status_code == 302


def test_delete_account_gives_the_seat_to_the_next_member_waiting(member_client, member):
    event = EventFactory(capacity=1)
    event_services.rsvp_set(event=event, user=member, status=RSVP.Status.GOING)
    waiting = UserFactory()
    event_services.rsvp_set(event=event, user=waiting, status=RSVP.Status.GOING)

    member_client.post(DELETE, {"password": PASSWORD})

    assert list(event.rsvps.values_list("user_id", "status")) == [(waiting.pk, "going")]


def test_delete_account_page_says_what_happens(member_client):
    body = member_client.get(DELETE).content.decode()
    assert "credited to “a former member”" in body
    assert "Submissions not yet published are withdrawn." in body


@pytest.mark.django_db
def test_delete_account_without_a_password_asks_for_the_address(client):
    member = UserFactory()
    member.set_unusable_password()
    member.save()
    client.force_login(member)
    assert client.post(DELETE, {"password": "wrong@example.org"}).status_code == 200
    assert User.objects.get(pk=member.pk).is_active
    client.post(DELETE, {"password": member.email.upper()})
    assert not User.objects.get(pk=member.pk).is_active
