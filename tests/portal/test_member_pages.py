"""Reader pages for logged-in members: rendered once per role and time zone, shared between
members, with each member's own CSRF token put back; never another member's bits."""

import re

import pytest
from django.conf import settings
from django.middleware.csrf import _unmask_cipher_token
from django.test import Client

from events.services import rsvp_set
from portal.pagecache import reader_pages_changed
from tests.factories import UserFactory
from tests.newsletter.issue_data import published_event, published_issue

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]{64})"')


@pytest.fixture
def page_cache(settings):
    settings.READER_CACHE_SECONDS = 600
    reader_pages_changed("archive", "events")


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def masked(page: str) -> str:
    return TOKEN.sub('name="csrfmiddlewaretoken" value="TOKEN"', page)


def reader_paths() -> list[str]:
    issue = published_issue(title="Sparse attention month", items=3)
    event = published_event(title="Reading group on pruning")
    assert event.get_absolute_url()
    return ["/", "/archive/", issue.get_absolute_url(), "/archive/search/?q=sparse", "/events/"]


def test_two_members_interleaved_each_see_only_their_own_page(settings):
    paths = reader_paths()
    ada = UserFactory(timezone="Europe/Paris", display_name="Ada")
    bob = UserFactory(timezone="Europe/Paris", display_name="Bob")
    kai = UserFactory(timezone="Asia/Kolkata", display_name="Kai")
    clients = {user: logged_in(user) for user in (ada, bob, kai)}
    settings.READER_CACHE_SECONDS = 0
    fresh = {(u, p): masked(c.get(p).content.decode()) for u, c in clients.items() for p in paths}
    settings.READER_CACHE_SECONDS = 600
    reader_pages_changed("archive", "events")

    states = {}
    for _round in range(2):
        for path in paths:
            for user in (ada, bob, kai):
                response = clients[user].get(path)
                page = response.content.decode()
                states[user, path, _round] = response["X-Reader-Cache"]
                assert masked(page) == fresh[user, path], (user, path)
                # The token on the page is the member's own: it unmasks to their secret.
                secret = clients[user].cookies["csrftoken"].value
                assert all(_unmask_cipher_token(t) == secret for t in TOKEN.findall(page))
                assert TOKEN.search(page)
                assert "Cache-Control" in response and "private" in response["Cache-Control"]

    for path in paths:
        assert states[ada, path, 0] == "miss"
        assert states[bob, path, 0] == "hit"  # Ada's page, shared, with Bob's token
        assert states[kai, path, 0] == "miss"  # another zone: another page
        assert {states[u, path, 1] for u in (ada, bob, kai)} == {"hit"}


def test_a_cached_members_page_costs_no_query(page_cache, django_assert_num_queries):
    paths = reader_paths()
    client = logged_in(UserFactory())
    for path in paths:
        client.get(path)

    for path in paths:
        with django_assert_num_queries(0):
            assert client.get(path)["X-Reader-Cache"] == "hit"


def test_the_token_from_a_cached_page_is_accepted():
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory())
    reader_paths()
    client.get("/archive/")
    page = client.get("/archive/").content.decode()

    response = client.post("/accounts/logout/", {"csrfmiddlewaretoken": TOKEN.search(page)[1]})

    assert response.status_code == 302
    assert "Log out" not in client.get("/archive/").content.decode()


def test_editors_and_members_do_not_share_a_page(page_cache, editor, member):
    reader_paths()
    editors_page = logged_in(editor).get("/archive/").content.decode()
    members_page = logged_in(member).get("/archive/").content.decode()

    assert "Editors' desk" in editors_page
    assert "Editors' desk" not in members_page


def test_a_members_page_is_retired_when_the_archive_changes(
    page_cache, django_capture_on_commit_callbacks
):
    reader_paths()
    client = logged_in(UserFactory())
    client.get("/archive/")
    assert client.get("/archive/")["X-Reader-Cache"] == "hit"

    with django_capture_on_commit_callbacks(execute=True):
        published_issue(title="Quantisation month")

    response = client.get("/archive/")
    assert response["X-Reader-Cache"] == "miss"
    assert "Quantisation month" in response.content.decode()


def test_an_event_page_shows_each_member_their_own_answer(page_cache):
    event = published_event(title="Reading group on pruning")
    ada, bob = UserFactory(), UserFactory()
    rsvp_set(event=event, user=ada, status="going")
    ada_client, bob_client = logged_in(ada), logged_in(bob)

    for _ in range(2):
        ada_page = ada_client.get(event.get_absolute_url())
        bob_page = bob_client.get(event.get_absolute_url())
        assert "Your answer: <strong>Going</strong>" in ada_page.content.decode()
        assert "Your answer:" not in bob_page.content.decode()


def test_a_member_with_a_message_waiting_gets_a_fresh_page(page_cache):
    reader_paths()
    client = logged_in(UserFactory())
    client.get("/archive/")
    session = client.session
    session["_messages"] = '[["__json_message",0,25,"Your profile is saved."]]'
    session.save()
    # A changed session is saved under a new key (portal/sessions.py), as a response would say.
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key

    response = client.get("/archive/")

    assert "X-Reader-Cache" not in response
    assert "Log out" in response.content.decode()  # still the member, on the new key
