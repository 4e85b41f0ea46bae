"""Discord delivery for newsletter issues.

This module holds no Django models: it works on plain strings so the renderer, the delivery
service and the tests can all call it.
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from django.conf import settings

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
#   a slash-command mention `</name:123>`, an inline code span, or a grapheme cluster (emoji
#   ZWJ sequences, skin tones, flags, keycaps, variation selectors, combining accents);
# - cuts a fenced code block only between its lines: the message is closed with the fence's
#   backticks and the next one reopens with the original opening line (```python), and that
#   added text counts against the limit;
# - never leaves a heading line (or a list/quote marker) at the bottom of a message: it moves to
#   the next message together with its first content;
# - drops the whitespace at each cut, so every message is stripped and never empty.
#
# Count guarantee: the number of messages is at most one more than the least possible for the
# same cut points (`_plan` proves it with a look-ahead, see there).
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
class Section:
    """One section of an issue: a heading line such as "## Tool spotlight" and its items.

    Each item is Markdown, possibly several paragraphs or a fenced code block.
    """

    heading: str
    items: Sequence[str] = ()


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
    return _split(text, [_Block(start, end, _SECTION, False)], limit)


# Break levels, from worst to best. `_END` is the end of the text.
_FORCED, _GRAPHEME, _WORD, _CODE_LINE, _SENTENCE, _LINE, _PARAGRAPH, _ITEM, _SECTION, _END = range(
    10
)
# What a cut at each level costs; the planner minimises the total with `_fill_cost`. So a cut at
# a better level wins as long as it leaves its message about two thirds full; below that a
# fuller message cut at a worse level wins (the rule of thumb editors use by hand).
_CUT_COST = {
    _FORCED: 100.0,
    _GRAPHEME: 20.0,
    _WORD: 8.0,
    _CODE_LINE: 6.0,
    _SENTENCE: 5.0,
    _LINE: 3.0,
    _PARAGRAPH: 2.0,
    _ITEM: 1.0,
    _SECTION: 0.0,
    _END: 0.0,
}
# One message more than the minimum is worth it only to avoid cutting between words or worse.
_EXTRA_MESSAGE_COST = 7.0

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


@dataclass(frozen=True)
class _Block:
    start: int
    end: int
    level: int  # break level before the block
    heading: bool  # a section heading given by the structure


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
    level: int = _WORD  # level of the break before this piece
    glue: bool = False  # True: never cut before this piece
    heading: bool = False
    marker: bool = False


def _layout(sections: Sequence[Section], preamble: str, closing: str) -> tuple[str, list[_Block]]:
    chunks: list[tuple[str, int, bool]] = []
    preamble, closing = _newlines(preamble).strip(), _newlines(closing).strip()
    if preamble:
        chunks.append((preamble, _SECTION, False))
    for section in sections:
        heading = _newlines(section.heading).strip()
        if heading:
            chunks.append((heading, _SECTION, True))
        items = [_newlines(item).strip() for item in section.items]
        items = [item for item in items if item]
        for index, item in enumerate(items):
            # The first item stays on the line after its heading.
            level = _ITEM if index else (_LINE if heading else _SECTION)
            chunks.append((item, level, False))
    if closing:
        chunks.append((closing, _SECTION, False))

    parts: list[str] = []
    blocks: list[_Block] = []
    position = 0
    for index, (chunk, level, heading) in enumerate(chunks):
        if index:
            separator = "\n" if level == _LINE else "\n\n"
            parts.append(separator)
            position += len(separator)
        blocks.append(_Block(position, position + len(chunk), level, heading))
        parts.append(chunk)
        position += len(chunk)
    return "".join(parts), blocks


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

    messages = []
    for a, b in _plan(pieces, fences, limit):
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
        return _LINE, True
    if previous.kind == "code" and piece.kind == "code":
        return _CODE_LINE, False
    separator = text[previous.end : piece.start]
    newlines = separator.count("\n")
    if newlines >= 2:
        return _PARAGRAPH, False
    if newlines == 1:
        return _LINE, False
    if _SENTENCE_END.search(text[previous.start : previous.end]):
        return _SENTENCE, False
    return _WORD, False


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
            piece.level = max(piece.level, _SECTION)
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
            level = piece.level if index == a else _FORCED
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
            units.extend(_cluster_units(text, start, end, _WORD, _GRAPHEME, room))
    elif piece.kind == "text":
        position = piece.start
        for start, end in piece.protected:
            units.extend(_cluster_units(text, position, start, _GRAPHEME, _GRAPHEME, room))
            if end - start <= room:
                units.append((start, end, _GRAPHEME))
            else:
                units.extend(_cluster_units(text, start, end, _GRAPHEME, _FORCED, room))
            position = end
        units.extend(_cluster_units(text, position, piece.end, _GRAPHEME, _GRAPHEME, room))
    else:
        units.extend(_cluster_units(text, piece.start, piece.end, _FORCED, _FORCED, room))

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
    for cluster_start, cluster_end in _graphemes(text, start, end):
        level = inner if units else first
        if cluster_end - cluster_start <= room:
            units.append((cluster_start, cluster_end, level))
            continue
        if room < 1:
            raise ValueError("message limit too small for a fenced code block")
        for position in range(cluster_start, cluster_end):
            units.append((position, position + 1, _FORCED if units else level))
    return units


def _graphemes(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Extended grapheme clusters, simplified to what chat text holds.

    A base character takes any following combining marks, variation selectors, skin-tone
    modifiers, emoji tags and keycap marks; a zero-width joiner also takes the next character;
    regional indicators pair up into flags.
    """
    clusters = []
    position = start
    while position < end:
        pair = text[position : min(position + 2, end)]
        flag = len(pair) == 2 and _is_regional(pair[0]) and _is_regional(pair[1])
        following = position + (2 if pair == "\r\n" or flag else 1)
        while following < end:
            if text[following] == "\u200d":
                following += 1
                if following < end and not text[following].isspace():
                    following += 1
            elif _is_extender(text[following]):
                following += 1
            else:
                break
        clusters.append((position, following))
        position = following
    return clusters


