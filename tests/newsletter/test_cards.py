"""og:image cards: a PNG of the right size, cached under a version that follows the content,
with the sections' emoji drawn in colour where the emoji font is installed."""

import io

import pytest
from django.core.cache import cache
from django.urls import reverse
from PIL import Image, ImageChops

from newsletter import cards
from newsletter.models import Topic
from newsletter.services.topics import topic_save
from tests.newsletter.issue_data import published_issue

pytestmark = pytest.mark.django_db

KICKER_TOP = cards.MARGIN + 44


def _image(card: cards.Card) -> Image.Image:
    return Image.open(io.BytesIO(cards.draw(card))).convert("RGB")


def _warm_pixels(image: Image.Image, box: tuple[int, int, int, int]) -> list[tuple[int, int]]:
    """Where the box has red, orange or yellow: never in the grey-blue kicker text on navy."""
    region = image.crop(box)
    return [
        (box[0] + x, box[1] + y)
        for y in range(region.height)
        for x in range(region.width)
        if (lambda r, g, b: r > b + 60)(*region.getpixel((x, y)))
    ]


def test_draw_makes_a_1200_by_630_png():
    card = cards.Card(kicker="Issue #7 · 📰 Papers", title="A title " * 40, footer="Sparsity")

    image = Image.open(io.BytesIO(cards.draw(card)))

    assert image.format == "PNG"
    assert image.size == (1200, 630)


def test_wrap_keeps_lines_within_the_width_and_marks_a_cut():
    face = cards.Face(64, bold=True)
    lines = cards.wrap("word " * 100 + "Supercalifragilistic" * 5, face, 1056, 4)

    assert len(lines) == 4
    assert all(face.length(line) <= 1056 for line in lines)
    assert lines[-1].endswith("…")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("👨‍👩‍👧‍👦", [(True, "👨‍👩‍👧‍👦")]),  # ZWJ family
        ("🧑🏽‍🤝‍🧑🏻", [(True, "🧑🏽‍🤝‍🧑🏻")]),  # ZWJ with skin tones
        ("🏳️‍🌈 ❤️‍🔥", [(True, "🏳️‍🌈"), (False, " "), (True, "❤️‍🔥")]),  # ZWJ after a selector
        ("🇫🇷🇩🇪🇯", [(True, "🇫🇷"), (True, "🇩🇪"), (True, "🇯")]),  # flags pair from the left
        ("🏴󠁧󠁢󠁳󠁣󠁴󠁿!", [(True, "🏴󠁧󠁢󠁳󠁣󠁴󠁿"), (False, "!")]),  # tag sequence (Scotland)
        ("1️⃣ #⃣ #1", [(True, "1️⃣"), (False, " "), (True, "#⃣"), (False, " #1")]),  # keycaps
        ("👍🏽👍", [(True, "👍🏽"), (True, "👍")]),  # skin tone
        ("☝🏽", [(True, "☝🏽")]),  # text-default base with a skin tone
        ("© ® ™ ❤ ↔", [(False, "© ® ™ ❤ ↔")]),  # text presentation stays text
        ("©️ ❤️", [(True, "©️"), (False, " "), (True, "❤️")]),  # unless asked for as emoji
        ("⌚︎ ⌚", [(False, "⌚︎ "), (True, "⌚")]),  # an emoji asked for as text
        ("Issue #12 · 📄 Papers", [(False, "Issue #12 · "), (True, "📄"), (False, " Papers")]),
        ("🔥Hot", [(True, "🔥"), (False, "Hot")]),
        ("a\u200db", [(False, "a\u200db")]),  # a joiner between letters is no emoji
        ("", []),
    ],
)
def test_runs_split_emoji_sequences_from_text(text, expected):
    assert cards.runs(text) == expected


def test_runs_scan_a_long_hostile_text_whole():
    text = "👨\u200d" * 5000 + "a" + "\ufe0f" * 5000 + "🇫" * 5001

    parts = cards.runs(text)

    assert "".join(part for _, part in parts) == text
    assert parts[0] == (True, "👨\u200d" * 4999 + "👨")


def test_emoji_are_left_out_of_the_drawn_text_without_the_emoji_font():
    assert cards.drawable("📰 Llama.cpp  on\nCPUs 🚀", emoji=False) == "Llama.cpp on CPUs"
    assert cards.drawable("👨‍👩‍👧‍👦 Pillow™ ©2026 ❤️", emoji=False) == "Pillow™ ©2026"


def test_drawable_keeps_emoji_and_drops_what_no_font_draws():
    text = "🔥\u200b Hot\x07 \ue000stuff ❤️‍🔥"

    assert cards.drawable(text, emoji=True) == "🔥 Hot stuff ❤️‍🔥"


def test_section_label_puts_the_emoji_before_the_heading_once():
    assert cards.section_label("📰", "Interesting papers and blog posts:") == (
        "📰 Interesting papers and blog posts"
    )
    assert cards.section_label("📄", "📄 Papers") == "📄 Papers"
    assert cards.section_label("", "Papers") == "Papers"


