"""RSS and Atom feeds, the sitemap and robots.txt."""

import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import feedparser
import pytest
from django.contrib.staticfiles import finders
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from newsletter.models import Kind
from newsletter.services.compose import issue_item_add
from newsletter.services.issues import issue_publish, issue_schedule
from tests.newsletter.issue_data import accepted, draft_issue, published_issue

pytestmark = pytest.mark.django_db

ISSUE_FEEDS = ["/archive/feed/rss/", "/archive/feed/atom/"]
KIND_FEEDS = ["/archive/papers/feed/", "/archive/papers/feed/atom/"]


def parse(client, url: str):
    response = client.get(url)
    assert response.status_code == 200
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    return response, feed


def unpublished():
    draft = draft_issue(title="Secret draft")
    issue_item_add(issue=draft, submission=accepted(kind=Kind.PAPER, title="Draft-only paper"))
    scheduled = draft_issue(title="Secret scheduled")
    issue_item_add(issue=scheduled, submission=accepted(kind=Kind.PAPER, title="Scheduled paper"))
    issue_schedule(issue=scheduled, publish_at=timezone.now() + timedelta(days=1))


@pytest.mark.parametrize("url", ISSUE_FEEDS)
def test_issue_feeds_are_valid_and_carry_full_issues(client, url):
    issue = published_issue(items=2, title="Feed me")
    unpublished()

    response, feed = parse(client, url)

    assert feed.version in ("rss20", "atom10")
    assert [entry.title for entry in feed.entries] == [f"#{issue.number} Feed me"]
    entry = feed.entries[0]
    assert entry.link == f"http://127.0.0.1:8000{issue.get_absolute_url()}"
    content = entry.get("content", [{"value": entry.get("summary", "")}])[0]["value"]
    for item in issue.items.select_related("submission"):
        assert item.submission.title in content
        assert f'id="item-{item.pk}"' in content
    assert "Secret" not in response.content.decode()


def test_issue_feeds_make_site_links_absolute(client):
    from tests.factories import UserFactory

    author = UserFactory(credit_me=True, display_name="Ada")
    issue = draft_issue()
    issue_item_add(issue=issue, submission=accepted(author=author))
    issue_publish(issue=issue)

    body = client.get(ISSUE_FEEDS[0]).content.decode()

    assert f"http://127.0.0.1:8000/archive/by/{author.pk}/" in body
    assert 'href="/archive' not in body


@pytest.mark.parametrize("url", KIND_FEEDS)
def test_kind_feeds_are_valid_and_hold_only_that_kind(client, url):
    issue = draft_issue()
    issue_item_add(issue=issue, submission=accepted(kind=Kind.PAPER, title="A fine paper"))
    issue_item_add(issue=issue, submission=accepted(kind=Kind.TOOL, title="A fine tool"))
    issue_publish(issue=issue)
    unpublished()

    response, feed = parse(client, url)

    assert [entry.title for entry in feed.entries] == ["A fine paper"]
    item = issue.items.get(submission__title="A fine paper")
    assert feed.entries[0].link == f"http://127.0.0.1:8000{issue.get_absolute_url()}#item-{item.pk}"
    assert "Draft-only" not in response.content.decode()
    assert "Scheduled paper" not in response.content.decode()


def test_every_kind_has_feeds(client):
    for slug in ("papers", "blog-posts", "tools", "repos", "talks", "events", "other"):
        parse(client, f"/archive/{slug}/feed/")
        parse(client, f"/archive/{slug}/feed/atom/")


@pytest.mark.parametrize("url", ISSUE_FEEDS + KIND_FEEDS)
def test_feed_queries_do_not_grow_with_rows(client, url):
    published_issue(items=1)
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    one_count = len(one)
    for _ in range(30):
        published_issue(items=2)

    with CaptureQueriesContext(connection) as many:
        client.get(url)

    assert len(many) == one_count <= 3


def test_sitemap_lists_published_issues_and_kind_pages_only(client):
    issue = published_issue(items=1, title="In the map")
    unpublished()

    response = client.get("/sitemap.xml")

    assert response.status_code == 200
    root = ET.fromstring(response.content)  # noqa: S314  (our own sitemap)
    locations = {
        node.text for node in root.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")
    }
    assert f"http://127.0.0.1:8000{issue.get_absolute_url()}" in locations
    assert "http://127.0.0.1:8000/archive/" in locations
    assert "http://127.0.0.1:8000/archive/papers/" in locations
    assert "http://127.0.0.1:8000/archive/tools/" not in locations  # nothing published there
    assert not any("secret" in location for location in locations)
    assert len([loc for loc in locations if re.search(r"/archive/\d+/", loc)]) == 1


def test_robots_txt_points_at_the_sitemap(client):
    response = client.get("/robots.txt")

    assert response.status_code == 200
    assert "Sitemap: http://127.0.0.1:8000/sitemap.xml" in response.content.decode()


def test_kind_feed_lists_an_issue_in_reading_order_like_the_kind_page(client):
    from newsletter.models import Section

    issue = draft_issue()
    later_section, earlier_section = (
        Section.objects.get(slug="tool-spotlight"),
        Section.objects.get(slug="papers-and-posts"),
    )
    issue_item_add(
        issue=issue,
        submission=accepted(title="In the later section", kind=Kind.PAPER),
        section=later_section,
    )
    issue_item_add(
        issue=issue,
        submission=accepted(title="In the earlier section", kind=Kind.PAPER),
        section=earlier_section,
    )
    issue_publish(issue=issue)

    _, feed = parse(client, KIND_FEEDS[0])
    page = client.get("/archive/papers/").content.decode()

    titles = [entry.title for entry in feed.entries]
    assert titles == ["In the earlier section", "In the later section"]
    assert page.index("In the earlier section") < page.index("In the later section")


@pytest.mark.parametrize("url", ISSUE_FEEDS + KIND_FEEDS)
def test_feeds_link_the_stylesheet_browsers_show_them_with(client, url):
    published_issue(items=1, kind=Kind.PAPER)
    body = client.get(url).content.decode()
    declaration, rest = body.split("?>", 1)
    assert declaration.startswith("<?xml")
    assert rest.lstrip().startswith(
        '<?xml-stylesheet href="/static/feeds/feed.xsl" media="screen" type="text/xsl"?>'
    )
    # Feed readers still read it as a feed.
    assert not feedparser.parse(body).bozo


def test_feed_stylesheet_is_a_static_file_that_explains_feeds(client):
    path = Path(finders.find("feeds/feed.xsl"))
    text = path.read_text(encoding="utf-8")
    ET.fromstring(text.encode())  # noqa: S314  (well-formed XML; our own file)
    assert "This is a feed" in text and "atom:entry" in text and "/rss/channel/item" in text
    assert finders.find("feeds/feed.css")