def _is_regional(char: str) -> bool:
    return "\U0001f1e6" <= char <= "\U0001f1ff"


def _is_extender(char: str) -> bool:
    return (
        "\ufe00" <= char <= "\ufe0f"  # variation selectors (VS16 makes an emoji)
        or "\U0001f3fb" <= char <= "\U0001f3ff"  # skin tones
        or "\U000e0020" <= char <= "\U000e007f"  # tags (subdivision flags)
        or "\U000e0100" <= char <= "\U000e01ef"
        or char == "\u20e3"  # keycap
        or unicodedata.category(char) in ("Mn", "Me", "Mc")
    )


# --- Choosing the cuts ------------------------------------------------------------------------


def _plan(pieces: Sequence[_Piece], fences: Sequence[_Fence], limit: int):
    """The cuts, as (first piece, end piece) per message.

    `reach[i]` is the furthest cut a message starting at cut i can end at. Packing greedily
    (always to `reach`) gives the fewest messages, because a message that fits still fits
    when it starts later or ends earlier (the fence lines added at a cut are never longer than
    the fence lines of the original text they replace). `needed[i]`, the greedy count from cut
    i, is therefore the minimum from i.

    A dynamic programme then chooses, for each message, among the furthest reachable cut of
    each level, minimising the cut costs plus a cost for unfilled room, and only takes a cut j
    when `needed[j]` still lets the total stay within the minimum plus one.
    """
    n = len(pieces)
    reopen, close = _lengths(pieces, fences)
    cuts = [0, *(index for index in range(1, n) if not pieces[index].glue), n]
    last = len(cuts) - 1
    # Length of a message from cut i to cut j: ends[j] - starts[i].
    starts = [pieces[cut].start - reopen[cut] for cut in cuts[:-1]]
    ends = [0, *(pieces[cut - 1].end + close[cut] for cut in cuts[1:])]

    reach = [0] * last
    j = 1
    for i in range(last):
        j = max(j, i + 1)
        while j < last and ends[j + 1] - starts[i] <= limit:
            j += 1
        reach[i] = j
    needed = [0] * (last + 1)
    for i in range(last - 1, -1, -1):
        needed[i] = 1 + needed[reach[i]]
    fewest = needed[0]
    budget = fewest + 1

    # The cuts of each level, in order, to find the furthest one within reach.
    by_level: dict[int, list[int]] = {_END: [last]}
    for index in range(1, last):
        by_level.setdefault(pieces[cuts[index]].level, []).append(index)

    # best[i][k]: (cost, previous cut, previous k) for reaching cut i with k messages.
    best: list[dict[int, tuple[float, int, int]]] = [{} for _ in range(last + 1)]
    best[0][0] = (0.0, -1, -1)
    for i in range(last):
        for used, (cost, _, _) in best[i].items():
            for level, level_cuts in by_level.items():
                position = bisect_right(level_cuts, reach[i]) - 1
                if position < 0:
                    continue
                j = level_cuts[position]
                if j <= i or used + 1 + needed[j] > budget:
                    continue
                step = _CUT_COST[level]
                if j == last:
                    step += _EXTRA_MESSAGE_COST * (used + 1 - fewest)
                else:
                    step += _fill_cost(ends[j] - starts[i], limit)
                known = best[j].get(used + 1)
                if known is None or cost + step < known[0]:
                    best[j][used + 1] = (cost + step, i, used)

    used = min(best[last], key=lambda k: best[last][k][0])
    chosen = [last]
    i = last
    while i:
        _, i, used = best[i][used]
        chosen.append(i)
    chosen.reverse()
    return [(cuts[i], cuts[j]) for i, j in pairwise(chosen)]


