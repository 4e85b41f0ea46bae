"""The email edition of an issue: HTML (one column, CSS inlined, absolute links) and text."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.conf import settings

from newsletter.email import TOKEN_SLOT, absolute_links, discord_times_as_text, issue_email
from newsletter.services.compose import issue_item_add
from newsletter.services.issues import issue_publish
from tests.factories import EditorFactory
from tests.newsletter.email_data import issue_with_links, links
from tests.newsletter.issue_data import published_event

pytestmark = pytest.mark.django_db


def published(**kwargs):
    issue = issue_with_links(**kwargs)
    return issue_publish(issue=issue, actor=EditorFactory())


def test_html_is_one_column_with_css_inlined_and_dark_mode_kept():
    email = issue_email(published())

    assert 'class="container"' in email.html
    assert "max-width: 600px" in email.html
    assert '<meta name="color-scheme" content="light dark">' in email.html
    # Inlined: the styles sit on the elements; only the rules no element can carry stay.
    assert re.search(r'<body style="[^"]*font-size: 16px', email.html)
    assert re.search(r'<a [^>]*style="[^"]*color: #3b4bd8', email.html)
    style_blocks = re.findall(r"<style>(.*?)</style>", email.html, re.S)
    assert len(style_blocks) == 1
    assert "@media (prefers-color-scheme: dark)" in style_blocks[0]
    assert "@media (max-width: 480px)" in style_blocks[0]
    assert "<link" not in email.html
    assert "<script" not in email.html


def test_every_link_is_absolute_and_the_web_address_comes_first():
    issue = published()
    email = issue_email(issue)
    web = f"{settings.SITE_URL}{issue.get_absolute_url()}"

    found = links(email.html)
    assert found, "no links"
    assert all(link.startswith(("https://", "http://", "mailto:")) for link in found), found
    assert found[0] == web
    assert f"{settings.SITE_URL}/archive/" in found
    assert f"{web}#top" in found
    assert email.web_url == web
    assert email.text.splitlines()[1] == f"Read it on the web: {web}"
    assert f"[the archive]({settings.SITE_URL}/archive/)" in email.text


def test_links_go_where_the_issue_says_and_nothing_tracks():
    issue = published()
    email = issue_email(issue)
    item_urls = [item.submission.url for item in issue.items.select_related("submission")]

    for url in item_urls:
        assert f'href="{url}"' in email.html
        assert f"({url})" in email.text
    assert "<img" not in email.html  # no pixel (the issue has no image)
    message = email.message(to="ada@example.org", token="t", message_id="<m@x>")
    assert message.track_opens is False
    assert message.track_clicks is False


def test_text_part_is_the_markdown_rendering_with_readable_times():
    issue = issue_with_links(items=1)
    event = published_event(
        title="Reading group", start=datetime(2030, 5, 6, 17, 0, tzinfo=UTC), days=0
    )
    issue_item_add(issue=issue, event=event)
    issue = issue_publish(issue=issue, actor=EditorFactory())
    email = issue_email(issue)

    assert "## Interesting papers and blog posts:" in email.text
    assert "<t:" not in email.text
    assert "Monday 6 May 2030, 17:00 UTC" in email.text
    assert issue.body_markdown.splitlines()[0] in email.text


def test_each_message_gets_its_own_unsubscribe_link_and_one_click_headers():
    email = issue_email(published())
    message = email.message(to="ada@example.org", token="42:abc", message_id="<id@example.org>")

    unsubscribe = f"{settings.SITE_URL}/email/unsubscribe/42:abc/"
    assert message.extra_headers["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.extra_headers["Message-ID"] == "<id@example.org>"
    html = message.alternatives[0][0]
    assert f'href="{unsubscribe}"' in html
    assert unsubscribe in message.body
    assert TOKEN_SLOT not in html and TOKEN_SLOT not in message.body
    assert message.to == ["ada@example.org"]
    assert settings.SITE_NAME in message.from_email


def test_subject_is_one_line_whatever_the_title():
    issue = published(title="Line one\r\nBcc: victim@example.org")
    assert "\n" not in issue_email(issue).subject
    assert issue_email(issue).subject.startswith(f"{settings.SITE_NAME} #{issue.number}: ")


def test_absolute_links_keeps_escaping_and_other_schemes():
    fragment = '<a href="/a?x=1&amp;y=2">a</a> <a href="mailto:ada@example.org">m</a>'
    result = absolute_links(fragment, "https://news.example.org/archive/1/x/")
    assert 'href="https://news.example.org/a?x=1&amp;y=2"' in result
    assert 'href="mailto:ada@example.org"' in result


def test_discord_times_become_utc_text():
    assert discord_times_as_text("on <t:0:F>!") == "on Thursday 1 January 1970, 00:00 UTC!"
    assert discord_times_as_text("<t:99999999999999:F>") == "<t:99999999999999:F>"
