"""XSS payloads submitted as titles and summaries, read back on every page that shows them.

The sanitiser's own tests (tests/portal/test_markdown.py) check the renderer;
this one checks the pages: whatever a member typed, no page carries a script,
an event handler, a javascript: link or an embedded frame. The browser suite
repeats the check in Chromium.
"""

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from newsletter.models import Submission
from newsletter.services.compose import issue_item_add
from newsletter.services.issues import issue_create, issue_publish
from newsletter.services.submissions import submission_create, submission_transition
from tests.factories import EditorFactory, UserFactory
from tests.portal.test_markdown import PAYLOADS, url_scheme

# Twenty-five payloads of different families, as titles and as summaries.
HOSTILE = PAYLOADS[:25]
DANGEROUS = {
    "script",
    "iframe",
    "object",
    "embed",
    "frame",
    "frameset",
    "base",
    "meta",
    "svg",
    "math",
    "form",
}


class PageTokens(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_head = False
        self.allowed: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "head":
            self._in_head = True
        if tag == "script":
            # Only our own static scripts, never inline code.
            if not (attrs.get("src") or "").startswith(("/static/", "/admin/jsi18n/")):
                self.problems.append(f"script {attrs}")
        elif tag == "meta" and not self._in_head:
            self.problems.append(f"<meta> outside <head> {attrs}")
        elif tag in DANGEROUS - {"meta", "form"} - self.allowed:
            # Forms are ours (log out, votes); a member's would be stripped, and its
            # action is checked below like every URL.
            self.problems.append(f"<{tag}>")
        for name, value in attrs.items():
            if name.startswith("on"):
                self.problems.append(f"{tag} {name}={value}")
            if name == "style":
                self.problems.append(f"{tag} style={value}")
            is_url = name in {"href", "src", "action", "formaction", "xlink:href"}
            if is_url and value and url_scheme(value) not in {"http", "https", "mailto", None}:
                self.problems.append(f"{tag} {name}={value}")

    def handle_endtag(self, tag):
        if tag == "head":
            self._in_head = False


def assert_page_harmless(html: str, where: str, *, admin: bool = False) -> None:
    tokens = PageTokens()
    if admin:
        # The Django admin draws its own icons as inline <svg>; member text never becomes one
        # (a member's <svg> would be stripped, and any handler on it is caught below).
        tokens.allowed = {"svg"}
    tokens.feed(html)
    tokens.close()
    assert tokens.problems == [], where


@pytest.fixture
def hostile_issue(db, django_capture_on_commit_callbacks, settings):
    settings.NEWSLETTER_SUBMISSIONS_PER_DAY = 100
    author = UserFactory(display_name='<img src=x onerror="window.__xss=1">')
    editor = EditorFactory()
    with django_capture_on_commit_callbacks(execute=True):
        issue = issue_create(title="Hostile <script>alert(1)</script> issue", actor=editor)
        for n, payload in enumerate(HOSTILE):
            submission = submission_create(
                author=author,
                url=f"https://example.org/hostile/{n}",
                kind="blog",
                title=payload[:300],
                summary=payload,
                extra_links=[(payload[:80], f"https://example.org/extra/{n}")],
            )
            submission_transition(
                submission=submission, to_state=Submission.State.ACCEPTED, actor=editor
            )
            issue_item_add(issue=issue, submission=submission, actor=editor)
        issue = issue_publish(issue=issue, actor=editor)
    return issue, author, editor


@pytest.mark.django_db
def test_hostile_titles_and_summaries_are_inert_on_every_page(client, hostile_issue):
    issue, author, editor = hostile_issue
    pages = {
        "issue page": issue.get_absolute_url(),
        "archive": reverse("newsletter:archive"),
        "search": reverse("newsletter:search") + "?q=alert",
        "home": reverse("portal:home"),
    }
    for where, url in pages.items():
        response = client.get(url, follow=True)
        assert response.status_code == 200, where
        assert_page_harmless(response.content.decode(), where)

    client.force_login(author)
    assert_page_harmless(
        client.get(reverse("portal:submission-list")).content.decode(), "my submissions"
    )
    for submission in Submission.objects.filter(author=author)[:5]:
        page = client.get(submission.get_absolute_url()).content.decode()
        assert_page_harmless(page, f"submission {submission.pk}")

    client.force_login(editor)
    queue = reverse("admin:newsletter_submission_changelist")
    assert_page_harmless(
        client.get(queue + "?state__exact=published").content.decode(), "queue", admin=True
    )
    for submission in Submission.objects.filter(author=author)[:5]:
        page = client.get(reverse("admin:newsletter_submission_change", args=[submission.pk]))
        assert_page_harmless(page.content.decode(), f"review page {submission.pk}", admin=True)


@pytest.mark.django_db
def test_hostile_content_in_feeds_is_inert(client, hostile_issue):
    for url in (reverse("newsletter:feed-rss"), reverse("newsletter:feed-atom")):
        response = client.get(url)
        assert response.status_code == 200
        root = ET.fromstring(response.content)  # noqa: S314 (our own feed)
        # Titles are plain text in RSS and Atom; the HTML is in descriptions and content.
        texts = [
            el.text or ""
            for el in root.iter()
            if re.search(r"(description|content|summary)$", el.tag)
        ]
        assert texts
        for text in texts:
            assert_page_harmless(text, url)


@pytest.mark.django_db
def test_hostile_markdown_download_keeps_payloads_as_text(client, hostile_issue):
    issue, _, _ = hostile_issue
    response = client.get(issue.get_absolute_url())
    assert response.status_code == 200
    # The Discord and Markdown renderings escape Markdown, never interpret HTML for a page.
    assert "<script>alert(1)</script>" not in response.content.decode()


@pytest.mark.django_db
def test_control_characters_never_reach_storage_or_feeds(
    client, django_capture_on_commit_callbacks
):
    author, editor = UserFactory(), EditorFactory()
    with django_capture_on_commit_callbacks(execute=True):
        submission = submission_create(
            author=author,
            url="https://example.org/controls",
            kind="blog",
            title="Bell\x07 and\x01 null\x00\nline",
            summary="Summary\x0b with\x1f controls",
            extra_links=[("Label\x02", "https://example.org/x")],
        )
        submission_transition(submission=submission, to_state="accepted", actor=editor)
        issue = issue_create(title="Controls", actor=editor)
        issue_item_add(issue=issue, submission=submission, actor=editor)
        issue_publish(issue=issue, actor=editor)
    submission.refresh_from_db()
    assert submission.title == "Bell and null line"
    assert submission.summary == "Summary with controls"
    assert submission.extra_links.get().label == "Label"
    for url in (reverse("newsletter:feed-rss"), reverse("newsletter:feed-atom")):
        assert client.get(url).status_code == 200