def _fill_cost(length: int, limit: int) -> float:
    """A little for any unfilled room, a lot once a message is less than two thirds full."""
    empty = 1 - length / limit
    return 0.5 * empty + 30 * max(0.0, empty - 1 / 3)


# ---------------------------------------------------------------------------------------------
# Webhook URLs and the HTTP client
# ---------------------------------------------------------------------------------------------
#
# A webhook URL holds a secret token. It is parsed once, when an editor saves a channel, into id
# and token; requests are then made to `{DISCORD_API_BASE}/webhooks/{id}/{token}`. Nothing this
# section raises or logs contains the token: exceptions are built from our own words and
# Discord's error message, never from the text of a `requests` exception (which quotes the URL).

_WEBHOOK_HOSTS = {
    f"{prefix}{domain}"
    for prefix in ("", "www.", "canary.", "ptb.")
    for domain in ("discord.com", "discordapp.com")
}
_WEBHOOK_PATH = re.compile(
    r"/api(?:/v\d{1,2})?/webhooks/(?P<id>\d{15,21})/(?P<token>[A-Za-z0-9_\-]{20,200})/?"
)
_WEBHOOK_IN_TEXT = re.compile(r"(/webhooks/\d+/)[^/?#\s\"']+")
# Added to every wait for a rate-limit window, so that a rounded Reset-After never makes us
# knock a moment too early.
_RATE_LIMIT_MARGIN = 0.02
_DEFAULT_RETRY_AFTER = 5.0


class WebhookURLError(ValueError):
    """The text is not a Discord webhook URL. The message never repeats the text (a secret)."""


@dataclass(frozen=True)
class WebhookAddress:
    webhook_id: str
    token: str
    thread_id: str = ""


def parse_webhook_url(url: str) -> WebhookAddress:
    """Id and token of a webhook URL in any of the forms Discord hands out.

    Accepted: https://discord.com/api/webhooks/{id}/{token}, with /v10 (any /vN) after /api,
    on discordapp.com, canary. and ptb.; a `thread_id` query parameter is kept.
    """
    from urllib.parse import parse_qs, urlsplit

    hint = (
        "Paste the URL from Discord (channel settings → Integrations → Webhooks → Copy "
        "Webhook URL); it looks like https://discord.com/api/webhooks/<digits>/<token>."
    )
    try:
        parts = urlsplit((url or "").strip())
    except ValueError:
        raise WebhookURLError(f"This is not a web address. {hint}") from None
    if parts.scheme != "https":
        raise WebhookURLError(f"A Discord webhook URL starts with https://. {hint}")
    host = (parts.hostname or "").lower()
    if host not in _WEBHOOK_HOSTS or parts.port not in (None, 443) or parts.username:
        raise WebhookURLError(f"This address is not on discord.com. {hint}")
    match = _WEBHOOK_PATH.fullmatch(parts.path)
    if match is None:
        raise WebhookURLError(f"This Discord address is not a webhook URL. {hint}")
    thread_ids = parse_qs(parts.query).get("thread_id", [""])
    thread_id = thread_ids[-1]
    if thread_id and not thread_id.isdigit():
        raise WebhookURLError("The thread_id in this URL is not a Discord id (digits only).")
    return WebhookAddress(match["id"], match["token"], thread_id)


