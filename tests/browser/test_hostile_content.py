"""Hostile content in a real browser: the sanitiser's XSS payloads, typed into the submission
form by a member and then shown everywhere the portal shows submissions.

Each payload is one submission (title and summary), so no payload can hide behind another.
Every page that shows them is checked in Chromium: no dialog opened, the `window.__xss`
sentinel that some payloads try to set is unset, the Content-Security-Policy had nothing to
block, and the document holds no event-handler attribute, no script it did not ship itself and
no link or frame that could run script. The reader pages are then shown again with the CSP
switched off, so the sanitiser alone is seen to hold; the feeds are rendered as a feed reader
would, their HTML put straight into a page without any CSP.
"""

from __future__ import annotations

from html import escape

import feedparser
from playwright.sync_api import expect

from newsletter.models import Kind, Submission
from newsletter.services.compose import issue_fill
from newsletter.services.decisions import submissions_decide
from newsletter.services.issues import issue_create, issue_publish
from tests.browser.conftest import browser_test
from tests.factories import EditorFactory, UserFactory
from tests.portal.test_markdown import PAYLOADS as SANITISER_PAYLOADS

pytestmark = browser_test

# Payloads that would set a sentinel instead of opening a dialog, and ones aimed at the places a
# title lands outside Markdown: attributes, <title>, <textarea>, JSON in scripts.
SENTINEL_PAYLOADS = [
    '<img src=x onerror="window.__xss=1">',
    '<svg onload="window.__xss=1"></svg>',
    "<script>window.__xss=1</script>",
    '<a id="xss-link" href="javascript:window.__xss=1">click me</a>',
    "[click me](javascript:window.__xss=1)",
    '<iframe srcdoc="<script>parent.__xss=1</script>"></iframe>',
    '<details open ontoggle="window.__xss=1">x</details>',
    '"><img src=x onerror="window.__xss=1">',
    "'><svg onload=window.__xss=1>",
    '</textarea><img src=x onerror="window.__xss=1">',
    '</title><img src=x onerror="window.__xss=1">',
    "</script><script>window.__xss=1</script>",
    '{{ 7|add:"<img src=x onerror=window.__xss=1>" }}',
]
PAYLOADS = [*SANITISER_PAYLOADS, *SENTINEL_PAYLOADS]
KINDS = [Kind.PAPER, Kind.BLOG, Kind.TOOL, Kind.REPO, Kind.TALK, Kind.OTHER]

# Everything in the document that could run script, as a list of findings (empty: inert).
_FIND_ACTIVE_CONTENT = """
() => {
  const found = [];
  if (window.__xss !== undefined) found.push("window.__xss was set");
  const urlAttributes = ["href", "src", "action", "formaction", "data", "xlink:href",
                         "background", "poster", "srcset", "ping"];
  // On a feed, Chromium adds its own banner about XSLT's deprecation (not our content).
  const banner = (el) => el.closest("xslt-warning-banner") !== null;
  for (const el of document.querySelectorAll("*")) {
    if (banner(el)) continue;
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      if (name.startsWith("on")) found.push(`<${el.localName} ${name}>`);
      if (name === "srcdoc") found.push(`<${el.localName} srcdoc>`);
      if (urlAttributes.includes(name)) {
        let protocol = null;
        try { protocol = new URL(attr.value, document.baseURI).protocol; } catch (e) {}
        if (protocol && !["http:", "https:", "mailto:"].includes(protocol)) {
          found.push(`<${el.localName} ${name}="${attr.value.slice(0, 60)}">`);
        }
      }
    }
  }
  for (const script of document.querySelectorAll("script")) {
    if (script.type === "application/json") continue;
    if (!script.src) found.push("inline <script>: " + script.textContent.slice(0, 60));
    else if (new URL(script.src).origin !== location.origin) found.push("foreign script " + script.src);
  }
  for (const el of document.querySelectorAll("iframe, frame, object, embed, base, meta[http-equiv]")) {
    // The admin's previews of the email edition: our own page, in a sandbox without scripts.
    const emailPreview = el.localName === "iframe" && el.sandbox && el.hasAttribute("sandbox")
      && !el.sandbox.contains("allow-scripts") && !el.sandbox.contains("allow-same-origin")
      && new URL(el.src).origin === location.origin && el.src.endsWith("/email/preview.html");
    if (!emailPreview) found.push(el.outerHTML.slice(0, 80));
  }
  for (const violation of window.__cspViolations || []) {
    // That banner's inline style and handlers, which our CSP refuses; ours have none (above).
    if (location.pathname.includes("/feed/") && violation.endsWith("-attr inline")) continue;
    found.push("CSP blocked " + violation);
  }
  return found;
}
"""


