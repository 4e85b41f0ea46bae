"""Splitting an issue into Discord messages that fit (plain strings, no Django models)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import regex
from django.conf import settings

from .cuts import (
    CODE_LINE,
    FORCED,
    GRAPHEME,
    ITEM,
    LINE,
    PARAGRAPH,
    SECTION,
    SENTENCE,
    WORD,
    keep_items,
    plan,
)

# ---------------------------------------------------------------------------------------------
# Splitting an issue into messages
# ---------------------------------------------------------------------------------------------
#
# Discord rejects message content longer than 2000 code points (Python's `len`) and empty
# content. An issue is longer than that, so it goes out as several messages. The splitter:
#
# - cuts only at whitespace, preferring, from best to worst: between sections, between items,
#   between paragraphs, between lines, between sentences, between lines of a code block,
#   between words; a single word longer than a whole message is cut between grapheme clusters;
# - never cuts inside a protected span: a masked link `[text](url)` (its URL may hold balanced
#   parentheses), an `<https://...>` URL, a bare URL, a timestamp `<t:1681491600:F>` / `<t:123>`,
#   a mention `<@123>` `<@!123>` `<@&123>` `<#123>`, a custom emoji `<:name:123>` / `<a:name:123>`,
#   a slash-command mention `</name:123>`, an inline code span, or an extended grapheme cluster
#   of Unicode (emoji ZWJ sequences, skin tones, flags, keycaps, combining accents, Hangul
#   syllables, Indic conjuncts);
# - cuts a fenced code block only between its lines: the message is closed with the fence's
#   backticks and the next one reopens with the original opening line (```python), and that
#   added text counts against the limit;
# - never leaves a heading line (or a list/quote marker) at the bottom of a message: it moves to
#   the next message together with its first content;
# - keeps each item of a section in one message when it fits in one (with its heading, for the
#   first item of a section); an item too long for that is cut, but its title still goes with
#   the start of its summary;
# - drops the whitespace at each cut, so every message is stripped and never empty.
#
# Count guarantee: the number of messages is at most one more than the least possible for the
# same cut points (`cuts.plan` proves it with a look-ahead, see there).
#
# Last resort (pathological input only): when a protected span, a heading with its first word,
# or a fence with its first line cannot fit in one message at all, it is cut anyway, between
# grapheme clusters (between code points if a cluster alone is too long; a span holding spaces
# may also lose a space at such a cut), and a heading may then end a message. A fence whose
# opening and closing lines would take more than half the limit is treated as plain text. A
# limit below 1 raises ValueError.

DISCORD_MESSAGE_LIMIT = 2000


def default_limit() -> int:
    """`settings.DISCORD_MESSAGE_LIMIT`, read when called (2000 when unset or unconfigured)."""
    if not settings.configured:
        return DISCORD_MESSAGE_LIMIT
    return getattr(settings, "DISCORD_MESSAGE_LIMIT", DISCORD_MESSAGE_LIMIT)


@dataclass(frozen=True)
class Item:
    """An item and its title, the start of `text` that never ends a message on its own."""

    text: str
    title: str = ""  # a prefix of `text`; empty: the first line


@dataclass(frozen=True)
class Section:
    """One section of an issue: a heading line such as "## Tool spotlight" and its items.

    Each item is Markdown, possibly several paragraphs or a fenced code block; a plain string's
    title is its first line ("📰 [Title](url)", the summary below).
    """

    heading: str
    items: Sequence[str | Item] = ()


def document_text(sections: Sequence[Section], *, preamble: str = "", closing: str = "") -> str:
    """The issue as one Markdown text: what the messages of `split_document` add up to.

    Parts are stripped; a heading is followed by its first item on the next line, items and
    sections are separated by a blank line (the layout of the March 2023 edition).
    """
    text, _ = _layout(sections, preamble, closing)
    return text


def split_document(
    sections: Sequence[Section],
    *,
    limit: int | None = None,
    preamble: str = "",
    closing: str = "",
) -> list[str]:
    """Split an issue into Discord messages of at most `limit` code points each.

    `limit` defaults to `settings.DISCORD_MESSAGE_LIMIT`. Joining the messages with newlines
    gives `document_text(...)` back, up to whitespace at the cuts and the fence lines added
    where a code block had to be split.
    """
    if limit is None:
        limit = default_limit()
    text, blocks = _layout(sections, preamble, closing)
    return _split(text, blocks, limit)


def split_text(text: str, *, limit: int) -> list[str]:
    """Split free Markdown text into messages of at most `limit` code points each.

    Without the issue's structure, a heading line counts as the start of a section and a blank
    line as a paragraph break.
    """
    text = _newlines(text)
    start = len(text) - len(text.lstrip())
    end = len(text.rstrip())
    if start >= end:
        return []
    return _split(text, [_Block(start, end, SECTION, False)], limit)


_PROTECTED = re.compile(
    r"""
      (?P<ticks>`+)(?!`)(?s:(?:(?!\n[ \t]*\n).)+?)(?<!`)(?P=ticks)(?!`)   # `inline code`
    | \[(?:[^\[\]\n]|\[[^\[\]\n]*\])*\]                                  # masked link: [text]
      \((?:<[^<>\n]*>|(?:[^\s()]|\((?:[^\s()]|\([^\s()]*\))*\))*)\)      #   (url), nested ()
    | <https?://[^\s<>]+>                                                # <url>, no preview
    | <t:-?\d+(?::[tTdDfFsSR])?>                                         # timestamp
    | <(?:@[!&]?|\#)\d+>                                                 # user, role, channel
    | <a?:\w+:\d+>                                                       # custom emoji
    | </[\w-]+(?:\ [\w-]+){0,2}:\d+>                                     # slash command
    | https?://[^\s<>]+                                                  # bare URL
    """,
    re.VERBOSE,
)
_WHITESPACE = re.compile(r"\s+")
_HEADING = re.compile(r" {0,3}#{1,6}[ \t]+\S")
_MARKER = re.compile(r"[-*+]|\d{1,9}[.)]|>{1,3}|-#")
_SENTENCE_END = re.compile(r"[.!?…][)\]\"'”’»*_~|]*\Z")
_FENCE_OPEN = re.compile(r" {0,3}(`{3,})[^`\n]*")
_CODE_CHUNK = re.compile(r"\s*\S+")
# Extended grapheme clusters (Unicode's UAX #29), read only in a piece that must be cut.
_GRAPHEME_CLUSTER = regex.compile(r"\X")


@dataclass(frozen=True)
class _Block:
    start: int
    end: int
    level: int  # break level before the block
    heading: bool  # a section heading given by the structure
    title_end: int = -1  # an item: where its title ends; -1 for anything else


@dataclass(frozen=True)
class _Fence:
    opener: str  # the opening line, e.g. "```python"
    ticks: str


@dataclass(slots=True)
class _Piece:
    """An unbreakable run of the text, and the break just before it."""

    start: int
    end: int
    kind: str = "text"  # "text", or "open" / "code" / "close" for the lines of a fence
    fence: int = -1
    protected: tuple[tuple[int, int], ...] = ()  # protected spans inside a "text" piece
    level: int = WORD  # level of the break before this piece
    glue: bool = False  # True: never cut before this piece
    heading: bool = False
    marker: bool = False


def _layout(sections: Sequence[Section], preamble: str, closing: str) -> tuple[str, list[_Block]]:
    chunks: list[tuple[str, int, bool, int]] = []  # text, level, heading, title length
    preamble, closing = _newlines(preamble).strip(), _newlines(closing).strip()
    if preamble:
        chunks.append((preamble, SECTION, False, -1))
    for section in sections:
        heading = _newlines(section.heading).strip()
        if heading:
            chunks.append((heading, SECTION, True, -1))
        items = [_item(item) for item in section.items]
        items = [item for item in items if item[0]]
        for index, (item, title) in enumerate(items):
            # The first item stays on the line after its heading.
            level = ITEM if index else (LINE if heading else SECTION)
            chunks.append((item, level, False, title))
    if closing:
        chunks.append((closing, SECTION, False, -1))

    parts: list[str] = []
    blocks: list[_Block] = []
    position = 0
    for index, (chunk, level, heading, title) in enumerate(chunks):
        if index:
            separator = "\n" if level == LINE else "\n\n"
            parts.append(separator)
            position += len(separator)
        title_end = position + title if title >= 0 else -1
        blocks.append(_Block(position, position + len(chunk), level, heading, title_end))
        parts.append(chunk)
        position += len(chunk)
    return "".join(parts), blocks


def _item(item: str | Item) -> tuple[str, int]:
    """An item's text, stripped, and the length of its title."""
    if isinstance(item, str):
        item = Item(item)
    text = _newlines(item.text).strip()
    title = _newlines(item.title).strip() or text.split("\n", 1)[0]
    return text, min(len(title), len(text))


def _newlines(text: str) -> str:
    """Form data arrives with CRLF line ends; Markdown here is read line by line on LF."""
    return text.replace("\r\n", "\n")


def _split(text: str, blocks: Sequence[_Block], limit: int) -> list[str]:
    if limit < 1:
        raise ValueError(f"message limit must be positive, got {limit}")
    fences: list[_Fence] = []
    pieces: list[_Piece] = []
    for block in blocks:
        pieces.extend(_block_pieces(text, block, fences, limit))
    if not pieces:
        return []
    pieces = _mark_lines(text, pieces)
    pieces = _break_oversized(text, pieces, fences, limit)

    reopen, close = _lengths(pieces, fences)
    items = [(block.start, block.end, block.title_end) for block in blocks if block.title_end >= 0]
    keep_items(pieces, items, reopen, close, limit)
    messages = []
    for a, b in plan(pieces, reopen, close, limit):
        first, last = pieces[a], pieces[b - 1]
        body = text[first.start : last.end]
        if _reopen_length(first, fences):
            body = fences[first.fence].opener + "\n" + body
        if b < len(pieces) and _close_length(last, pieces[b], fences):
            body += "\n" + fences[last.fence].ticks
        # Only a protected span cut as a last resort can leave whitespace at an edge.
        body = body.strip()
        if body:
            messages.append(body)
    return messages


# --- Tokenising -------------------------------------------------------------------------------


def _block_pieces(text: str, block: _Block, fences: list[_Fence], limit: int) -> list[_Piece]:
    lines = []
    position = block.start
    while position < block.end:
        newline = text.find("\n", position, block.end)
        line_end = block.end if newline == -1 else newline
        lines.append((position, line_end))
        position = line_end + 1

    pieces: list[_Piece] = []
    prose_start = None
    index = 0
    while index < len(lines):
        line_start, line_end = lines[index]
        close_index = _fence_close_index(text, lines, index, limit)
        if close_index is None:
            if prose_start is None:
                prose_start = line_start
            index += 1
            continue
        if prose_start is not None:
            pieces.extend(_prose_pieces(text, prose_start, lines[index - 1][1]))
            prose_start = None
        opener = text[line_start:line_end].strip()
        fence = len(fences)
        fences.append(_Fence(opener, opener[: len(opener) - len(opener.lstrip("`"))]))
        pieces.append(_Piece(*_stripped(text, line_start, line_end), kind="open", fence=fence))
        for code_start, code_end in lines[index + 1 : close_index]:
            if text[code_start:code_end].strip():
                pieces.append(_Piece(code_start, code_end, kind="code", fence=fence))
        close_start, close_end = lines[close_index]
        pieces.append(_Piece(*_stripped(text, close_start, close_end), kind="close", fence=fence))
        index = close_index + 1
    if prose_start is not None:
        pieces.extend(_prose_pieces(text, prose_start, block.end))

    for index, piece in enumerate(pieces):
        if index:
            piece.level, piece.glue = _classify(text, pieces[index - 1], piece)
        else:
            piece.level, piece.glue = block.level, False
        piece.heading = block.heading
    return pieces


def _fence_close_index(text: str, lines: list[tuple[int, int]], index: int, limit: int):
    """Index of the line closing a fence opened at `index`, or None if it opens none."""
    opening = _FENCE_OPEN.fullmatch(text, *lines[index])
    if not opening:
        return None
    ticks = len(opening.group(1))
    opener_length = len(text[slice(*lines[index])].strip())
    # Reopening and closing must leave most of a message for the code itself.
    if opener_length + ticks + 2 > limit // 2:
        return None
    closing = re.compile(rf" {{0,3}}`{{{ticks},}}[ \t]*")
    for later in range(index + 1, len(lines)):
        if closing.fullmatch(text, *lines[later]):
            return later
    return None  # an unclosed fence is shown as plain text by Discord


def _stripped(text: str, start: int, end: int) -> tuple[int, int]:
    chunk = text[start:end]
    return start + len(chunk) - len(chunk.lstrip()), start + len(chunk.rstrip())


def _prose_pieces(text: str, start: int, end: int) -> list[_Piece]:
    """Words, where a protected span (which may hold spaces) counts as part of its word."""
    spans = [match.span() for match in _PROTECTED.finditer(text, start, end)]
    breaks = []
    span_index = 0
    for match in _WHITESPACE.finditer(text, start, end):
        while span_index < len(spans) and spans[span_index][1] <= match.start():
            span_index += 1
        inside = span_index < len(spans) and spans[span_index][0] <= match.start()
        if not inside:
            breaks.append(match.span())

    pieces = []
    word_start, span_index = start, 0
    for break_start, break_end in [*breaks, (end, end)]:
        if break_start > word_start:
            first = span_index
            while span_index < len(spans) and spans[span_index][1] <= break_start:
                span_index += 1
            inner = tuple(spans[first:span_index])
            pieces.append(_Piece(word_start, break_start, protected=inner))
        word_start = break_end
    return pieces


def _classify(text: str, previous: _Piece, piece: _Piece) -> tuple[int, bool]:
    """Level of the break between two pieces of one block, and whether it is forbidden."""
    if previous.kind == "open" or piece.kind == "close":
        return LINE, True
    if previous.kind == "code" and piece.kind == "code":
        return CODE_LINE, False
    separator = text[previous.end : piece.start]
    newlines = separator.count("\n")
    if newlines >= 2:
        return PARAGRAPH, False
    if newlines == 1:
        return LINE, False
    if _SENTENCE_END.search(text[previous.start : previous.end]):
        return SENTENCE, False
    return WORD, False


def _mark_lines(text: str, pieces: list[_Piece]) -> list[_Piece]:
    """Keep heading lines and list markers with what follows them."""
    headings: dict[int, bool] = {}
    for piece in pieces:
        if piece.kind != "text":
            continue
        line_start = text.rfind("\n", 0, piece.start) + 1
        if line_start not in headings:
            headings[line_start] = bool(_HEADING.match(text, line_start))
        piece.heading = piece.heading or headings[line_start]
        first_on_line = not text[line_start : piece.start].strip()
        piece.marker = first_on_line and bool(_MARKER.fullmatch(text, piece.start, piece.end))

    for previous, piece in pairwise(pieces):
        if piece.heading and not previous.heading:
            piece.level = max(piece.level, SECTION)
        marker_before = previous.marker and "\n" not in text[previous.end : piece.start]
        if previous.heading or marker_before:
            piece.glue = True
    return pieces


# --- Message length ---------------------------------------------------------------------------


def _reopen_length(piece: _Piece, fences: Sequence[_Fence]) -> int:
    """Characters added before a message that starts inside a fence."""
    if piece.kind in ("code", "close"):
        return len(fences[piece.fence].opener) + 1
    return 0


def _close_length(previous: _Piece, piece: _Piece, fences: Sequence[_Fence]) -> int:
    """Characters added after a message that ends inside a fence."""
    if (
        previous.fence == piece.fence != -1
        and previous.kind in ("open", "code")
        and piece.kind in ("code", "close")
    ):
        return len(fences[piece.fence].ticks) + 1
    return 0


def _lengths(pieces: Sequence[_Piece], fences: Sequence[_Fence]):
    reopen = [_reopen_length(piece, fences) for piece in pieces]
    close = [0, *(_close_length(a, b, fences) for a, b in pairwise(pieces)), 0]
    return reopen, close


# --- Last resort: cutting what cannot fit -----------------------------------------------------


def _break_oversized(
    text: str, pieces: list[_Piece], fences: Sequence[_Fence], limit: int
) -> list[_Piece]:
    """Allow cuts inside every run of glued pieces that cannot fit in one message."""
    reopen, close = _lengths(pieces, fences)
    cuts = [index for index, piece in enumerate(pieces) if index == 0 or not piece.glue]
    result = []
    for a, b in pairwise([*cuts, len(pieces)]):
        size = pieces[b - 1].end - pieces[a].start + reopen[a] + close[b]
        if size <= limit:
            result.extend(pieces[a:b])
            continue
        for index in range(a, b):
            piece = pieces[index]
            level = piece.level if index == a else FORCED
            room = limit
            if piece.kind == "code":
                fence = fences[piece.fence]
                room -= len(fence.opener) + 1 + len(fence.ticks) + 1
            if piece.end - piece.start <= room:
                piece.level, piece.glue = level, False
                result.append(piece)
            else:
                result.extend(_cut_piece(text, piece, level, room))
    return result


def _cut_piece(text: str, piece: _Piece, level: int, room: int) -> list[_Piece]:
    """Pieces of a piece longer than `room`, cut at the best places it has."""
    units: list[tuple[int, int, int]] = []  # start, end, level of the break before
    if piece.kind == "code":
        chunks = [match.span() for match in _CODE_CHUNK.finditer(text, piece.start, piece.end)]
        if chunks:
            chunks[-1] = (chunks[-1][0], piece.end)  # trailing blanks stay with the last chunk
        for start, end in chunks:
            units.extend(_cluster_units(text, start, end, WORD, GRAPHEME, room))
    elif piece.kind == "text":
        position = piece.start
        for start, end in piece.protected:
            units.extend(_cluster_units(text, position, start, GRAPHEME, GRAPHEME, room))
            if end - start <= room:
                units.append((start, end, GRAPHEME))
            else:
                units.extend(_cluster_units(text, start, end, GRAPHEME, FORCED, room))
            position = end
        units.extend(_cluster_units(text, position, piece.end, GRAPHEME, GRAPHEME, room))
    else:
        units.extend(_cluster_units(text, piece.start, piece.end, FORCED, FORCED, room))

    return [
        _Piece(
            start,
            end,
            kind=piece.kind,
            fence=piece.fence,
            level=level if index == 0 else unit_level,
            heading=piece.heading,
        )
        for index, (start, end, unit_level) in enumerate(units)
    ]


def _cluster_units(text: str, start: int, end: int, first: int, inner: int, room: int):
    """Grapheme clusters of text[start:end]; a cluster longer than `room` gives code points."""
    if start >= end:
        return []
    if end - start <= room:
        return [(start, end, first)]
    units = []
    for cluster in _GRAPHEME_CLUSTER.finditer(text, start, end):
        cluster_start, cluster_end = cluster.span()
        level = inner if units else first
        if cluster_end - cluster_start <= room:
            units.append((cluster_start, cluster_end, level))
            continue
        if room < 1:
            raise ValueError("message limit too small for a fenced code block")
        for position in range(cluster_start, cluster_end):
            units.append((position, position + 1, FORCED if units else level))
    return units
