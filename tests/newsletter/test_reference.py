"""The reference edition (March 2023), imported by the demo from our text of it through the
importer editors use for past editions, has the reference's structure."""

import re

import pytest
from django.conf import settings

from events.models import Event
from newsletter.models import Issue, Submission
from newsletter.paste import edition_parse
from newsletter.rendering import issue_discord_messages
from newsletter.services.imports import edition_import
from portal.management.commands.demo_data import (
    REFERENCE_EDITION,
    REFERENCE_NUMBER,
    REFERENCE_PUBLISHED_AT,
)
from tests.factories import EditorFactory, UserFactory

TEXT = REFERENCE_EDITION.read_text(encoding="utf-8")
PASTED = edition_parse(TEXT)
EVENT_SLUG = "reading-group-on-knowledge-distillation-model-compression-by-caruana-et-al"

# What the March 2023 edition shows, section by section: emoji, title, link.
EXPECTED = [
    (
        "## Interesting papers and blog posts:",
        [
            (
                "📰",
                "Unmasked Teacher: Towards Training-Efficient Video Foundation Models",
                "https://arxiv.org/abs/2303.16058",
            ),
            (
                "📰",
                "High-throughput Generative Inference of Large Language Models with a Single GPU",
                "https://arxiv.org/abs/2303.06865",
            ),
            (
                "📰",
                "Hyena Hierarchy: Towards Larger Convolutional Language Models",
                "https://arxiv.org/abs/2302.10866",
            ),
            (
                "📰",
                "LLM.int8(): 8-bit Matrix Multiplication for Transformers at Scale",
                "https://arxiv.org/abs/2208.07339v2",
            ),
            (
                "📰",
                "CoLT5: Faster Long-Range Transformers with Conditional Computation",
                "https://arxiv.org/abs/2303.09752",
            ),
            ("📝", "Modular Deep Learning", "https://www.ruder.io/modular-deep-learning/"),
        ],
    ),
    (
        "## Tool spotlight:",
        [("🌼", "Flower", "https://flower.dev/docs/tutorial/Flower-0-What-is-FL.html")],
    ),
    ("## Repo spotlight:", [("🦙", "Llama.cpp", "https://github.com/ggerganov/llama.cpp")]),
    (
        "## Upcoming events:",
        [
            (
                "🤝",
                "Reading group on Knowledge Distillation: Model Compression by Caruana et al.",
                f"{settings.SITE_URL}/events/{EVENT_SLUG}/",
            )
        ],
    ),
]
EXTRA_LINKS = [
    "https://www.youtube.com/watch?v=jyOqtw4ry2w",
    "https://paperswithcode.com/paper/llm-int8-8-bit-matrix-multiplication-for",
    "https://twitter.com/seb_ruder/status/1628721434162765827",
    "https://www.youtube.com/watch?v=3ycETDjVzOQ",
    "https://twitter.com/jeremyphoward/status/1642726595436883969",
    "https://www.cs.cornell.edu/~caruana/compression.kdd06.pdf",
]
# Sentences of the original blurbs: our summaries are our own words.
ORIGINAL_BLURBS = [
    "by selectively aligning unmasked tokens",
    "flexibly aggregating memory and computation",
    "subquadratic drop-in replacement for attention",
    "two-part quantization procedure",
    "uses conditional computation to focus more on important tokens",
    "separates knowledge and reasoning abilities",
    "Flower is a friendly federated learning framework",
    "The main goal of this repo is to run the LLaMa model",
]
ITEM_LINE = re.compile(r"^(\S+) \[(.+?)\]\((\S+?)\)")


def sections_of(markdown: str) -> list[tuple[str, list[tuple[str, str, str]]]]:
    sections = []
    for line in markdown.splitlines():
        if line.startswith("## "):
            sections.append((line, []))
        elif sections and (match := ITEM_LINE.match(line)):
            sections[-1][1].append(match.groups())
    return sections


def import_reference(author):
    return edition_import(
        text=TEXT,
        published_at=REFERENCE_PUBLISHED_AT,
        number=REFERENCE_NUMBER,
        actor=EditorFactory(),
        author=author,
    )


