"""At 390 pixels nothing is wider than the viewport, on any page: every route of the URL conf
(found by the same walk as tests/test_csrf_walk.py), as a visitor and as an editor with superuser
rights, with wide Markdown (a table, a long code line, a long link) in a submission, an event, an
issue and the submission form's preview. A table or code block scrolls inside its own box."""

from __future__ import annotations

from playwright.sync_api import expect

from events import services as event_services
from newsletter.services.compose import issue_item_add
from newsletter.services.issues import issue_create, issue_publish
from newsletter.services.submissions import submission_create, submission_update
from tests.browser.conftest import _OVERFLOW_SCRIPT, PHONE, browser_test
from tests.factories import UserFactory
from tests.sample_site import build_site
from tests.test_csrf_walk import all_routes, build_url

pytestmark = browser_test

WIDE_MARKDOWN = (
    "Results:\n\n| "
    + " | ".join(f"Model variant {i}" for i in range(10))
    + " |\n|"
    + "---|" * 10
    + "\n| "
    + " | ".join(f"{i}.25 tokens per second" for i in range(10))
    + " |\n\n```python\nquantised = quantise_the_whole_model_layer_by_layer("
    + ", ".join(f"argument_number_{i}=True" for i in range(12))
    + ")\n```\n\nSee https://example.org/"
    + "a-very-long-path-segment-" * 8
    + " and `"
    + "an_unbroken_inline_code_identifier_" * 4
    + "`."
)


def _wide_site():
    """The sample site, with wide Markdown where readers, members and editors see it."""
    site = build_site()
    submission_update(submission=site.submission, actor=site.superuser, summary=WIDE_MARKDOWN)
    site.event.description = WIDE_MARKDOWN
    event_services.event_save(event=site.event, by=site.superuser)
    wide = submission_create(
        author=UserFactory(),
        url="https://example.org/wide-table",
        kind="blog",
        title="A post with a wide table",
        summary=WIDE_MARKDOWN,
    )
    wide.state = "accepted"
    wide.save(update_fields=["state"])
    issue = issue_create(title="A wide issue", introduction=WIDE_MARKDOWN, actor=site.superuser)
    issue_item_add(issue=issue, submission=wide, actor=site.superuser)
    issue = issue_publish(issue=issue, actor=site.superuser)
    extra = [
        issue.get_absolute_url(),
        f"/admin/newsletter/issue/{issue.pk}/change/",
        f"/admin/newsletter/submission/{wide.pk}/change/",
    ]
    return site, extra


def _paths(site) -> list[str]:
    paths = []
    for route in all_routes():
        path = build_url(route, site)
        if path not in paths:
            paths.append(path)
    return paths


def _overflows(tab, paths: list[str]) -> tuple[list[str], list[str]]:
    """Each page, at phone width, that is wider than the screen, with what sticks out; and the
    pages looked at."""
    problems, seen = [], []
    page = tab.page
    page.set_viewport_size(PHONE)
    for path in paths:
        # Asked first with the tab's cookies: only HTML pages are opened (not files, feeds,
        # redirects to elsewhere or answers to POST-only views).
        head = page.context.request.get(tab.url(path), max_redirects=0)
        kind = head.headers.get("content-type", "")
        if head.status >= 500:
            problems.append(f"{path}: HTTP {head.status}")
        if head.status != 200 or "text/html" not in kind:
            continue
        if "attachment" in head.headers.get("content-disposition", ""):
            continue
        response = page.goto(tab.url(path))
        assert response is not None and response.status == 200, path
        seen.append(path)
        page.wait_for_load_state("load")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            wide = page.evaluate(_OVERFLOW_SCRIPT, PHONE["width"])
            problems.append(f"{path} → {tab.path()}: {width} px wide: {wide}")
    return problems, seen


def test_no_page_is_wider_than_a_phone(open_tab, live_server):
    site, extra = _wide_site()
    paths = _paths(site) + extra
    visitor = open_tab("phone-visitor")
    editor = open_tab("phone-editor", user=site.superuser)
    problems, read = _overflows(visitor, [p for p in paths if not p.startswith("/admin/")])
    # The account pages are the visitor's: some (confirming an email by its link) change who
    # is signed in, which would send the editor's remaining pages to the login form.
    more, edited = _overflows(
        editor, [*extra, *(p for p in paths if not p.startswith("/accounts/"))]
    )
    assert problems + more == [], "\n".join(problems + more)
    # The walk reached the pages that matter, with their wide Markdown.
    for path in [*extra, site.submission.get_absolute_url(), site.event.get_absolute_url()]:
        assert path in edited, path
    assert {"/", "/archive/", "/events/"} <= set(read)
    assert "/submit/" in edited and "/admin/newsletter/submission/" in edited
    assert len(edited) > 60


def test_submit_preview_keeps_a_wide_table_in_its_own_box(open_tab):
    member = UserFactory()
    tab = open_tab("phone-submit", user=member)
    tab.page.set_viewport_size(PHONE)
    tab.go("/submit/")
    page = tab.page
    page.get_by_label("Summary").fill(WIDE_MARKDOWN)
    preview = page.locator(".markdownx-preview")
    expect(preview.locator("table")).to_be_visible()
    expect(preview.locator("pre")).to_be_visible()
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], page.evaluate(_OVERFLOW_SCRIPT, PHONE["width"])
    # The table scrolls inside its box: its own scroll width is larger than what it shows.
    assert preview.locator("table").evaluate("t => t.scrollWidth > t.clientWidth")
