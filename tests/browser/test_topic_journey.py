"""A reader follows a topic: the topic page, an item's own page, then the issue it is in."""

from django.utils.text import slugify
from playwright.sync_api import expect

from newsletter.models import Kind, Submission, Topic
from newsletter.services.compose import issue_item_add
from newsletter.services.issues import issue_create, issue_publish
from tests.browser.conftest import browser_test
from tests.factories import EditorFactory, SubmissionFactory, UserFactory

pytestmark = browser_test


def test_topic_page_to_item_page_to_issue(open_tab, loopback_only):
    editor = EditorFactory()
    quantisation = Topic.objects.create(name="Quantisation", slug="quantisation")
    serving = Topic.objects.create(name="Serving", slug=slugify("Serving"))
    author = UserFactory(display_name="Ada", credit_me=True)
    paper = SubmissionFactory(
        state=Submission.State.ACCEPTED,
        kind=Kind.PAPER,
        author=author,
        title="Int4 kernels for small GPUs",
        url="https://example.org/int4-kernels",
    )
    sibling = SubmissionFactory(
        state=Submission.State.ACCEPTED, kind=Kind.TOOL, title="A tiny quantisation toolkit"
    )
    paper.topics.set([quantisation, serving])
    sibling.topics.set([quantisation])
    issue = issue_create(title="Kernels month", actor=editor)
    for submission in (paper, sibling):
        issue_item_add(issue=issue, submission=submission, actor=editor)
    issue = issue_publish(issue=issue, actor=editor)
    item = issue.items.get(submission=paper)

    tab = open_tab("topics")
    page = tab.page

    # The topic page lists both items, with their chips.
    tab.go("/archive/topics/")
    page.get_by_role("link", name="Quantisation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Quantisation")
    entries = page.locator(".item-entry")
    expect(entries).to_have_count(2)
    expect(entries.filter(has_text=paper.title).locator(".topic-chip")).to_have_text(
        ["Quantisation", "Serving"]
    )
    tab.shot("01-topic")

    # The item's own page: title, link, topics, who shared it, related items, link preview.
    entries.filter(has_text=paper.title).get_by_role("link", name="Item page").click()
    expect(page).to_have_url(f"{tab.base_url}{paper.get_page_url()}")
    expect(page.get_by_role("heading", level=1)).to_have_text(paper.title)
    expect(page.locator(".item-link a")).to_have_attribute("href", paper.url)
    expect(page.locator(".credit")).to_contain_text("Shared by Ada")
    expect(page.locator(".related-items")).to_contain_text(sibling.title)
    card = page.locator('meta[property="og:image"]').get_attribute("content")
    image = page.request.get(card)
    assert image.ok and image.headers["content-type"] == "image/png"
    tab.shot("02-item")

    # Back to the issue, at the item.
    page.get_by_role("link", name="← Back to issue #").click()
    expect(page).to_have_url(f"{tab.base_url}{issue.get_absolute_url()}#{item.anchor}")
    expect(page.locator(f"#{item.anchor} .item-title")).to_have_text(paper.title)
    tab.shot("03-issue")
    tab.assert_clean()