@pytest.fixture
def edition(db):
    return import_reference(UserFactory(credit_me=False))


def test_our_text_of_the_reference_reads_without_problems():
    assert PASTED.problems == []
    assert [len(section.items) for section in PASTED.sections] == [6, 1, 1, 1]
    # It keeps the original's slip, and the importer repairs it.
    assert len(PASTED.notes) == 1
    assert "CoLT5" in PASTED.notes[0]


def test_our_text_of_the_reference_has_none_of_the_original_summaries():
    for sentence in ORIGINAL_BLURBS:
        assert sentence.lower() not in TEXT.lower()


def test_reference_edition_markdown_has_reference_structure(edition):
    markdown = edition.body_markdown
    lines = markdown.splitlines()

    assert lines[0] == "# ⭐ What happened in ML Efficiency in March 2023? ⭐"
    assert lines[2] == PASTED.introduction
    assert sections_of(markdown) == EXPECTED
    # The heading is followed by its first item on the next line, items by a blank line.
    assert "## Tool spotlight:\n🌼 [Flower]" in markdown
    assert "\n\n📰 [High-throughput" in markdown
    assert markdown.rstrip().endswith(PASTED.closing)
    assert markdown.index(PASTED.closing) > markdown.index("## Upcoming events:")


def test_reference_edition_items_read_like_the_reference(edition):
    markdown = edition.body_markdown

    # Papers: the blurb on the line below the title; spotlights: after a colon.
    assert "(https://arxiv.org/abs/2303.16058)\nMost video tokens" in markdown
    assert (
        "🌼 [Flower](https://flower.dev/docs/tutorial/Flower-0-What-is-FL.html): An open-source"
        in markdown
    )
    assert (
        "Bonus: [Tim Dettmers' C4AI talk](https://www.youtube.com/watch?v=jyOqtw4ry2w), "
        "[Code](https://paperswithcode.com/paper/llm-int8-8-bit-matrix-multiplication-for)"
    ) in markdown
    assert " on <t:1681491600:F>" in markdown
    for url in EXTRA_LINKS:
        assert f"]({url})" in markdown
    # The original's malformed CoLT5 link is a proper link here.
    assert (
        "[CoLT5: Faster Long-Range Transformers with Conditional Computation](https://arxiv.org/abs/2303.09752)"
        in markdown
    )


def test_reference_edition_summaries_are_our_own_words(edition):
    for sentence in ORIGINAL_BLURBS:
        assert sentence.lower() not in edition.body_markdown.lower()


def test_reference_edition_is_published_with_the_original_date(edition):
    assert edition.state == Issue.State.PUBLISHED
    assert edition.number == 1
    assert edition.published_at == REFERENCE_PUBLISHED_AT
    assert edition.items.filter(is_published=True).count() == 9
    assert Submission.objects.filter(state=Submission.State.PUBLISHED).count() == 8
    event = Event.objects.get(slug=EVENT_SLUG)
    assert (event.start.timestamp(), event.state) == (1681491600, Event.State.PUBLISHED)
    assert (event.resource_title, event.resource_url) == (
        "Model Compression",
        "https://www.cs.cornell.edu/~caruana/compression.kdd06.pdf",
    )
    # Nothing was delivered: the edition went out long ago.
    assert not edition.deliveries.exists()


def test_reference_edition_discord_messages_hold_the_same_document(edition):
    messages = issue_discord_messages(edition)

    assert len(messages) == 2
    assert all(len(message) <= settings.DISCORD_MESSAGE_LIMIT for message in messages)
    joined = "\n\n".join(messages)
    assert sections_of(joined) == EXPECTED
    assert " ".join(joined.split()) == " ".join(edition.body_markdown.split())


def test_reference_edition_credits_the_submitter_when_allowed(db):
    issue = import_reference(UserFactory(display_name="Ada", credit_me=True))

    assert issue.body_markdown.count("— shared by Ada") == 8
    assert "Shared by <a href" in issue.body_html
