"""Logging in: one login with one set of limits, that strangers cannot turn against a member,
and emails that name the site and link with its own scheme."""

import re

import pytest
from django.contrib.sites.models import Site
from django.core import mail
from django.core.management import call_command

from portal.settings import ACCOUNT_RATE_LIMITS
from tests.factories import UserFactory

PASSWORD = "correct horse battery staple"


def login(client, email, password, address):
    return client.post(
        "/accounts/login/", {"login": email, "password": password}, REMOTE_ADDR=address
    )


@pytest.mark.django_db
def test_wrong_passwords_from_elsewhere_do_not_lock_the_owner_out(client, settings):
    settings.ACCOUNT_RATE_LIMITS = ACCOUNT_RATE_LIMITS
    member = UserFactory()
    attacker = [login(client, member.email, "guess", "203.0.113.9") for _ in range(7)]
    assert "Too many failed login attempts" in attacker[-1].content.decode()

    response = login(client, member.email, PASSWORD, "198.51.100.4")
    assert response.status_code == 302  # the owner, from their own address, gets in


@pytest.mark.django_db
def test_wrong_passwords_from_one_address_are_still_limited_per_account(client, settings):
    settings.ACCOUNT_RATE_LIMITS = ACCOUNT_RATE_LIMITS
    member = UserFactory()
    pages = [login(client, member.email, "guess", "203.0.113.9") for _ in range(6)]
    assert "Too many failed login attempts" in pages[5].content.decode()
    # Even the right password waits now, from that address.
    refused = login(client, member.email, PASSWORD, "203.0.113.9")
    assert refused.status_code == 200


@pytest.mark.django_db
def test_the_site_row_follows_site_name_and_url(settings):
    settings.SITE_URL = "http://127.0.0.1:8123"
    settings.SITE_NAME = "Efficient ML"
    call_command("migrate", verbosity=0)
    site = Site.objects.get(pk=settings.SITE_ID)
    assert (site.domain, site.name) == ("127.0.0.1:8123", "Efficient ML")


@pytest.mark.django_db
def test_signup_email_names_the_site_and_links_with_its_scheme(client, settings):
    settings.SITE_URL = "http://127.0.0.1:8000"
    settings.SITE_NAME = "Efficient ML"
    settings.ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http"
    call_command("migrate", verbosity=0)
    client.post(
        "/accounts/signup/",
        {"email": "new@example.org", "password1": PASSWORD, "password2": PASSWORD},
    )
    (email,) = mail.outbox
    assert "example.com" not in email.body
    assert "Efficient ML" in email.body or "Efficient ML" in email.subject
    # Links use the site's scheme (allauth takes the host from the request, the site's own).
    links = re.findall(r"https?://\S+", email.body)
    assert links and all(link.startswith("http://") for link in links)


# --- One login: the admin's goes through allauth's ------------------------------------------------


@pytest.mark.django_db
def test_the_admin_login_sends_to_the_site_login_and_back(client):
    response = client.get("/admin/login/?next=/admin/newsletter/submission/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=%2Fadmin%2Fnewsletter%2Fsubmission%2F"
    assert client.get("/admin/")["Location"].startswith("/admin/login/")


@pytest.mark.django_db
def test_passwords_posted_to_the_admin_login_are_never_checked(client, settings):
    """The outside review's finding: 25 wrong passwords on /admin/login/ all got a 200 and the
    right one then logged in. The admin's form is gone; its POSTs log nobody in."""
    settings.ACCOUNT_RATE_LIMITS = ACCOUNT_RATE_LIMITS
    editor = UserFactory(is_staff=True)
    for password in ["guess"] * 25 + [PASSWORD]:
        response = client.post("/admin/login/", {"username": editor.username, "password": password})
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    assert client.get("/admin/").status_code == 302  # still not logged in


@pytest.mark.django_db
def test_editors_reach_the_desk_through_the_site_login_with_its_limits(client, settings):
    settings.ACCOUNT_RATE_LIMITS = ACCOUNT_RATE_LIMITS
    editor = UserFactory(is_staff=True)
    for _ in range(5):
        login(client, editor.email, "guess", "203.0.113.9")
    assert login(client, editor.email, PASSWORD, "203.0.113.9").status_code == 200  # limited
    response = client.post(
        "/accounts/login/?next=/admin/",
        {"login": editor.email, "password": PASSWORD},
        REMOTE_ADDR="198.51.100.4",
    )
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_a_member_without_staff_rights_is_told_not_looped(client):
    client.force_login(UserFactory())
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 403
    assert "This page is not for you" in response.content.decode()
