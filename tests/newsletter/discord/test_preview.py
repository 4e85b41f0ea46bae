"""The editors' Discord preview: each message as Discord shows it, and what it will not show."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from newsletter.discord.preview import discord_html, discord_warnings, message_preview
from tests.newsletter.issue_data import draft_issue

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_headings_links_and_code_render_as_discord_shows_them():
    html = discord_html(
        "# Issue 12\n## Papers\n### Tools\n**GPTQ** by [IST](https://ist.ac.at)\n"
        "see https://arxiv.org/abs/2210.17323.\n```\nx = 1\n```",
        now=NOW,
    )
    # Under the page's own headings: Discord's three levels are h4-h6.
    assert "<h4>Issue 12</h4>" in html and "<h5>Papers</h5>" in html and "<h6>Tools</h6>" in html
    assert '<a href="https://ist.ac.at" rel="nofollow noopener">IST</a>' in html
    assert '<a href="https://arxiv.org/abs/2210.17323" rel="nofollow noopener">' in html
    assert "<strong>GPTQ</strong> by" in html
    assert "<pre><code>x = 1\n</code></pre>" in html
    # A single newline is a line break in Discord.
    assert "<br>" in html


def test_timestamps_carry_the_moment_and_a_utc_fallback():
    moment = int(datetime(2026, 3, 10, 13, 30, tzinfo=UTC).timestamp())
    html = discord_html(
        f"Starts <t:{moment}:F>, that is <t:{moment}:R>; at <t:{moment}:t>.", now=NOW
    )
    assert (
        '<time datetime="2026-03-10T13:30:00Z" data-discord-style="F" '
        'title="2026-03-10T13:30:00Z">Tuesday, 10 March 2026 13:30 UTC</time>'
    ) in html
    assert ">in 68 days</time>" in html
    assert ">13:30 UTC</time>" in html


def test_mentions_are_inert_labels():
    html = discord_html("hi <@123> <@!4> <@&55> <#99> @everyone @here", now=NOW)
    assert html.count('class="discord-mention"') == 6
    for label in ("@member", "@role", "#channel", "@everyone", "@here"):
        assert f">{label}</span>" in html
    assert "123" not in html


def test_code_keeps_timestamps_and_mentions_as_text():
    html = discord_html("`<t:1:F>` and\n```\n<@1> https://a.example\n```", now=NOW)
    assert "<code>&lt;t:1:F&gt;</code>" in html
    assert "&lt;@1&gt; https://a.example" in html and "<a " not in html


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[click](javascript:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        "<t:1:F><script>x</script>",
    ],
)
def test_hostile_text_stays_text(text):
    html = discord_html(text, now=NOW)
    assert "<script" not in html and "<img" not in html
    assert '<a href="javascript' not in html


def test_warnings_for_what_discord_does_not_render():
    assert discord_warnings("| a | b |\n|---|---|\n| 1 | 2 |") == [
        "A table: Discord shows its pipes and dashes as they are."
    ]
    assert discord_warnings("some <b>bold</b>") == ["HTML: Discord shows tags such as <b> as text."]
    assert discord_warnings("![chart](https://example.org/c.png)") == [
        "An image: Discord shows a link, not the picture."
    ]
    assert discord_warnings("#### Deep") == [
        "A heading deeper than ###: Discord shows the # signs."
    ]
    # Discord's own syntax, headings it shows and code are fine.
    fine = "### Ok\n<https://example.org> <t:1:F> <@1>\n```\n<b>|---|---|</b>\n```\n`<i>`"
    assert discord_warnings(fine) == []


def test_a_deep_heading_shows_its_signs():
    assert discord_html("#### Deep", now=NOW) == "<p>#### Deep</p>\n"


def test_message_preview_counts_the_raw_text():
    preview = message_preview("**bold** <t:1:F>", now=NOW)
    assert preview.length == len("**bold** <t:1:F>")
    assert preview.text == "**bold** <t:1:F>"


@pytest.mark.django_db
def test_admin_preview_shows_each_message_rendered_beside_its_text(editor_client):
    issue = draft_issue(items=2, title="Sparse month")
    body = editor_client.get(reverse("admin:newsletter_issue_preview", args=[issue.pk])).content
    page = body.decode()
    assert 'class="discord-message"' in page
    assert "<h4>" in page.split('class="discord-message"')[1].split("</div>")[0]
    assert 'id="message-1"' in page and "Text posted (" in page
    assert "js/discord-preview.js" in page
