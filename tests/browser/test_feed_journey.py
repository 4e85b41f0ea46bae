"""A reader opens a feed in the browser: a styled page that says what a feed is, with the
items readable, under the site's own security headers (CSP, nosniff)."""

from playwright.sync_api import expect

from newsletter.models import Kind, Submission
from newsletter.services.compose import issue_item_add
from newsletter.services.issues import issue_create, issue_publish
from tests.browser.conftest import browser_test
from tests.factories import EditorFactory, SubmissionFactory

pytestmark = browser_test


def test_feeds_opened_in_a_browser_read_as_a_page(open_tab, loopback_only):
    editor = EditorFactory()
    paper = SubmissionFactory(
        state=Submission.State.ACCEPTED,
        kind=Kind.PAPER,
        title="Int4 kernels for small GPUs",
        summary="Four-bit weights with **no loss** on long contexts.",
    )
    issue = issue_create(title="Kernels month", actor=editor)
    issue_item_add(issue=issue, submission=paper, actor=editor)
    issue_publish(issue=issue, actor=editor)

    tab = open_tab("feeds")
    page = tab.page
    for path in ("/archive/feed/rss/", "/archive/feed/atom/"):
        response = tab.go(path)
        assert "content-security-policy" in response.headers
        assert response.headers["x-content-type-options"] == "nosniff"
        expect(page.get_by_role("heading", name="This is a feed")).to_be_visible()
        expect(page.get_by_role("link", name="Go to the site")).to_be_visible()
        expect(page.get_by_text("Kernels month").first).to_be_visible()
        tab.shot(path.strip("/").replace("/", "-"))
        # Nothing on the page could run or restyle it: no event handler, no style attribute
        # (but in Chromium's own banner saying XSLT is deprecated).
        inline = page.evaluate(
            """() => [...document.querySelectorAll(':not(xslt-warning-banner)')].filter(e => [...e.attributes].some(
                 a => a.name.startsWith("on") || a.name === "style")).map(e => e.outerHTML.slice(0, 300))"""
        )
        assert inline == [], inline
    tab.assert_clean()
