"""The logged-in member from the cache (portal/auth.py): no query on a request that needs
none, and every change to the member (password, deactivation, groups, zone) seen at once."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from tests.factories import EditorFactory, UserFactory

pytestmark = pytest.mark.django_db

MY_SUBMISSIONS = reverse("portal:submission-list")


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_healthz_with_a_members_session_makes_no_query(django_assert_num_queries):
    client = logged_in(UserFactory(timezone="Asia/Kolkata"))

    with django_assert_num_queries(0):
        response = client.get("/healthz")

    assert response.status_code == 200


def test_a_members_page_reads_the_member_from_the_cache(django_assert_num_queries):
    member = UserFactory()
    client = logged_in(member)
    client.get("/")  # loads and caches the member
    # The page's own: the latest issue, the upcoming events, the email subscribers' count.
    with django_assert_num_queries(3):
        page = client.get("/")

    assert page.status_code == 200
    assert reverse("portal:profile") in page.content.decode()


def test_a_password_change_logs_out_the_members_other_sessions():
    member = UserFactory()
    laptop, phone = logged_in(member), logged_in(member)
    assert phone.get(MY_SUBMISSIONS).status_code == 200  # the member is now cached

    member.set_password("a new and better passphrase")
    member.save()

    assert phone.get(MY_SUBMISSIONS).status_code == 302
    assert laptop.get(MY_SUBMISSIONS).status_code == 302
    assert logged_in(member).get(MY_SUBMISSIONS).status_code == 200


def test_a_deactivated_member_is_logged_out_at_once():
    member = UserFactory()
    client = logged_in(member)
    assert client.get(MY_SUBMISSIONS).status_code == 200

    member.is_active = False
    member.save(update_fields=["is_active"])

    assert client.get(MY_SUBMISSIONS).status_code == 302


def test_leaving_the_editors_group_shows_at_once_either_way_round():
    editor = EditorFactory()
    client = logged_in(editor)
    assert "Editors' desk" in client.get("/").content.decode()

    Group.objects.get(name="Editors").user_set.remove(editor)
    assert "Editors' desk" not in client.get("/").content.decode()

    editor.groups.add(Group.objects.get(name="Editors"))
    assert "Editors' desk" in client.get("/").content.decode()

    editor.groups.clear()
    assert "Editors' desk" not in client.get("/").content.decode()


def test_a_zone_changed_on_the_profile_page_applies_from_the_next_page():
    member = UserFactory(timezone="UTC")
    client = logged_in(member)
    data = {"display_name": "Ada", "discord_handle": "", "timezone": "Asia/Kolkata"}

    client.post(reverse("portal:profile"), {**data, "credit_me": "on"})

    assert client.session["portal_timezone"] == "Asia/Kolkata"
    page = client.get(reverse("portal:profile")).content.decode()
    assert 'value="Asia/Kolkata"' in page or "Asia/Kolkata" in page


def test_a_zone_changed_elsewhere_reaches_the_session_when_the_member_is_next_loaded():
    member = UserFactory(timezone="UTC")
    client = logged_in(member)
    assert client.session["portal_timezone"] == "UTC"

    member.timezone = "America/Los_Angeles"
    member.save()
    client.get(MY_SUBMISSIONS)

    assert client.session["portal_timezone"] == "America/Los_Angeles"
