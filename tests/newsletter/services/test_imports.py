"""Importing a past edition: a published issue with its original date, nothing delivered,
and all or nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from events.models import Event
from newsletter.models import EmailSend, Issue, IssueItem, Section, Submission
from newsletter.services.imports import EditionImportError, edition_import, edition_preview
from newsletter.services.issues import IssueError
from tests.factories import (
    EditorFactory,
    PublishedIssueFactory,
    SubmissionFactory,
    SubscriberFactory,
)
from tests.stubs.discord import discord_server, make_channel  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

WHEN = datetime(2023, 5, 2, 16, 0, tzinfo=UTC)
EDITION = """# ⭐ What happened in April 2023? ⭐

Hello again, #ml-efficiency.

## Interesting papers and blog posts:
📰 [A paper on sparse training](https://arxiv.org/abs/2304.00001)
Our words on sparsity.

📝 [A post on kernels]https://example.org/kernels
Our words on kernels. Bonus: [The talk](https://example.org/talk)

## Brand new corner:
🧪 [An experiment](https://example.org/experiment): A one-liner.

## Upcoming events:
🤝 [Reading group on pruning](https://example.org/pruning.pdf) on <t:1683054000:F>
We read about pruning. Read: [Pruning paper](https://example.org/pruning.pdf)

Thanks for reading!
"""


def counts() -> tuple[int, ...]:
    return (
        Issue.objects.count(),
        Submission.objects.count(),
        IssueItem.objects.count(),
        Event.objects.count(),
        Section.objects.count(),
    )


def test_import_publishes_the_edition_with_its_date_and_delivers_nothing(
    discord_server,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    make_channel(discord_server)
    SubscriberFactory()
    editor = EditorFactory()

    with django_capture_on_commit_callbacks(execute=True):
        issue = edition_import(text=EDITION, published_at=WHEN, actor=editor)

    assert issue.state == Issue.State.PUBLISHED
    assert issue.published_at == WHEN
    assert issue.title == "What happened in April 2023?"
    assert issue.introduction == "Hello again, #ml-efficiency."
    assert issue.closing == "Thanks for reading!"
    items = list(
        issue.items.select_related("submission", "event", "section").order_by(
            "section__position", "section_id", "position"
        )
    )
    assert [i.submission.title if i.submission else i.event.title for i in items] == [
        "A paper on sparse training",
        "A post on kernels",
        "An experiment",
        "Reading group on pruning",
    ]
    paper, post, experiment, event_item = items
    assert (paper.submission.kind, post.submission.kind) == ("paper", "blog")
    assert post.submission.url == "https://example.org/kernels"
    assert list(post.submission.extra_links.values_list("label", "url")) == [
        ("The talk", "https://example.org/talk")
    ]
    assert all(i.submission.state == Submission.State.PUBLISHED for i in items[:3])
    assert all(i.submission.author == editor for i in items[:3])
    # An unknown heading becomes a new section, shaped like the pasted one.
    assert (experiment.section.heading, experiment.section.emoji) == ("Brand new corner", "🧪")
    assert experiment.section.compact is True
    event = event_item.event
    assert event.start == datetime.fromtimestamp(1683054000, tz=UTC)
    assert (event.resource_title, event.resource_url) == (
        "Pruning paper",
        "https://example.org/pruning.pdf",
    )
    assert event_item.blurb == "We read about pruning."
    # Nothing to Discord, nothing by email: the edition went out long ago.
    assert discord_server.posted() == []
    assert not EmailSend.objects.exists()
    assert mail.outbox == []
    assert "Our words on sparsity." in issue.body_html


def test_preview_marks_items_already_in_the_archive_and_import_skips_them():
    archived = PublishedIssueFactory(number=1)
    submission = SubmissionFactory(
        url="https://arxiv.org/abs/2304.00001v2", state=Submission.State.ACCEPTED
    )
    IssueItem.objects.create(
        issue=archived,
        submission=submission,
        section=Section.objects.get(slug="papers-and-posts"),
        is_published=True,
    )
    Submission.objects.filter(pk=submission.pk).update(state=Submission.State.PUBLISHED)

    preview = edition_preview(text=EDITION)

    first = preview.sections[0].items[0]
    assert first.published_in == archived  # same paper, another version: the same key
    assert preview.importable == 4 - 1
    issue = edition_import(text=EDITION, published_at=WHEN, actor=EditorFactory())
    assert issue.items.count() == 3
    assert not issue.items.filter(submission=submission).exists()


def test_a_link_waiting_in_the_queue_is_placed_and_published():
    waiting = SubmissionFactory(url="https://example.org/kernels", title="Their title")

    issue = edition_import(text=EDITION, published_at=WHEN, actor=EditorFactory())

    waiting.refresh_from_db()
    assert waiting.state == Submission.State.PUBLISHED
    assert issue.items.filter(submission=waiting).exists()
    assert Submission.objects.filter(url="https://example.org/kernels").count() == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Hello\n\n## A:\n📰 [A](https://example.org/a)\n", "title line"),
        ("# Title\n\nNo sections here.\n", "No section heading"),
        (
            "# T\n\n## A:\n📰 [A](https://example.org/a)\n\n📰 [Again](https://example.org/a)\n",
            "same page as line 4",
        ),
        ("# T\n\n## A:\n📰 [" + "x" * 250 + "](https://example.org/a)\n", "over 200"),
    ],
)
def test_a_bad_paste_is_refused_with_a_clear_message_and_nothing_written(text, message):
    before = counts()
    with pytest.raises(EditionImportError) as refused:
        edition_import(text=text, published_at=WHEN, actor=EditorFactory())
    assert message in " ".join(refused.value.messages)
    assert counts() == before


def test_a_taken_number_or_a_future_date_writes_nothing():
    PublishedIssueFactory(number=7)
    before = counts()
    with pytest.raises(IssueError, match="already exists"):
        edition_import(text=EDITION, published_at=WHEN, actor=EditorFactory(), number=7)
    with pytest.raises(EditionImportError, match="future"):
        edition_import(
            text=EDITION, published_at=timezone.now() + timedelta(days=1), actor=EditorFactory()
        )
    assert counts() == before
