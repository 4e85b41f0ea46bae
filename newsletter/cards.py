"""Link previews: a 1200×630 PNG card per issue and per item, for `og:image`.

Pasted into Discord, Slack or a chat, an issue or item link shows its card: the site's name,
"Issue #N" and the section with its emoji ("📰 Interesting papers and blog posts"), the title,
and the topics (an issue's card: its sections). Words are drawn with Pillow in DejaVu Sans
(bundled in newsletter/fonts/, Bitstream Vera licence with DejaVu's changes in the public
domain); emoji in Noto Color Emoji (SIL Open Font License), found at run time: the setting
CARD_EMOJI_FONT, then the usual places of the distributions' packages (Debian's
fonts-noto-color-emoji). It is 10 MB, so the repository does not carry it. Without it the card
keeps to words: emoji are left out rather than drawn as empty boxes, and the page never fails.

Noto Color Emoji is a bitmap font (CBDT) that FreeType loads only at 109 px: each emoji sequence
is drawn at that size onto its own transparent image, scaled to the text's size (Lanczos) and
pasted on the text's baseline. A line is split into runs (`runs`): emoji sequences (keycaps,
flags, skin tones, ZWJ sequences such as 👨‍👩‍👧‍👦, tag sequences) go to the emoji font and the
rest to DejaVu, so © or ™ without the emoji selector stay text. Wrapping and the "…" measure
both, and never cut inside a sequence. With libraqm (in Pillow's wheels) a ZWJ sequence or a
flag is one glyph; without it, its parts are drawn side by side.

Each card is cached (the Redis cache) under a version: a short hash of everything drawn on it
and of the emoji font in use. When an editor changes the title, the section or the topics, or
the emoji font is installed, removed or upgraded, the version changes, the page's `og:image`
URL changes with it (?v=...), and the next request draws the new card.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import regex
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
FOOTER_LINES = 2
SEPARATOR = " · "
# Bump when the drawing changes, so every card is drawn anew.
DESIGN = "2"

EMOJI_FONT_SIZE = 109  # the one size of Noto Color Emoji's bitmaps
EMOJI_FONT_PLACES = (
    "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf",  # Debian, Ubuntu: fonts-noto-color-emoji
    "/usr/share/fonts/noto/NotoColorEmoji.ttf",  # Arch: noto-fonts-emoji
    "/usr/share/fonts/google-noto-color-emoji-fonts/NotoColorEmoji.ttf",  # Fedora
    "/usr/local/share/fonts/NotoColorEmoji.ttf",
)

# One emoji sequence (Unicode TS #51), left to right; every branch reads a bounded number of
# characters per element, so a scan is linear in the text.
EMOJI = regex.compile(
    r"""
    [#*0-9]\uFE0F?\u20E3                            # keycap: 1️⃣ #️⃣
    | \p{RI}{1,2}                                   # flag: 🇫🇷 (paired from the left)
    | (?:\p{Emoji_Presentation}(?!\uFE0E)           # 🔥, unless asked for as text
      | \p{Extended_Pictographic}                   # ❤️ ©️ ☝🏽 ❤️‍🔥; © and ™ alone stay text
        (?=[\uFE0F\u200D\U0001F3FB-\U0001F3FF\U000E0020-\U000E007F])
      )
      \p{Emoji_Modifier}?\uFE0F?                    # skin tone, emoji presentation
      [\U000E0020-\U000E007E]*\U000E007F?           # tags: 🏴󠁧󠁢󠁳󠁣󠁴󠁿
      (?:\u200D\p{Extended_Pictographic}\p{Emoji_Modifier}?\uFE0F?)*  # ZWJ: 👨‍👩‍👧‍👦 🏳️‍🌈
    """,
    regex.VERBOSE,
)
# Never drawn from the text font: controls, format characters (ZWJ), private use, unassigned,
# and variation selectors left over from emoji.
_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn"}
_SELECTORS = {"\ufe0e", "\ufe0f", "\u20e3"}


def runs(text: str) -> list[tuple[bool, str]]:
    """The text as (is_emoji, part) runs, in order; emoji runs are one sequence each."""
    result: list[tuple[bool, str]] = []
    start = 0
    for match in EMOJI.finditer(text):
        if match.start() > start:
            result.append((False, text[start : match.start()]))
        result.append((True, match.group()))
        start = match.end()
    if start < len(text):
        result.append((False, text[start:]))
    return result


def emoji_font_file() -> tuple[str, int] | None:
    """The emoji font to draw with and its size in bytes: CARD_EMOJI_FONT, then the usual places.

    None where no font is found or Pillow cannot draw it in colour; an empty CARD_EMOJI_FONT
    turns emoji off. A few stat calls: cheap enough for every page that links its card.
    """
    configured = settings.CARD_EMOJI_FONT
    if not configured:
        return None
    for place in dict.fromkeys((configured, *EMOJI_FONT_PLACES)):
        try:
            size = os.path.getsize(place)
        except OSError:
            continue
        if _emoji_font_works(place, size):
            return place, size
    return None


@cache
def _emoji_font_works(path: str, size: int) -> bool:
    """Whether Pillow's FreeType loads the font and draws an emoji from it in colour."""
    try:
        font = _emoji_font(path)
        image = Image.new("RGBA", (2 * EMOJI_FONT_SIZE, 2 * EMOJI_FONT_SIZE))
        ImageDraw.Draw(image).text((0, 0), "🔥", font=font, embedded_color=True)
    except (OSError, ValueError):
        return False
    return image.getbbox() is not None


@cache
def _emoji_font(path: str) -> ImageFont.FreeTypeFont:
    # Opened here: given a path it cannot load, Pillow would look for a font of that name elsewhere.
    with open(path, "rb") as file:
        return ImageFont.truetype(file, EMOJI_FONT_SIZE)


@lru_cache(maxsize=4096)
def _emoji_width(path: str, sequence: str, size: int) -> int:
    """How wide `_emoji_image` will be, measured without drawing (wrapping measures a lot)."""
    width = max(1, math.ceil(_emoji_font(path).getlength(sequence)))
    return max(1, round(width * size / EMOJI_FONT_SIZE))


@lru_cache(maxsize=512)
def _emoji_image(path: str, sequence: str, size: int) -> Image.Image:
    """One emoji sequence drawn at the font's size and scaled so its em is `size` px."""
    font = _emoji_font(path)
    ascent, descent = font.getmetrics()
    width = max(1, math.ceil(font.getlength(sequence)))
    image = Image.new("RGBA", (width, ascent + descent))
    ImageDraw.Draw(image).text((0, ascent), sequence, font=font, embedded_color=True, anchor="ls")
    scaled_height = max(1, round((ascent + descent) * size / EMOJI_FONT_SIZE))
    scaled = (_emoji_width(path, sequence, size), scaled_height)
    return image.resize(scaled, Image.Resampling.LANCZOS)


@cache
def _font(bold: bool, size: int) -> ImageFont.FreeTypeFont:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(FONTS / name), size)


