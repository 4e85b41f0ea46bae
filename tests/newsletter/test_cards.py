"""og:image cards: a PNG of the right size, cached under a version that follows the content."""

import io

import pytest
from django.core.cache import cache
from django.urls import reverse
from PIL import Image

from newsletter import cards
from newsletter.models import Topic
from newsletter.services.topics import topic_save
from tests.newsletter.issue_data import published_issue

pytestmark = pytest.mark.django_db


def test_draw_makes_a_1200_by_630_png():
    card = cards.Card(kicker="Issue #7 · Papers", title="A title " * 40, footer="Sparsity")

    image = Image.open(io.BytesIO(cards.draw(card)))

    assert image.format == "PNG"
    assert image.size == (1200, 630)


def test_wrap_keeps_lines_within_the_width_and_marks_a_cut():
    font = cards._font(True, 64)
    lines = cards.wrap("word " * 100 + "Supercalifragilistic" * 5, font, 1056, 4)

    assert len(lines) == 4
    assert all(font.getlength(line) <= 1056 for line in lines)
    assert lines[-1].endswith("…")


def test_emoji_are_left_out_of_the_drawn_text():
    assert cards.drawable("📰 Llama.cpp  on\nCPUs 🚀") == "Llama.cpp on CPUs"


def test_item_card_version_changes_with_its_topics_and_the_new_card_is_drawn(client):
    issue = published_issue()
    submission = issue.items.get().submission
    sparsity = Topic.objects.create(name="Sparsity", slug="sparsity")
    submission.topics.set([sparsity])
    first = client.get(submission.get_page_url()).context["card_url"]

    sparsity.name = "Sparsity and pruning"
    topic_save(topic=sparsity)
    second = client.get(submission.get_page_url()).context["card_url"]

    assert first != second
    response = client.get(second)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert "immutable" in response["Cache-Control"]
    version = second.split("v=")[1]
    assert cache.get(f"card:item:{submission.pk}:{version}") == response.content


def test_issue_card_is_served_and_names_its_sections(client):
    issue = published_issue()
    card = cards.issue_card(issue, cards.issue_sections(issue))

    response = client.get(reverse("newsletter:issue-card", args=[issue.number, issue.slug]))

    assert response.status_code == 200
    assert Image.open(io.BytesIO(response.content)).size == (1200, 630)
    assert card.kicker.startswith(f"Issue #{issue.number} · ")
    assert card.footer == issue.items.get().section.heading.rstrip(":")
    assert "immutable" not in response["Cache-Control"]  # asked without its version