def redact(text: str) -> str:
    """`text` with the token of any webhook URL in it replaced by asterisks."""
    return _WEBHOOK_IN_TEXT.sub(r"\1***", str(text))


class DiscordError(Exception):
    """A request to Discord did not succeed. `str()` is for editors: short, token-free."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None):
        super().__init__(redact(message))
        self.status = status
        self.code = code


class DiscordTemporaryError(DiscordError):
    """Worth trying again later: a timeout, a connection error, a 5xx, a 429.

    `maybe_sent` is True when the request went out but no answer came back: Discord may
    have posted the message. `retry_after` is the wait Discord asked for (429).
    """

    def __init__(self, message: str, *, maybe_sent: bool = False, retry_after: float = 0.0, **kw):
        super().__init__(message, **kw)
        self.maybe_sent = maybe_sent
        self.retry_after = retry_after


class DiscordRateLimited(DiscordTemporaryError):
    pass


class WebhookGone(DiscordError):
    """The webhook (or its thread) no longer exists or its token was regenerated: stop using it."""


class DiscordRejected(DiscordError):
    """Discord refused this request (a 4xx other than the above): trying again will not help."""


class UnknownMessage(DiscordRejected):
    """The message to edit or delete is gone (deleted in Discord)."""


@dataclass(frozen=True)
class Webhook:
    """Where and how to post: what `DiscordChannel` stores, without Django."""

    webhook_id: str
    token: str
    thread_id: str = ""
    username: str = ""
    avatar_url: str = ""
    link_previews: bool = False

    @classmethod
    def for_channel(cls, channel) -> Webhook:
        return cls(
            webhook_id=channel.webhook_id,
            token=channel.webhook_token,
            thread_id=channel.thread_id,
            username=channel.username,
            avatar_url=channel.avatar_url,
            link_previews=channel.link_previews,
        )


class _Bucket:
    """What Discord last said about one webhook's rate limit, shared by the threads of a process.

    The lock is held for a whole request, so threads posting to the same webhook take turns
    instead of racing for the last request of a window.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.remaining: int | None = None
        self.resets_at = 0.0  # time.monotonic() when the window opens again

    def wait(self) -> float:
        """Sleep until a request is allowed; returns the seconds slept."""
        if self.remaining is None or self.remaining > 0:
            return 0.0
        delay = self.resets_at - time.monotonic()
        if delay <= 0:
            return 0.0
        time.sleep(delay)
        return delay

    def update(self, headers, *, now: float) -> None:
        remaining = _header_float(headers, "X-RateLimit-Remaining")
        reset_after = _header_float(headers, "X-RateLimit-Reset-After")
        if remaining is None or reset_after is None:
            return
        self.remaining = int(remaining)
        self.resets_at = now + reset_after + _RATE_LIMIT_MARGIN

    def block(self, seconds: float, *, now: float) -> None:
        self.remaining = 0
        self.resets_at = max(self.resets_at, now + seconds + _RATE_LIMIT_MARGIN)


_buckets: dict[tuple[str, str], _Bucket] = {}
_buckets_lock = threading.Lock()


def _bucket(api_base: str, webhook_id: str) -> _Bucket:
    with _buckets_lock:
        return _buckets.setdefault((api_base, webhook_id), _Bucket())


def _header_float(headers, name: str) -> float | None:
    try:
        return float(headers[name])
    except (KeyError, TypeError, ValueError):
        return None


def user_agent() -> str:
    """Discord asks for `DiscordBot (url, version)`; the site's name follows."""
    return f"DiscordBot ({settings.SITE_URL}, 1.0) {settings.SITE_NAME} newsletter"