@cache
def _has_glyph(char: str) -> bool:
    """Whether both DejaVu fonts draw the character (a missing one comes out as a box)."""
    for bold in (False, True):
        font = _font(bold, 30)
        missing = font.getmask("\U0010fffd")  # private use: never in the font
        mask = font.getmask(char)
        if mask.size == missing.size and bytes(mask) == bytes(missing):
            return False
    return True


def _text_char(char: str) -> str:
    """The character as the text font draws it: kept, a space, or left out."""
    if char.isspace():
        return " "
    category = unicodedata.category(char)
    if category in _INVISIBLE or char in _SELECTORS:
        return ""
    if category[0] == "S" and not _has_glyph(char):
        return ""
    return char


def drawable(text: str, *, emoji: bool) -> str:
    """The text on one line, as drawn: without what neither font draws, emoji only if `emoji`."""
    kept = "".join(
        (part if emoji else " ") if is_emoji else "".join(map(_text_char, part))
        for is_emoji, part in runs(text)
    )
    return " ".join(kept.split())


@dataclass(frozen=True)
class Face:
    """A size and weight of DejaVu Sans, with emoji from `emoji` (a font's path) if given."""

    size: int
    bold: bool = False
    emoji: str | None = None

    @property
    def font(self) -> ImageFont.FreeTypeFont:
        return _font(self.bold, self.size)

    def length(self, text: str) -> float:
        if self.emoji is None:
            return self.font.getlength(text)
        return sum(
            _emoji_width(self.emoji, part, self.size) if is_emoji else self.font.getlength(part)
            for is_emoji, part in runs(text)
        )

    def draw(self, image: Image.Image, xy: tuple[int, int], text: str, fill: tuple) -> None:
        """The text with its top-left at `xy`: words and emoji on one baseline."""
        pen = ImageDraw.Draw(image)
        x, baseline = float(xy[0]), xy[1] + self.font.getmetrics()[0]
        for is_emoji, part in runs(text) if self.emoji else [(False, text)]:
            if is_emoji:
                picture = _emoji_image(self.emoji, part, self.size)
                ascent = round(
                    _emoji_font(self.emoji).getmetrics()[0] * self.size / EMOJI_FONT_SIZE
                )
                image.paste(picture, (round(x), baseline - ascent), picture)
                x += picture.width
            else:
                pen.text((x, baseline), part, font=self.font, fill=fill, anchor="ls")
                x += self.font.getlength(part)


