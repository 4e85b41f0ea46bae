"""The public archive: stable URLs, what readers see, what never leaks, and query counts."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from newsletter.models import Issue, Kind
from newsletter.services.compose import issue_item_add
from newsletter.services.issues import issue_publish, issue_schedule, issue_update
from tests.factories import UserFactory
from tests.newsletter.issue_data import accepted, draft_issue, published_event, published_issue

pytestmark = pytest.mark.django_db


def count_queries(client, url: str) -> int:
    client.get(url)  # warm up: per-process caches (URL resolvers, content types)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def unpublished_issues():
    """A draft and a scheduled issue, each with a distinctive item."""
    draft = draft_issue(title="Secret draft")
    issue_item_add(issue=draft, submission=accepted(title="Draft-only item", kind=Kind.PAPER))
    scheduled = draft_issue(title="Secret scheduled")
    issue_item_add(
        issue=scheduled, submission=accepted(title="Scheduled-only item", kind=Kind.PAPER)
    )
    issue_schedule(issue=scheduled, publish_at=timezone.now() + timedelta(days=1))
    return draft, scheduled


# --- The index and issue pages -------------------------------------------------------------------


def test_archive_lists_published_issues_newest_first(client):
    old = published_issue(title="Older", published_at=timezone.now() - timedelta(days=30))
    new = published_issue(title="Newer")
    unpublished_issues()

    page = client.get(reverse("newsletter:archive")).content.decode()

    assert page.index(new.title) < page.index(old.title)
    assert "Secret" not in page


def test_archive_paginates(client):
    issue = published_issue()
    Issue.objects.bulk_create(
        Issue(
            number=100 + n,
            title=f"Bulk {n}",
            slug=f"bulk-{n}",
            state="published",
            published_at=issue.published_at - timedelta(days=n + 1),
        )
        for n in range(25)
    )

    first = client.get(reverse("newsletter:archive"))
    second = client.get(reverse("newsletter:archive"), {"page": 2})

    assert 'rel="next"' in first.content.decode()
    assert second.status_code == 200
    assert "Bulk 24" in second.content.decode()


@pytest.mark.parametrize(
    ("page", "status", "message"),
    [
        ("abc", 400, "Page numbers are whole numbers"),
        ("999", 404, "There is no page 999"),
        ("-1", 400, "whole numbers"),
    ],
)
def test_archive_bad_page_gets_a_clear_message(client, page, status, message):
    published_issue()

    response = client.get(reverse("newsletter:archive"), {"page": page})

    assert response.status_code == status
    assert message in response.content.decode()


def test_issue_number_redirects_to_the_canonical_url(client):
    issue = published_issue(title="March in review")

    response = client.get(f"/archive/{issue.number}/")

    assert response.status_code == 301
    assert response["Location"] == f"/archive/{issue.number}/march-in-review/"


@pytest.mark.parametrize("tail", ["wrong-slug/", "Old%20Title/", "a/b/c"])
def test_issue_wrong_slug_redirects_permanently(client, tail):
    issue = published_issue(title="March in review")

    response = client.get(f"/archive/{issue.number}/{tail}")

    assert response.status_code == 301
    assert response["Location"] == issue.get_absolute_url()


def test_issue_latest_redirects_to_the_newest(client):
    published_issue(published_at=timezone.now() - timedelta(days=3))
    newest = published_issue()
    unpublished_issues()

    response = client.get(reverse("newsletter:issue-latest"))

    assert response.status_code == 302
    assert response["Location"] == newest.get_absolute_url()


def test_issue_latest_without_issues_is_404(client):
    assert client.get(reverse("newsletter:issue-latest")).status_code == 404


def test_issue_page_has_anchors_navigation_and_social_tags(client):
    before = published_issue(title="Before")
    issue = published_issue(items=2, title="The middle one")
    after = published_issue(title="After")

    page = client.get(issue.get_absolute_url()).content.decode()

    for item in issue.items.all():
        assert f'id="item-{item.pk}"' in page
    assert f'href="{before.get_absolute_url()}" rel="prev"' in page
    assert f'href="{after.get_absolute_url()}" rel="next"' in page
    assert f'<meta property="og:title" content="#{issue.number} The middle one">' in page
    assert '<meta property="og:description" content="Hello readers. Thanks for reading.">' in page
    assert (
        f'<meta property="og:url" content="http://127.0.0.1:8000{issue.get_absolute_url()}">'
        in page
    )
    assert '<meta name="twitter:card" content="summary_large_image">' in page
    card = f"http://127.0.0.1:8000/archive/{issue.number}/{issue.slug}/card.png?v="
    assert f'<meta property="og:image" content="{card}' in page
    assert '<meta property="article:published_time"' in page


def test_issue_page_shows_event_times_in_the_member_time_zone(client):
    start = datetime(2031, 1, 10, 17, 0, tzinfo=UTC)
    issue = draft_issue()
    issue_item_add(issue=issue, event=published_event(start=start))
    issue_publish(issue=issue)
    reader = UserFactory(timezone="America/New_York")

    anonymous = client.get(issue.get_absolute_url()).content.decode()
    client.force_login(reader)
    member = client.get(issue.get_absolute_url()).content.decode()

    assert "Friday 10 January 2031, 17:00 UTC" in anonymous
    assert "Friday 10 January 2031, 12:00 EST" in member


def test_unpublished_issues_are_not_public(client, member_client):
    draft, scheduled = unpublished_issues()

    for issue in (draft, scheduled):
        assert client.get(f"/archive/{issue.number}/").status_code == 404
        assert client.get(f"/archive/{issue.number}/{issue.slug}/").status_code == 404
        assert client.get(f"/archive/{issue.number}/{issue.slug}.md").status_code == 404
        assert member_client.get(f"/archive/{issue.number}/{issue.slug}/").status_code == 404
        assert (
            member_client.get(reverse("newsletter:issue-preview", args=[issue.pk])).status_code
            == 404
        )


def test_editor_previews_a_draft(editor_client):
    draft, _ = unpublished_issues()

    response = editor_client.get(reverse("newsletter:issue-preview", args=[draft.pk]))

    assert response.status_code == 200
    assert "Draft-only item" in response.content.decode()
    assert "only editors can see this page" in response.content.decode()
    assert response["X-Robots-Tag"] == "noindex"


def test_unpublished_items_do_not_leak_into_member_pages(member_client, member):
    published_issue(title="Public one")
    draft, scheduled = unpublished_issues()

    home = member_client.get(reverse("portal:home")).content.decode()

    assert "Public one" in home
    assert "Secret" not in home


# --- Markdown download ---------------------------------------------------------------------------


def test_issue_markdown_download(client):
    issue = published_issue(title="March in review")

    response = client.get(f"/archive/{issue.number}/march-in-review.md")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert (
        response["Content-Disposition"]
        == f'attachment; filename="issue-{issue.number}-march-in-review.md"'
    )
    assert response.content.decode() == issue.body_markdown
    assert response.content.decode().startswith("# ⭐ March in review ⭐")
    wrong = client.get(f"/archive/{issue.number}/old.md")
    assert wrong.status_code == 301
    assert wrong["Location"] == f"/archive/{issue.number}/march-in-review.md"


# --- Items by kind and by submitter --------------------------------------------------------------


def test_kind_page_lists_published_items_of_that_kind(client):
    issue = draft_issue()
    issue_item_add(issue=issue, submission=accepted(kind=Kind.TOOL, title="Flower"))
    issue_item_add(issue=issue, submission=accepted(kind=Kind.PAPER, title="A paper"))
    issue_item_add(issue=issue, event=published_event(title="A reading group"))
    issue_publish(issue=issue)
    unpublished_issues()

    tools = client.get("/archive/tools/").content.decode()
    papers = client.get("/archive/papers/").content.decode()
    events = client.get("/archive/events/").content.decode()

    assert "Flower" in tools and "A paper" not in tools
    assert (
        "A paper" in papers
        and "Draft-only item" not in papers
        and "Scheduled-only item" not in papers
    )
    assert "A reading group" in events
    item = issue.items.get(submission__title="Flower")
    assert f'href="{issue.get_absolute_url()}#item-{item.pk}"' in tools
    assert client.get("/archive/unknown-kind/").status_code == 404


def test_submitter_page_lists_only_published_items_by_display_name(client):
    author = UserFactory(display_name="Ada L.", email="ada.private@example.org", credit_me=True)
    issue = draft_issue()
    issue_item_add(issue=issue, submission=accepted(author=author, title="Published one"))
    issue_publish(issue=issue)
    draft = draft_issue()
    issue_item_add(issue=draft, submission=accepted(author=author, title="Still a draft"))

    response = client.get(reverse("newsletter:submitter", args=[author.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert "Shared by Ada L." in page
    assert "Published one" in page
    assert "Still a draft" not in page
    assert "ada.private" not in page


def test_submitter_page_needs_consent_and_a_published_item(client):
    shy = UserFactory(credit_me=False)
    issue = draft_issue()
    issue_item_add(issue=issue, submission=accepted(author=shy))
    issue_publish(issue=issue)
    nothing_yet = UserFactory(credit_me=True)

    assert client.get(reverse("newsletter:submitter", args=[shy.pk])).status_code == 404
    assert client.get(reverse("newsletter:submitter", args=[nothing_yet.pk])).status_code == 404


# --- Cache ---------------------------------------------------------------------------------------


def test_issue_page_is_cached_and_a_correction_shows_at_once(client):
    issue = published_issue(title="Cached")
    url = issue.get_absolute_url()
    client.get(url)
    # A write that bypasses the services (and keeps updated_at) is not seen: the page is cached.
    Issue.objects.filter(pk=issue.pk).update(body_html="<p>Changed behind the cache</p>")
    assert "Changed behind the cache" not in client.get(url).content.decode()

    issue_update(issue=issue, introduction="A corrected introduction.")

    page = client.get(url).content.decode()
    assert "A corrected introduction." in page
    assert "corrected <time" in page


# --- Query counts --------------------------------------------------------------------------------


def test_archive_index_queries_do_not_grow_with_issues(client):
    published_issue()
    one = count_queries(client, reverse("newsletter:archive"))
    for _ in range(30):
        published_issue()

    assert count_queries(client, reverse("newsletter:archive")) == one


def test_issue_page_queries_do_not_grow_with_items(client):
    small = published_issue(items=1)
    large = published_issue(items=40)
    issue_item_add(issue=large, event=published_event())

    # The issue and its two neighbours, whatever the number of items.
    assert count_queries(client, large.get_absolute_url()) == 3
    assert count_queries(client, small.get_absolute_url()) == 3


def test_kind_and_submitter_pages_queries_do_not_grow(client):
    author = UserFactory(credit_me=True)
    first = draft_issue()
    issue_item_add(issue=first, submission=accepted(author=author))
    issue_publish(issue=first)
    kind_url = "/archive/blog-posts/"
    author_url = reverse("newsletter:submitter", args=[author.pk])
    kind_one, author_one = count_queries(client, kind_url), count_queries(client, author_url)

    big = draft_issue()
    for _ in range(30):
        issue_item_add(issue=big, submission=accepted(author=author))
    issue_publish(issue=big)

    assert count_queries(client, kind_url) == kind_one
    assert count_queries(client, author_url) == author_one