class DiscordClient:
    """Execute, edit and delete webhook messages, pacing requests by Discord's rate-limit headers.

    Each method makes exactly one request (never retries by itself: a repeated POST may post
    twice) and raises `DiscordError` subclasses; the caller decides what to retry.
    """

    def __init__(self, *, api_base: str | None = None, timeout: float | None = None):
        import requests
        from requests.adapters import HTTPAdapter

        self.api_base = (api_base or settings.DISCORD_API_BASE).rstrip("/")
        self.timeout = timeout if timeout is not None else settings.DISCORD_HTTP_TIMEOUT
        self.session = requests.Session()
        # No automatic retries: urllib3 would re-send a POST and log the URL while doing so.
        adapter = HTTPAdapter(max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers["User-Agent"] = user_agent()
        self.rate_limit_waits = 0.0  # seconds spent waiting for rate-limit windows

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> DiscordClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the four calls -------------------------------------------------------------------------

    def execute(self, webhook: Webhook, content: str) -> dict:
        """Post a message and return it as Discord stored it (with its `id`)."""
        body = self._message_body(webhook, content)
        if webhook.username:
            body["username"] = webhook.username
        if webhook.avatar_url:
            body["avatar_url"] = webhook.avatar_url
        params = {"wait": "true"}
        if webhook.thread_id:
            params["thread_id"] = webhook.thread_id
        return self._request("POST", webhook, "", params=params, json=body)

    def edit(self, webhook: Webhook, message_id: str, content: str) -> dict:
        params = {"thread_id": webhook.thread_id} if webhook.thread_id else {}
        return self._request(
            "PATCH",
            webhook,
            f"/messages/{message_id}",
            params=params,
            json=self._message_body(webhook, content),
        )

    def delete(self, webhook: Webhook, message_id: str) -> None:
        params = {"thread_id": webhook.thread_id} if webhook.thread_id else {}
        self._request("DELETE", webhook, f"/messages/{message_id}", params=params)

    def get_webhook(self, webhook: Webhook) -> dict:
        """The webhook as Discord knows it (name, channel id): proves id and token work."""
        return self._request("GET", webhook, "", rate_limited=False)

    def would_wait(self, webhook: Webhook) -> float:
        """Seconds the next request to this webhook would have to wait (0: it may go now)."""
        bucket = _bucket(self.api_base, webhook.webhook_id)
        if bucket.remaining is None or bucket.remaining > 0:
            return 0.0
        return max(0.0, bucket.resets_at - time.monotonic())

    def pause_for_rate_limit(self, webhook: Webhook) -> float:
        """Wait, if need be, until the webhook's rate-limit window allows a request."""
        bucket = _bucket(self.api_base, webhook.webhook_id)
        waited = bucket.wait()
        self.rate_limit_waits += waited
        return waited

    # -- plumbing -------------------------------------------------------------------------------

    @staticmethod
    def _message_body(webhook: Webhook, content: str) -> dict:
        body: dict = {"content": content, "allowed_mentions": {"parse": []}}
        if not webhook.link_previews:
            body["flags"] = 4  # SUPPRESS_EMBEDS
        return body

    def _request(
        self,
        method: str,
        webhook: Webhook,
        suffix: str,
        *,
        params: dict | None = None,
        json: dict | None = None,
        rate_limited: bool = True,
    ):
        import requests

        url = f"{self.api_base}/webhooks/{webhook.webhook_id}/{webhook.token}{suffix}"
        bucket = _bucket(self.api_base, webhook.webhook_id)
        what = {"POST": "posting", "PATCH": "editing", "DELETE": "deleting", "GET": "checking"}[
            method
        ]
        with bucket.lock:
            if rate_limited:
                self.rate_limit_waits += bucket.wait()
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    timeout=(min(5.0, self.timeout), self.timeout),
                    allow_redirects=False,
                )
            except requests.ConnectTimeout:
                raise DiscordTemporaryError(
                    f"Could not connect to Discord within {min(5.0, self.timeout):g} s "
                    f"while {what} a message."
                ) from None
            except requests.Timeout:
                raise DiscordTemporaryError(
                    f"Discord did not answer within {self.timeout:g} s while {what} a message.",
                    maybe_sent=method != "GET",
                ) from None
            except requests.ConnectionError as exc:
                raise DiscordTemporaryError(
                    f"The connection to Discord failed while {what} a message "
                    f"({_connection_failure(exc)}).",
                    maybe_sent=method != "GET" and not _never_connected(exc),
                ) from None
            except requests.RequestException as exc:
                raise DiscordTemporaryError(
                    f"The request to Discord failed while {what} a message ({type(exc).__name__}).",
                    maybe_sent=method != "GET",
                ) from None
            now = time.monotonic()
            if rate_limited:
                bucket.update(response.headers, now=now)
            if response.status_code == 429:
                retry_after = _retry_after(response)
                bucket.block(retry_after, now=now)
                raise DiscordRateLimited(
                    f"Discord asked us to slow down (429); retrying after {retry_after:g} s.",
                    status=429,
                    retry_after=retry_after,
                )
        return _answer(response, method=method, what=what)


