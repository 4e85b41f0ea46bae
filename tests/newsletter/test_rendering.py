"""One model of an issue, three outputs: web HTML, Markdown, Discord messages."""

from datetime import UTC, datetime

import pytest
from django.conf import settings

from newsletter import rendering
from newsletter.models import ExtraLink, Kind
from newsletter.services.compose import issue_item_add, issue_item_remove, issue_item_set_blurb
from tests.factories import EditorFactory, UserFactory
from tests.newsletter.issue_data import accepted, draft_issue, published_event

pytestmark = pytest.mark.django_db


def test_item_markdown_puts_blurb_below_title_extras_and_credit_after():
    author = UserFactory(display_name="Ada", credit_me=True)
    submission = accepted(
        author=author,
        kind=Kind.PAPER,
        title="A [bracketed] title",
        url="https://example.org/a",
        summary="Short.",
    )
    ExtraLink.objects.create(submission=submission, label="Talk", url="https://example.org/talk")
    issue = draft_issue()
    issue_item_add(issue=issue, submission=submission)
    issue.refresh_from_db()

    assert (
        "📰 [A \\[bracketed\\] title](https://example.org/a)\n"
        "Short. Bonus: [Talk](https://example.org/talk) — shared by Ada"
    ) in issue.body_markdown


def test_item_markdown_compact_section_puts_blurb_after_colon():
    issue = draft_issue()
    tool = accepted(kind=Kind.TOOL, title="Flower", url="https://flower.dev/", summary="Federated.")
    issue_item_add(issue=issue, submission=tool)
    issue.refresh_from_db()

    assert "## Tool spotlight:\n🌼 [Flower](https://flower.dev/): Federated." in issue.body_markdown


def test_item_blurb_overrides_summary_in_this_issue_only():
    submission = accepted(summary="The submitter's summary.")
    issue = draft_issue()
    item = issue_item_add(issue=issue, submission=submission)
    issue_item_set_blurb(item=item, blurb="The *editor's* words.")
    issue.refresh_from_db()
    submission.refresh_from_db()

    assert "The *editor's* words." in issue.body_markdown
    assert "<em>editor's</em>" in issue.body_html or "<em>editor&#x27;s</em>" in issue.body_html
    assert "submitter's summary" not in issue.body_markdown
    assert submission.summary == "The submitter's summary."


def test_item_without_credit_consent_is_not_credited():
    author = UserFactory(display_name="Grace", credit_me=False)
    issue = draft_issue()
    issue_item_add(issue=issue, submission=accepted(author=author))
    issue.refresh_from_db()

    assert "Grace" not in issue.body_markdown
    assert "Grace" not in issue.body_html


def test_web_html_escapes_titles_and_sanitises_blurbs():
    submission = accepted(
        title='<img src=x onerror="alert(1)">',
        summary="Hi <script>alert(1)</script> [x](javascript:alert(1))",
    )
    issue = draft_issue()
    issue_item_add(issue=issue, submission=submission)
    issue.refresh_from_db()

    assert "<script" not in issue.body_html
    assert "<img" not in issue.body_html
    assert "javascript:" not in issue.body_html
    assert "&lt;img" in issue.body_html


def test_event_renders_discord_timestamp_and_time_element():
    start = datetime(2030, 4, 14, 17, 0, tzinfo=UTC)
    event = published_event(start=start, title="Distillation night")
    issue = draft_issue()
    issue_item_add(issue=issue, event=event, blurb="Bring questions.")
    issue.refresh_from_db()

    assert (
        f"🤝 [Distillation night]({settings.SITE_URL}/events/{event.slug}/) on <t:{int(start.timestamp())}:F>\n"
        "Bring questions."
    ) in issue.body_markdown
    assert '<time class="local-time" datetime="2030-04-14T17:00:00+00:00">' in issue.body_html
    assert "17:00 UTC" in issue.body_html


def test_localize_times_shows_the_reader_time_zone(settings):
    from django.utils import timezone

    stored = rendering.time_html(datetime(2030, 4, 14, 17, 0, tzinfo=UTC))
    with timezone.override("Europe/Paris"):
        local = rendering.localize_times(stored)

    assert "19:00 CEST" in local
    assert 'datetime="2030-04-14T17:00:00+00:00"' in local


def test_three_outputs_hold_the_same_items():
    issue = draft_issue(items=5)
    issue_item_add(issue=issue, submission=accepted(kind=Kind.REPO))
    issue.refresh_from_db()
    document = rendering.issue_document(issue)
    messages = rendering.document_discord_messages(document)
    joined = "\n".join(messages)

    for item in issue.items.select_related("submission"):
        title, url = item.submission.title, item.submission.url
        assert f"[{title}]({url})" in issue.body_markdown
        assert f"[{title}]({url})" in joined
        assert f'href="{url}"' in issue.body_html
        assert f'id="item-{item.pk}"' in issue.body_html


