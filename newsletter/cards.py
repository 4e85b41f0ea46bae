"""Link previews: a 1200×630 PNG card per issue and per item, for `og:image`.

Pasted into Discord, Slack or a chat, an issue or item link shows its card: the site's name,
"Issue #N" and the section, the title, and the topics. The cards are drawn with Pillow in
DejaVu Sans (bundled in newsletter/fonts/, Bitstream Vera licence with DejaVu's changes in
the public domain). No font with emoji under a free licence was at hand, so the card names
the section in words ("Papers") where the newsletter puts its emoji, and emoji in titles are
left out rather than drawn as empty boxes.

Each card is cached (the Redis cache) under a version: a short hash of everything drawn on it.
When an editor changes the title, the section or the topics, the version changes, the page's
`og:image` URL changes with it (?v=...), and the next request draws the new card.
"""

from __future__ import annotations

import hashlib
import io
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.conf import settings
from django.core.cache import cache as django_cache
from django.urls import reverse
from PIL import Image, ImageDraw, ImageFont

from .models import Issue, IssueItem, Topic

SIZE = (1200, 630)
MARGIN = 72
CACHE_SECONDS = 30 * 24 * 60 * 60
FONTS = Path(__file__).resolve().parent / "fonts"
BACKGROUND = (20, 24, 38)
ACCENT = (255, 196, 66)
TEXT = (245, 246, 250)
MUTED = (170, 176, 196)
TITLE_LINES = 4


@dataclass(frozen=True)
class Card:
    """What a card shows, in order from top to bottom."""

    kicker: str  # "Issue #12 · Papers"
    title: str
    footer: str  # topics, or the issue's sections

    @property
    def version(self) -> str:
        text = "\x1f".join((self.kicker, self.title, self.footer, settings.SITE_NAME))
        return hashlib.sha256(text.encode()).hexdigest()[:12]


@cache
def _font(bold: bool, size: int) -> ImageFont.FreeTypeFont:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(FONTS / name), size)


def drawable(text: str) -> str:
    """The text without emoji and other pictographs the font has no glyph for, on one line."""
    kept = "".join(
        " " if char.isspace() else char
        for char in text
        if char.isspace()
        or unicodedata.category(char) not in {"So", "Cs", "Co", "Cn", "Cc", "Cf", "Sk"}
        or char in "©®"
    )
    return " ".join(kept.split())


def wrap(text: str, font: ImageFont.FreeTypeFont, width: int, lines: int) -> list[str]:
    """Words in lines no wider than `width`, at most `lines`; the last ends in "…" if cut."""
    result: list[str] = []
    current = ""
    words = text.split()
    for index, word in enumerate(words):
        while font.getlength(word) > width:  # a word longer than a line: cut it
            cut = len(word)
            while cut > 1 and font.getlength(word[:cut]) > width:
                cut -= 1
            if current:
                result.append(current)
                current = ""
            result.append(word[:cut])
            word = word[cut:]
        candidate = f"{current} {word}".strip()
        if font.getlength(candidate) <= width:
            current = candidate
        else:
            result.append(current)
            current = word
        if len(result) >= lines:
            return _ellipsis(result[:lines], font, width)
        if index == len(words) - 1 and current:
            result.append(current)
    if len(result) > lines:
        return _ellipsis(result[:lines], font, width)
    return result


def _ellipsis(lines: list[str], font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    last = lines[-1]
    while last and font.getlength(last + "…") > width:
        last = last[:-1]
    return [*lines[:-1], last.rstrip() + "…"]


def draw(card: Card) -> bytes:
    """The card as PNG bytes."""
    image = Image.new("RGB", SIZE, BACKGROUND)
    pen = ImageDraw.Draw(image)
    width = SIZE[0] - 2 * MARGIN
    pen.rectangle((0, 0, 16, SIZE[1]), fill=ACCENT)
    pen.text((MARGIN, MARGIN - 8), drawable(settings.SITE_NAME), font=_font(True, 34), fill=ACCENT)
    kicker = wrap(drawable(card.kicker), _font(False, 30), width, 1)
    pen.text((MARGIN, MARGIN + 44), " ".join(kicker), font=_font(False, 30), fill=MUTED)
    title = drawable(card.title) or "Untitled"
    for size in (64, 56, 48, 42):
        font = _font(True, size)
        lines = wrap(title, font, width, TITLE_LINES)
        if len(lines) <= 3 or size == 42:
            break
    y = MARGIN + 120
    for line in lines:
        pen.text((MARGIN, y), line, font=font, fill=TEXT)
        y += int(size * 1.2)
    footer = wrap(drawable(card.footer), _font(False, 28), width, 1)
    if footer:
        pen.text((MARGIN, SIZE[1] - MARGIN - 28), footer[0], font=_font(False, 28), fill=MUTED)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def png(card: Card, key: str) -> bytes:
    """The card's PNG from the cache, drawn and stored on a miss."""
    cache_key = f"card:{key}:{card.version}"
    data = django_cache.get(cache_key)
    if data is None:
        data = draw(card)
        django_cache.set(cache_key, data, CACHE_SECONDS)
    return data


# --- What each page's card shows -------------------------------------------------------------


def item_card(item: IssueItem, topics: Iterable[Topic]) -> Card:
    """An item (with its issue, section and submission loaded) and its topics."""
    submission = item.submission
    return Card(
        kicker=f"Issue #{item.issue.number} · {item.section.heading.strip().rstrip(':')}",
        title=submission.title or submission.url,
        footer=" · ".join(topic.name for topic in topics),
    )


def item_card_url(item: IssueItem, topics: Sequence[Topic]) -> str:
    card = item_card(item, topics)
    return f"{reverse('newsletter:item-card', args=[item.submission_id])}?v={card.version}"


def issue_card(issue: Issue, sections: Iterable[str]) -> Card:
    published = f" · {issue.published_at:%-d %B %Y}" if issue.published_at else ""
    return Card(
        kicker=f"Issue #{issue.number}{published}",
        title=issue.title,
        footer=" · ".join(heading.strip().rstrip(":") for heading in sections),
    )


def issue_sections(issue: Issue) -> list[str]:
    """The headings of the sections the issue has items in, in order."""
    return list(
        issue.items.order_by("section__position", "section_id")
        .values_list("section__heading", flat=True)
        .distinct()
    )


def issue_card_url(issue: Issue, sections: Sequence[str]) -> str:
    card = issue_card(issue, sections)
    path = reverse("newsletter:issue-card", args=[issue.number, issue.slug])
    return f"{path}?v={card.version}"
