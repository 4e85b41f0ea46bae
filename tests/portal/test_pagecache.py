"""Whole reader pages cached for anonymous visitors, and retired as soon as what they show changes."""

import time

import pytest
from django.core.cache import cache

from events.services import rsvp_set
from newsletter.services.issues import issue_update
from portal import pagecache
from portal.pagecache import reader_pages_changed
from tests.newsletter.issue_data import published_event, published_issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def page_cache(settings):
    """The page cache on (tests run with it off), without pages from earlier tests."""
    settings.READER_CACHE_SECONDS = 600
    reader_pages_changed("archive", "events")


def test_reader_page_second_visit_served_from_cache(client, page_cache):
    published_issue(title="Sparse attention month")

    first = client.get("/archive/")
    second = client.get("/archive/")

    assert first["X-Reader-Cache"] == "miss"
    assert second["X-Reader-Cache"] == "hit"
    assert second.status_code == 200
    assert second.content == first.content
    assert "Sparse attention month" in second.content.decode()


def test_reader_page_cached_page_keeps_security_headers(client, page_cache):
    published_issue()
    client.get("/archive/")

    hit = client.get("/archive/")

    assert hit["X-Reader-Cache"] == "hit"
    assert hit["X-Frame-Options"] == "DENY"
    assert "unsafe-inline" not in hit["Content-Security-Policy"]
    assert "Cookie" in hit["Vary"]
    assert hit["Content-Type"] == "text/html; charset=utf-8"
    assert not hit.cookies


def test_reader_page_publication_shows_at_once(
    client, page_cache, django_capture_on_commit_callbacks
):
    published_issue(title="The first issue")
    client.get("/archive/")
    assert client.get("/archive/")["X-Reader-Cache"] == "hit"

    with django_capture_on_commit_callbacks(execute=True):
        published_issue(title="The second issue")
    response = client.get("/archive/")

    assert response["X-Reader-Cache"] == "miss"
    assert "The second issue" in response.content.decode()


def test_reader_page_correction_shows_at_once(
    client, page_cache, django_capture_on_commit_callbacks
):
    issue = published_issue(introduction="An introduction with a typo.")
    url = issue.get_absolute_url()
    client.get(url)
    assert client.get(url)["X-Reader-Cache"] == "hit"

    with django_capture_on_commit_callbacks(execute=True):
        issue_update(issue=issue, introduction="The corrected introduction.")
    page = client.get(url).content.decode()

    assert "The corrected introduction." in page
    assert "typo" not in page


def test_reader_page_feed_shows_correction_at_once(
    client, page_cache, django_capture_on_commit_callbacks
):
    issue = published_issue(closing="Old closing words.")
    client.get("/archive/feed/rss/")

    with django_capture_on_commit_callbacks(execute=True):
        issue_update(issue=issue, closing="New closing words.")
    feed = client.get("/archive/feed/rss/")

    assert feed["X-Reader-Cache"] == "miss"
    assert "New closing words." in feed.content.decode()


def test_reader_page_answer_shows_on_event_page(
    client, page_cache, member, django_capture_on_commit_callbacks
):
    event = published_event(capacity=10)
    url = event.get_absolute_url()
    assert "0 going of 10" in client.get(url).content.decode()
    assert client.get(url)["X-Reader-Cache"] == "hit"

    with django_capture_on_commit_callbacks(execute=True):
        rsvp_set(event=event, user=member, status="going")

    assert "1 going of 10" in client.get(url).content.decode()


def test_reader_page_change_in_another_process_seen_quickly(client, page_cache):
    published_issue()
    client.get("/archive/")
    assert client.get("/archive/")["X-Reader-Cache"] == "hit"

    # What reader_pages_changed does in another gunicorn process: this one is not told.
    cache.incr(pagecache._generation_key("archive"))
    time.sleep(pagecache.GENERATION_CHECK_SECONDS + 0.05)

    assert client.get("/archive/")["X-Reader-Cache"] == "miss"


def test_reader_page_members_get_their_own_page(client, page_cache, member):
    published_issue()
    client.force_login(member)

    members_page = client.get("/archive/")
    client.logout()
    anonymous = client.get("/archive/")

    assert members_page["X-Reader-Cache"] == "miss"
    assert "Log out" in members_page.content.decode()
    assert anonymous["X-Reader-Cache"] == "miss"
    assert "Log out" not in anonymous.content.decode()


def test_reader_page_unknown_query_parameters_not_cached(client, page_cache):
    published_issue()

    client.get("/archive/?utm_source=newsletter")
    again = client.get("/archive/?utm_source=newsletter")
    paged = client.get("/archive/?page=1")

    assert "X-Reader-Cache" not in again
    assert again.status_code == 200
    assert paged["X-Reader-Cache"] == "miss"


@pytest.mark.parametrize("query", ["page=01", "page=1.0", "page=+1", "page=1&page=1"])
def test_reader_page_other_spellings_of_a_page_are_not_stored(client, page_cache, query):
    published_issue()

    client.get(f"/archive/?{query}")
    again = client.get(f"/archive/?{query}")

    assert again.status_code == 200
    assert "X-Reader-Cache" not in again


def test_reader_page_errors_not_cached(client, page_cache):
    client.get("/archive/999/no-such-issue/")

    again = client.get("/archive/999/no-such-issue/")

    assert again.status_code == 404
    assert again.get("X-Reader-Cache") != "hit"


def test_reader_page_off_when_seconds_zero(client, settings):
    settings.READER_CACHE_SECONDS = 0
    published_issue()

    client.get("/archive/")
    response = client.get("/archive/")

    assert response.status_code == 200
    assert "X-Reader-Cache" not in response


def test_reader_page_renders_when_cache_unreachable(client, settings, page_cache):
    # Django's own Redis backend (it raises on errors) pointed at a port nobody listens on.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    published_issue(title="Still readable")

    response = client.get("/archive/")

    assert response.status_code == 200
    assert "Still readable" in response.content.decode()


def test_reader_pages_changed_refuses_unknown_scope():
    with pytest.raises(ValueError, match="Unknown reader page scope"):
        reader_pages_changed("everything")
