"""The profile page, logging in, and what a profile change does to published credits."""

import pytest
from django.urls import reverse

from tests.factories import UserFactory

SUBMIT = reverse("portal:submission-create")


@pytest.mark.django_db
def test_profile_saves_display_name_and_refuses_unknown_timezone(member_client, member):
    url = reverse("portal:profile")
    data = {
        "display_name": "Ada",
        "discord_handle": "@ada_l",
        "timezone": "Asia/Kolkata",
        "credit_me": "on",
    }
    assert member_client.post(url, data).status_code == 302
    member.refresh_from_db()
    assert (member.display_name, member.discord_handle, member.timezone) == (
        "Ada",
        "ada_l",
        "Asia/Kolkata",
    )
    response = member_client.post(url, {**data, "timezone": "Mars/Olympus"})
    assert response.status_code == 200
    member.refresh_from_db()
    assert member.timezone == "Asia/Kolkata"


@pytest.mark.django_db
def test_social_login_buttons_only_when_configured(client):
    page = client.get(reverse("account_login")).content.decode()
    assert "Log in with Discord" not in page
    assert "Log in with GitHub" not in page


@pytest.mark.django_db
def test_unverified_member_cannot_log_in(client):
    user = UserFactory(verified=False)
    response = client.post(
        reverse("account_login"), {"login": user.email, "password": "correct horse battery staple"}
    )
    assert response.status_code == 302
    assert "confirm-email" in response["Location"]
    assert client.get(SUBMIT).status_code == 302


@pytest.mark.django_db
def test_profile_name_change_updates_published_credit(
    member_client, member, editor, django_capture_on_commit_callbacks
):
    from newsletter.services.compose import issue_item_add
    from newsletter.services.issues import issue_create, issue_publish
    from newsletter.services.submissions import submission_create, submission_transition

    with django_capture_on_commit_callbacks(execute=True):
        submission = submission_create(
            author=member,
            url="https://example.org/credited",
            kind="blog",
            title="Credited",
            summary="S",
        )
        submission_transition(submission=submission, to_state="accepted", actor=editor)
        issue = issue_create(title="Credits", actor=editor)
        issue_item_add(issue=issue, submission=submission, actor=editor)
        issue = issue_publish(issue=issue, actor=editor)
    assert member.public_name in member_client.get(issue.get_absolute_url()).content.decode()
    data = {"display_name": "Countess Lovelace", "discord_handle": "", "timezone": "UTC"}
    with django_capture_on_commit_callbacks(execute=True):
        member_client.post(reverse("portal:profile"), {**data, "credit_me": "on"})
    assert "Countess Lovelace" in member_client.get(issue.get_absolute_url()).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        member_client.post(reverse("portal:profile"), data)  # credit_me unticked
    assert "Countess Lovelace" not in member_client.get(issue.get_absolute_url()).content.decode()


@pytest.mark.django_db(transaction=True)  # on_commit runs inside the request, as in production
def test_profile_is_saved_when_the_broker_is_down(member_client, member):
    from portal.celery import app as celery_app
    from tests.workers import reset_broker

    celery_app.conf.task_always_eager = False
    reset_broker("redis://127.0.0.1:9/0")  # nothing listens there
    data = {"display_name": "Countess Lovelace", "discord_handle": "", "timezone": "UTC"}

    response = member_client.post(reverse("portal:profile"), {**data, "credit_me": "on"})

    assert response.status_code == 302
    member.refresh_from_db()
    assert member.display_name == "Countess Lovelace"


# --- Names that pretend: invisible format characters and role claims ---------------------------


@pytest.mark.django_db
def test_profile_strips_bidirectional_and_invisible_characters_from_the_name(member_client, member):
    data = {
        "display_name": "\u202eadA\u202c Love\u200blace\u2066",
        "discord_handle": "",
        "timezone": "UTC",
        "credit_me": "on",
    }
    assert member_client.post(reverse("portal:profile"), data).status_code == 302
    member.refresh_from_db()
    assert member.display_name == "adA Lovelace"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", ["Ada (editor)", "Ada [Admin]", "Grace - moderator", "Alan (staff)", "Team: official"]
)
def test_profile_refuses_a_name_that_claims_a_role(member_client, member, name):
    data = {"display_name": name, "discord_handle": "", "timezone": "UTC", "credit_me": "on"}
    response = member_client.post(reverse("portal:profile"), data)
    assert response.status_code == 200
    assert "cannot claim a role" in response.content.decode()
    member.refresh_from_db()
    assert member.display_name != name


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["Ada Editorial", "Mod Squad fan", "Admiral Grace"])
def test_profile_keeps_ordinary_names_that_contain_role_words(member_client, member, name):
    data = {"display_name": name, "discord_handle": "", "timezone": "UTC", "credit_me": "on"}
    assert member_client.post(reverse("portal:profile"), data).status_code == 302
    member.refresh_from_db()
    assert member.display_name == name