def _units(text: str) -> list[str]:
    """The text in pieces never to be cut: an emoji sequence, or one other character."""
    units: list[str] = []
    for is_emoji, part in runs(text):
        units.extend([part] if is_emoji else part)
    return units


def _fit(word: str, face: Face, width: int) -> tuple[str, str]:
    """A word too long for a line, cut after the most pieces that fit (one at least)."""
    units = _units(word)
    low, high = 1, len(units) - 1
    while low < high:
        middle = (low + high + 1) // 2
        if face.length("".join(units[:middle])) <= width:
            low = middle
        else:
            high = middle - 1
    return "".join(units[:low]), "".join(units[low:])


def wrap(text: str, face: Face, width: int, lines: int) -> list[str]:
    """Words in lines no wider than `width`, at most `lines`; the last ends in "…" if cut."""
    result: list[str] = []
    current = ""
    for word in text.split():
        while face.length(word) > width and len(_units(word)) > 1:  # longer than a line: cut it
            head, word = _fit(word, face, width)
            if current:
                result.append(current)
                current = ""
            result.append(head)
        candidate = f"{current} {word}" if current else word
        if face.length(candidate) <= width:
            current = candidate
        else:
            result.append(current)
            current = word
        if len(result) >= lines:  # full, and `current` is left over
            return _ellipsis(result[:lines], face, width)
    if current:
        result.append(current)
    return result


def _ellipsis(lines: list[str], face: Face, width: int) -> list[str]:
    units = _units(lines[-1])
    while units and face.length("".join(units) + "…") > width:
        units.pop()
    return [*lines[:-1], "".join(units).rstrip() + "…"]


def pack(text: str, face: Face, width: int, lines: int) -> list[str]:
    """A " · " list in lines no wider than `width`, at most `lines`, cut only between its
    entries where it can; the last line ends in "…" if the list goes on."""
    result: list[str] = []
    for entry in text.split(SEPARATOR):
        if result and face.length(result[-1] + SEPARATOR + entry) <= width:
            result[-1] += SEPARATOR + entry
        elif len(result) < lines:
            result.append(entry)
        else:
            result[-1] += SEPARATOR + entry  # too much: the ellipsis below marks the cut
            break
    return [wrap(line, face, width, 1)[0] for line in result if line]