def _answer(response, *, method: str, what: str):
    status = response.status_code
    if 200 <= status < 300:
        if status == 204 or not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            raise DiscordTemporaryError(
                f"Discord answered {status} with a body that is not JSON while {what} a message.",
                status=status,
                maybe_sent=method == "POST",
            ) from None
    data = _json_or_none(response)
    code = data.get("code") if isinstance(data, dict) else None
    message = _discord_message(data) or response.reason or "no explanation"
    if status >= 500:
        raise DiscordTemporaryError(
            f"Discord had an error ({status}: {message}) while {what} a message.",
            status=status,
            code=code,
        )
    if status == 404 and code == 10008:
        raise UnknownMessage(
            "The message is no longer in Discord (deleted there).", status=status, code=code
        )
    if status == 401 or (status == 404 and code == 10015):
        raise WebhookGone(
            "Discord no longer knows this webhook (it was deleted, or its URL was "
            f"regenerated): {status} {message}. Create a new webhook and paste its URL.",
            status=status,
            code=code,
        )
    if status == 404 and code == 10003:
        raise WebhookGone(
            f"Discord cannot find the channel's thread: {status} {message}. Check the thread "
            "id, or clear it to post in the channel itself.",
            status=status,
            code=code,
        )
    raise DiscordRejected(
        f"Discord refused the message: {status} {message}"
        + (f" (code {code})" if code is not None else "")
        + ".",
        status=status,
        code=code,
    )


def _json_or_none(response):
    try:
        return response.json()
    except ValueError:
        return None


def _discord_message(data) -> str:
    """Discord's own message, with the first nested field error ("content: Must be 2000 ...")."""
    if not isinstance(data, dict):
        return ""
    message = str(data.get("message") or "")
    details = []

    def walk(node, path):
        if isinstance(node, dict):
            for error in node.get("_errors", []) or []:
                if isinstance(error, dict) and error.get("message"):
                    details.append(f"{'.'.join(path) or 'body'}: {error['message']}")
            for key, value in node.items():
                if key != "_errors":
                    walk(value, [*path, str(key)])

    walk(data.get("errors"), [])
    if details:
        message = f"{message} ({'; '.join(details[:3])})" if message else "; ".join(details[:3])
    return message[:500]


def _retry_after(response) -> float:
    """Seconds to wait after a 429: the body's `retry_after`, else the headers, else a default."""
    data = _json_or_none(response)
    if isinstance(data, dict):
        try:
            value = float(data["retry_after"])
        except (KeyError, TypeError, ValueError):
            pass
        else:
            # Very old API versions gave milliseconds.
            return value / 1000 if value > 1000 else max(value, 0.0)
    for header in ("Retry-After", "X-RateLimit-Reset-After"):
        value = _header_float(response.headers, header)
        if value is not None and value >= 0:
            return value
    return _DEFAULT_RETRY_AFTER


def _never_connected(exc) -> bool:
    """True when the connection could not even be opened: the request surely was not sent."""
    from urllib3.exceptions import NewConnectionError

    seen: set[int] = set()
    stack = [exc]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, NewConnectionError | ConnectionRefusedError):
            return True
        stack.extend([getattr(node, "reason", None), node.__cause__, node.__context__])
        stack.extend(arg for arg in getattr(node, "args", ()) if isinstance(arg, BaseException))
    return False


def _connection_failure(exc) -> str:
    return "connection refused" if _never_connected(exc) else "connection lost"