def assert_inert(tab, where: str) -> None:
    found = tab.page.evaluate(_FIND_ACTIVE_CONTENT)
    assert found == [], f"{where}: active content {found}"
    assert tab.dialogs == [], f"{where}: dialogs opened {tab.dialogs}"
    assert tab.errors == [], f"{where}: errors {tab.errors}"


def visit(tab, path: str, *, expect_text: str | None = None) -> None:
    tab.go(path)
    if expect_text:
        expect(tab.page.locator("body")).to_contain_text(expect_text)
    assert_inert(tab, path)


def test_hostile_content_is_inert_on_every_page_that_shows_it(
    open_tab, browser_settings, loopback_only
):
    browser_settings.NEWSLETTER_SUBMISSIONS_PER_DAY = len(PAYLOADS) + 10
    # Each payload is previewed in a few seconds, far quicker than a person types.
    browser_settings.MARKDOWN_PREVIEWS_PER_MINUTE = 10 * len(PAYLOADS)
    member = UserFactory(display_name='Mallory <img src=x onerror="window.__xss=1">')
    editor = EditorFactory()
    tab = open_tab("hostile", user=member)
    page = tab.page

    # The member types each payload into the form, as title and as summary; the page the form
    # leads to (the submission's own page) shows both.
    for number, payload in enumerate(PAYLOADS):
        tab.go("/submit/")
        page.get_by_label("Link").first.fill(f"https://example.org/hostile/{number}")
        page.get_by_label("Kind").select_option(KINDS[number % len(KINDS)])
        page.get_by_label("Title").fill(f"Hostile {number}: {payload}"[:300])
        page.get_by_label("Summary").fill(payload)
        with page.expect_navigation():
            page.get_by_role("button", name="Submit for review").click()
        assert tab.path().startswith("/my/submissions/"), tab.path()
        assert_inert(tab, f"submission page of payload {number} {payload!r}")
    assert Submission.objects.count() == len(PAYLOADS)
    tab.shot("01-submission")

    # The live Markdown preview, fed each payload in turn. A fake clock skips the half-second
    # markdownx waits after each keystroke before asking the server.
    preview_tab = open_tab("hostile", user=member)
    preview_tab.page.clock.install()
    preview_tab.go("/submit/")
    summary = preview_tab.page.get_by_label("Summary")
    preview = preview_tab.page.locator(".markdownx-preview")
    for number, payload in enumerate(PAYLOADS):
        summary.fill(f"Preview {number}\n\n{payload}")
        preview_tab.page.clock.run_for(1000)
        expect(preview).to_contain_text(f"Preview {number}")
        assert_inert(preview_tab, f"Markdown preview of payload {number} {payload!r}")
    preview_tab.shot("02-preview")

    visit(tab, "/my/submissions/", expect_text="Hostile")
    tab.shot("03-my-submissions")
    visit(tab, "/my/submissions/?page=2", expect_text="Hostile")
    # The edit form puts the member's text back into an input and a textarea.
    submissions = list(Submission.objects.order_by("pk"))
    sentinels = submissions[len(SANITISER_PAYLOADS) :]
    for submission in sentinels:
        if any(mark in submission.summary for mark in ('">', "'>", "</textarea>", "{{")):
            visit(tab, f"{submission.get_absolute_url()}edit/")

    # The editors' review queue and each review page.
    desk = open_tab("hostile", user=editor)
    visit(desk, "/admin/newsletter/submission/", expect_text="Hostile")
    desk.shot("04-review-queue")
    visit(desk, "/admin/newsletter/submission/?p=2", expect_text="Hostile")
    # Every review page is the same template: one for each payload aimed at the contexts a
    # title or summary lands in outside Markdown, and a few of the sanitiser's.
    for submission in submissions[:3] + sentinels:
        visit(desk, f"/admin/newsletter/submission/{submission.pk}/change/")
    desk.shot("05-review-page")

    # Published in an issue, they reach the archive, search and the feeds.
    accepted, refused = submissions_decide(
        submissions=submissions, actor=editor, to_state=Submission.State.ACCEPTED
    )
    assert (len(accepted), refused) == (len(PAYLOADS), [])
    issue = issue_create(
        title='Hostile <img src=x onerror="window.__xss=1"> issue',
        introduction=SENTINEL_PAYLOADS[0],
        closing=SANITISER_PAYLOADS[0],
        actor=editor,
    )
    assert len(issue_fill(issue=issue, actor=editor)) == len(PAYLOADS)
    issue = issue_publish(issue=issue, actor=editor)
    visit(desk, f"/admin/newsletter/issue/{issue.pk}/compose/", expect_text="Hostile")
    visit(desk, f"/admin/newsletter/issue/{issue.pk}/preview/", expect_text="Hostile")
    # The email edition as subscribers get it (the preview's frames show this page).
    visit(desk, f"/admin/newsletter/issue/{issue.pk}/email/preview.html", expect_text="Hostile")

    reader = open_tab("hostile")
    visit(reader, "/", expect_text="Hostile")
    visit(reader, "/archive/", expect_text="Hostile")
    visit(reader, issue.get_absolute_url(), expect_text="Hostile 0:")
    reader.shot("06-issue")
    visit(reader, "/archive/papers/", expect_text="Hostile")
    visit(reader, f"/archive/by/{member.pk}/?page=3", expect_text="Hostile")
    visit(reader, "/archive/search/?q=hostile", expect_text="Hostile")
    reader.shot("07-search")

    feeds = ["/archive/feed/rss/", "/archive/feed/atom/", "/archive/papers/feed/"]
    for feed_path in feeds:
        visit(reader, feed_path, expect_text="Hostile")

    # A feed reader shows the entries' HTML as it is, with no CSP to help.
    for feed_path in feeds:
        response = reader.page.request.get(reader.url(feed_path))
        feed = feedparser.parse(response.body(), sanitize_html=False)
        assert feed.entries, feed_path
        html = "".join(
            f"<article><h2>{escape(entry.title)}</h2>"
            + "".join(content.value for content in entry.get("content", []))
            + entry.get("summary", "")
            + "</article>"
            for entry in feed.entries
        )
        reader.page.set_content(f"<!doctype html><title>feed</title><body>{html}</body>")
        assert_inert(reader, f"{feed_path} in a feed reader")

    # The same pages with the CSP switched off: the sanitiser holds on its own.
    bare = open_tab("hostile-no-csp", user=member, bypass_csp=True)
    for path in (issue.get_absolute_url(), "/archive/search/?q=hostile", "/my/submissions/"):
        visit(bare, path, expect_text="Hostile")
    bare_desk = open_tab("hostile-admin-no-csp", user=editor, bypass_csp=True)
    visit(bare_desk, "/admin/newsletter/submission/?state=all", expect_text="Hostile")

    for each in (tab, preview_tab, reader):
        assert each.layout_problems == [], "\n".join(each.layout_problems)