def test_pack_cuts_a_list_between_its_entries():
    face = cards.Face(28)
    sections = ["Interesting papers and blog posts", "Tool spotlight", "Repo spotlight"]
    text = cards.SEPARATOR.join(sections * 3)

    lines = cards.pack(text, face, 700, 2)

    assert lines[0] == "Interesting papers and blog posts · Tool spotlight"
    assert len(lines) == 2
    assert lines[-1].endswith("…")
    assert all(face.length(line) <= 700 for line in lines)


def test_a_broken_emoji_font_file_is_passed_over_and_the_card_drawn(settings, tmp_path):
    junk = tmp_path / "NotoColorEmoji.ttf"
    junk.write_bytes(b"not a font" * 100)
    settings.CARD_EMOJI_FONT = str(junk)

    found = cards.emoji_font_file()
    image = _image(cards.Card(kicker="Issue #1 · 🔥 Hot", title="🔥", footer=""))

    assert found is None or found[0] != str(junk)
    assert image.size == (1200, 630)


# --- With the colour emoji font ------------------------------------------------------------------


@pytest.mark.emoji_font
def test_a_hot_section_card_shows_the_fire_emoji_in_colour_where_the_kicker_puts_it(settings):
    card = cards.Card(kicker="Issue #1 · 🔥 Hot", title="Fast kernels", footer="")
    face = cards.Face(30, emoji=cards.emoji_font_file()[0])
    start = cards.MARGIN + face.length("Issue #1 · ")
    end = start + face.length("🔥")
    kicker = (cards.MARGIN, KICKER_TOP, 1200, KICKER_TOP + 40)

    warm = _warm_pixels(_image(card), kicker)
    settings.CARD_EMOJI_FONT = ""
    words_only = _warm_pixels(_image(card), kicker)

    assert len(warm) > 100
    assert all(start - 1 <= x <= end + 1 for x, _ in warm)
    assert words_only == []


@pytest.mark.emoji_font
@pytest.mark.parametrize("emoji", ["🔥", "📰", "⭐"])
def test_emoji_sit_on_the_line_of_the_text_at_its_size(emoji):
    face = cards.Face(64, bold=True, emoji=cards.emoji_font_file()[0])
    background = Image.new("RGB", (400, 120), cards.BACKGROUND)

    def box(text: str) -> tuple[int, int, int, int]:
        image = background.copy()
        face.draw(image, (0, 0), text, cards.TEXT)
        return ImageChops.difference(image, background).getbbox()

    emoji_box, capital = box(emoji), box("H")
    ascent, descent = face.font.getmetrics()

    assert face.length(emoji) == pytest.approx(64 * 136 / 109, abs=1)  # 136 px wide at 109 px
    assert emoji_box[3] <= ascent + descent  # not below the line
    assert capital[3] - capital[1] <= emoji_box[3] - emoji_box[1]  # at least as tall as an H
    emoji_middle, capital_middle = sum(emoji_box[1::2]) / 2, sum(capital[1::2]) / 2
    assert abs(emoji_middle - capital_middle) <= 6  # centred on the capitals, as in a browser


@pytest.mark.emoji_font
def test_wrap_measures_emoji_and_never_cuts_a_sequence():
    face = cards.Face(64, bold=True, emoji=cards.emoji_font_file()[0])
    family = "👨‍👩‍👧‍👦"
    word = family * 30  # one "word" several lines wide

    lines = cards.wrap(f"Family {word}", face, 1056, 3)

    per_line = int(1056 // face.length(family))
    assert lines[0] == "Family"
    assert lines[1] == family * per_line
    assert lines[2] == family * (per_line - 1) + "…"
    assert all(face.length(line) <= 1056 for line in lines)


@pytest.mark.emoji_font
def test_card_version_changes_when_the_emoji_font_comes_or_goes(settings):
    card = cards.Card(kicker="Issue #1 · 🔥 Hot", title="Fast kernels", footer="")
    with_font = card.version

    settings.CARD_EMOJI_FONT = ""

    assert card.version != with_font
    assert cards.Card(kicker=card.kicker, title="Faster", footer="").version != card.version


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


def test_item_card_names_its_section_with_the_section_emoji():
    item = published_issue().items.select_related("issue", "section", "submission").get()

    card = cards.item_card(item, [])

    section = item.section
    assert card.kicker == f"Issue #{item.issue.number} · {section.emoji} {section.heading}"


def test_issue_card_is_served_and_names_its_sections(client):
    issue = published_issue()
    card = cards.issue_card(issue, cards.issue_sections(issue))

    response = client.get(reverse("newsletter:issue-card", args=[issue.number, issue.slug]))

    assert response.status_code == 200
    assert Image.open(io.BytesIO(response.content)).size == (1200, 630)
    assert card.kicker.startswith(f"Issue #{issue.number} · ")
    section = issue.items.get().section
    assert card.footer == f"{section.emoji} {section.heading.rstrip(':')}"
    assert "immutable" not in response["Cache-Control"]  # asked without its version