@dataclass(frozen=True)
class Card:
    """What a card shows, in order from top to bottom."""

    kicker: str  # "Issue #12 · 📰 Interesting papers and blog posts"
    title: str
    footer: str  # topics, or the issue's sections

    @property
    def version(self) -> str:
        emoji = emoji_font_file()
        font = f"{os.path.basename(emoji[0])}:{emoji[1]}" if emoji else "no emoji"
        parts = (DESIGN, font, self.kicker, self.title, self.footer, settings.SITE_NAME)
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:12]


def draw(card: Card) -> bytes:
    """The card as PNG bytes."""
    emoji_file = emoji_font_file()
    emoji = emoji_file[0] if emoji_file else None
    with_emoji = emoji is not None
    image = Image.new("RGB", SIZE, BACKGROUND)
    ImageDraw.Draw(image).rectangle((0, 0, 16, SIZE[1]), fill=ACCENT)
    width = SIZE[0] - 2 * MARGIN
    site = Face(34, bold=True, emoji=emoji)
    site.draw(image, (MARGIN, MARGIN - 8), drawable(settings.SITE_NAME, emoji=with_emoji), ACCENT)
    kicker = Face(30, emoji=emoji)
    for line in wrap(drawable(card.kicker, emoji=with_emoji), kicker, width, 1):
        kicker.draw(image, (MARGIN, MARGIN + 44), line, MUTED)
    title = drawable(card.title, emoji=with_emoji) or "Untitled"
    for size in (64, 56, 48, 42):
        face = Face(size, bold=True, emoji=emoji)
        lines = wrap(title, face, width, TITLE_LINES)
        if len(lines) <= 3 or size == 42:
            break
    y = MARGIN + 120
    for line in lines:
        face.draw(image, (MARGIN, y), line, TEXT)
        y += int(face.size * 1.2)
    footer = Face(28, emoji=emoji)
    lines = pack(drawable(card.footer, emoji=with_emoji), footer, width, FOOTER_LINES)
    for index, line in enumerate(lines):
        y = SIZE[1] - MARGIN - 28 - int(28 * 1.3) * (len(lines) - 1 - index)
        footer.draw(image, (MARGIN, y), line, MUTED)
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


def section_label(emoji: str, heading: str) -> str:
    """A section as the card names it: "📰 Interesting papers and blog posts"."""
    heading = heading.strip().rstrip(":")
    if not emoji or EMOJI.match(heading):  # the heading brings its own emoji
        return heading
    return f"{emoji.strip()} {heading}"


def item_card(item: IssueItem, topics: Iterable[Topic]) -> Card:
    """An item (with its issue, section and submission loaded) and its topics."""
    submission = item.submission
    section = section_label(item.section.emoji, item.section.heading)
    return Card(
        kicker=f"Issue #{item.issue.number} · {section}",
        title=submission.title or submission.url,
        footer=SEPARATOR.join(topic.name for topic in topics),
    )


def item_card_url(item: IssueItem, topics: Sequence[Topic]) -> str:
    card = item_card(item, topics)
    return f"{reverse('newsletter:item-card', args=[item.submission_id])}?v={card.version}"


def issue_card(issue: Issue, sections: Iterable[str]) -> Card:
    """An issue and its sections' labels (`issue_sections`)."""
    published = f" · {issue.published_at:%-d %B %Y}" if issue.published_at else ""
    return Card(
        kicker=f"Issue #{issue.number}{published}",
        title=issue.title,
        footer=SEPARATOR.join(sections),
    )


def issue_sections(issue: Issue) -> list[str]:
    """The labels (emoji and heading) of the sections the issue has items in, in order."""
    rows = (
        issue.items.order_by("section__position", "section_id")
        .values_list("section__emoji", "section__heading")
        .distinct()
    )
    return [section_label(emoji, heading) for emoji, heading in rows]


def issue_card_url(issue: Issue, sections: Sequence[str]) -> str:
    card = issue_card(issue, sections)
    path = reverse("newsletter:issue-card", args=[issue.number, issue.slug])
    return f"{path}?v={card.version}"
