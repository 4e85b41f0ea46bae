"""A reader's journey: the archive, an issue, an item's anchor, search, the feed, events."""

from datetime import timedelta

import feedparser
from django.utils import timezone
from playwright.sync_api import expect

from events.models import RSVP
from newsletter.models import Kind, Submission
from newsletter.services.compose import issue_item_add
from newsletter.services.issues import issue_create, issue_publish
from tests.browser.conftest import browser_test
from tests.factories import EditorFactory, EventFactory, RSVPFactory, SubmissionFactory, UserFactory

pytestmark = browser_test


def publish_issue(*, editor, title: str, submissions: list[Submission], days_ago: int = 0):
    issue = issue_create(
        title=title,
        introduction="Hello **readers**: a month of faster models.",
        closing="Thanks for reading.",
        actor=editor,
    )
    for submission in submissions:
        issue_item_add(issue=issue, submission=submission, actor=editor)
    published_at = timezone.now() - timedelta(days=days_ago)
    return issue_publish(issue=issue, actor=editor, published_at=published_at)


def accepted(**kwargs) -> Submission:
    return SubmissionFactory(state=Submission.State.ACCEPTED, **kwargs)


def test_reader_journey_reads_searches_follows_and_answers_events(open_tab, loopback_only):
    editor = EditorFactory()
    publish_issue(
        editor=editor,
        title="Distillation month",
        submissions=[accepted(kind=Kind.BLOG, title="Distilling a teacher that never stops")],
        days_ago=30,
    )
    paper = accepted(
        kind=Kind.PAPER,
        title="Quantised attention kernels for small GPUs",
        summary="Int4 attention with **no accuracy loss** on long contexts.",
        summary_html="<p>Int4 attention with <strong>no accuracy loss</strong> on long contexts.</p>",
    )
    tool = accepted(kind=Kind.TOOL, title="A profiler that explains memory spikes")
    issue = publish_issue(editor=editor, title="Kernels and profilers", submissions=[paper, tool])
    item = issue.items.get(submission=paper)

    reader = UserFactory(display_name="Grace")
    roomy = EventFactory(title="Reading group: sparse attention", capacity=20)
    full = EventFactory(
        title="Hands-on: kernel tuning", capacity=1, start=timezone.now() + timedelta(days=10)
    )
    RSVPFactory(event=full, status=RSVP.Status.GOING)

    tab = open_tab("reader", user=reader)
    page = tab.page

    # The archive lists both issues, newest first.
    tab.go("/archive/")
    rows = page.locator(".issue-list .item-row")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("#2 Kernels and profilers")
    expect(rows.first).to_contain_text("2 items")
    tab.shot("01-archive")

    # The issue: introduction, sections and items.
    rows.first.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Kernels and profilers")
    expect(page.locator(".issue-intro strong")).to_have_text("readers")
    expect(page.locator(f"#{item.anchor} .item-title")).to_have_text(paper.title)
    expect(page.locator(f"#{item.anchor} .item-blurb strong")).to_have_text("no accuracy loss")
    expect(page.get_by_role("link", name="← #1 Distillation month")).to_be_visible()
    tab.shot("02-issue")

    # A link to one item lands on it, highlighted.
    tab.go("/")
    tab.go(f"{issue.get_absolute_url()}#{item.anchor}")
    target = page.locator(f"#{item.anchor}")
    expect(target).to_be_in_viewport()
    assert page.evaluate("() => document.querySelector(':target')?.id") == item.anchor
    highlight = target.evaluate("el => getComputedStyle(el).backgroundColor")
    assert highlight not in ("rgba(0, 0, 0, 0)", "transparent"), highlight
    tab.shot("03-item-anchor")

    # Search finds the paper by a word of its summary and leads to its anchor.
    page.get_by_role("link", name="Search").first.click()
    page.get_by_label("Words to find in published issues").fill("quantised attention")
    page.get_by_role("button", name="Search").click()
    hit = page.locator(".search-hit", has_text=paper.title)
    expect(hit).to_be_visible()
    expect(hit).to_contain_text("In issue #2")
    tab.shot("04-search")
    hit.get_by_role("link", name=paper.title).click()
    expect(page).to_have_url(f"{tab.base_url}{issue.get_absolute_url()}#{item.anchor}")

    # The RSS feed, as a browser fetches it: both issues, newest first, with their items.
    response = page.request.get(tab.url("/archive/feed/rss/"))
    assert response.ok
    assert "xml" in response.headers["content-type"]
    feed = feedparser.parse(response.body())
    assert [entry.title for entry in feed.entries] == [
        "#2 Kernels and profilers",
        "#1 Distillation month",
    ]
    assert paper.title in feed.entries[0].description
    assert feed.entries[0].link.endswith(issue.get_absolute_url())
    tab.go("/archive/feed/rss/")
    expect(page.locator("body")).to_contain_text("Kernels and profilers")
    tab.shot("05-rss-feed")

    # Events: say "going" to one with seats left...
    tab.go("/events/")
    expect(page.locator(".event-list")).to_contain_text(roomy.title)
    tab.shot("06-events")
    page.get_by_role("link", name=roomy.title).click()
    page.get_by_role("button", name="Going", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("You are going. See you there!")
    expect(page.get_by_role("button", name="Going ✓")).to_be_disabled()
    expect(page.locator(".event-facts")).to_contain_text("1 going of 20")
    tab.shot("07-rsvp-going")

    # ...and join the waiting list of the full one.
    tab.go(full.get_absolute_url())
    expect(page.locator(".event-facts")).to_contain_text("full")
    page.get_by_role("button", name="Join the waiting list").click()
    expect(page.locator(".messages")).to_contain_text(
        "The event is full: you are number 1 on the waiting list."
    )
    expect(page.locator(".rsvp-current")).to_contain_text("number 1")
    tab.shot("08-rsvp-waitlisted")
    assert RSVP.objects.get(event=full, user=reader).status == RSVP.Status.WAITLISTED
    assert RSVP.objects.get(event=roomy, user=reader).status == RSVP.Status.GOING

    tab.assert_clean()