def test_discord_messages_stay_within_the_limit_and_keep_order():
    issue = draft_issue()
    editor = EditorFactory()
    for n in range(40):
        issue_item_add(
            issue=issue,
            submission=accepted(title=f"Paper number {n:02d}", summary="A long summary. " * 12),
            actor=editor,
        )
    messages = rendering.issue_discord_messages(issue)

    assert len(messages) > 1
    assert all(0 < len(message) <= settings.DISCORD_MESSAGE_LIMIT for message in messages)
    joined = "\n".join(messages)
    positions = [joined.index(f"Paper number {n:02d}") for n in range(40)]
    assert positions == sorted(positions)
    assert messages[0].startswith("# ⭐ What happened this month? ⭐")
    assert messages[-1].endswith("Thanks for reading.")


def test_discord_messages_respect_a_smaller_limit():
    issue = draft_issue(items=6)
    messages = rendering.issue_discord_messages(issue, limit=300)

    assert all(len(message) <= 300 for message in messages)
    # No masked link is ever cut in two.
    for message in messages:
        assert message.count("[") == message.count("]")


def test_empty_sections_are_left_out():
    issue = draft_issue(items=1)

    assert "## Interesting papers and blog posts:" in issue.body_markdown
    assert "Tool spotlight" not in issue.body_markdown
    assert "Tool spotlight" not in issue.body_html


def test_stored_renderings_follow_each_compose_change():
    issue = draft_issue(items=2)
    first = issue.items.order_by("position").first()
    issue_item_remove(item=first)
    issue.refresh_from_db()

    assert first.submission.title not in issue.body_markdown
    assert first.submission.title not in issue.body_html


def test_markdown_helpers_keep_links_whole():
    assert rendering.markdown_link("a_b [c]", "https://x.org/a b(c)") == (
        "[a\\_b \\[c\\]](https://x.org/a%20b%28c%29)"
    )


CODE_SUMMARY = "Load it like this:\n\n```python\nmodel = load('tiny')\n```"


def fence_lines(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.lstrip().startswith("```")]


@pytest.mark.parametrize("compact", [False, True])
def test_item_markdown_summary_ending_in_code_puts_extras_and_credit_on_their_own_line(compact):
    item = rendering.Item(
        pk=1,
        kind=Kind.TOOL,
        emoji="🌼",
        title="Tiny",
        url="https://example.org/tiny",
        blurb=CODE_SUMMARY,
        extra_links=(("Code", "https://example.org/code"),),
        credit="Ada",
    )

    text = rendering.item_markdown(item, compact=compact)

    # Every fence line is a bare fence: the block opens and closes, nothing is glued on.
    assert fence_lines(text) == ["```python", "```"]
    assert text.endswith("```\n\nBonus: [Code](https://example.org/code) — shared by Ada")


@pytest.mark.parametrize(
    "summary, ending",
    [
        ("Run:\n\n```sh\npip install tiny", "```sh\npip install tiny\n```\n\n— shared by Ada"),
        ("Code:\n\n```py\na = 1\n\nb = 2\n```", "b = 2\n```\n\n— shared by Ada"),
        ("Why:\n\n> a quote", "> a quote\n\n— shared by Ada"),
        ("Steps:\n\n- one\n- two", "- two\n\n— shared by Ada"),
        ("Plain words.", "Plain words. — shared by Ada"),
    ],
)
def test_item_markdown_credit_after_a_block_starts_its_own_paragraph(summary, ending):
    item = rendering.Item(
        pk=1,
        kind=Kind.BLOG,
        emoji="📝",
        title="T",
        url="https://e.org/",
        blurb=summary,
        credit="Ada",
    )

    assert rendering.item_markdown(item).endswith(ending)


def test_summary_ending_in_code_keeps_its_fence_closed_in_markdown_and_discord():
    author = UserFactory(display_name="Ada", credit_me=True)
    submission = accepted(author=author, title="Tiny", summary=CODE_SUMMARY)
    ExtraLink.objects.create(submission=submission, label="Code", url="https://example.org/code")
    issue = draft_issue()
    issue_item_add(issue=issue, submission=submission)
    issue.refresh_from_db()

    for text in (issue.body_markdown, *rendering.issue_discord_messages(issue)):
        lines = fence_lines(text)
        assert len(lines) % 2 == 0
        assert all(line.strip() in ("```", "```python") for line in lines), lines
    assert "```\n\nBonus: [Code](https://example.org/code) — shared by Ada" in issue.body_markdown
