"""A Discord message as Discord will show it, for the editors' preview; and what it will not show.

Discord's Markdown is not the site's: three heading levels, a single newline is a line break,
`[text](url)` masked links, `<t:UNIX:STYLE>` timestamps shown in each reader's zone, mentions
(`<@id>`, `<@&id>`, `<#id>`, @everyone) and no tables, HTML or pictures. The message is parsed
with markdown-it set up like Discord, timestamps get a UTC fallback that static/js/discord-preview.js
rewrites in the editor's own zone, mentions become inert labels, and the HTML goes through
nh3 with an allow-list of its own, as every rendered Markdown does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import nh3
from django.utils import timezone
from markdown_it import MarkdownIt

TAGS = frozenset(
    {
        "p", "br", "strong", "em", "del", "code", "pre", "a", "blockquote",
        "ul", "ol", "li", "h4", "h5", "h6", "time", "span",
    }
)  # fmt: skip
ATTRIBUTES = {
    "a": {"href", "title"},
    "ol": {"start"},
    "time": {"datetime", "data-discord-style", "title"},
}
SPAN_CLASSES = {"span": {"class": {"discord-mention"}}}

_parser = MarkdownIt(
    "commonmark", {"html": False, "linkify": False, "typographer": False, "breaks": True}
).enable(["strikethrough"])
# Discord shows `![alt](url)` as "!" and a link, never the picture.
_parser.disable("image")
# The preview sits under the page's own h1-h3 ("Message 2"): Discord's three levels are h4-h6,
# styled at Discord's sizes (editors.css).
HEADING_SHIFT = 3


def _shift_headings(state) -> None:
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + HEADING_SHIFT, 6)}"


_parser.core.ruler.push("shift_headings", _shift_headings)

_FENCE = re.compile(r"^(```|~~~)", re.MULTILINE)
_BARE_URL = re.compile(r"(?<![<(\[\w])(https?://[^\s<>()\[\]]+[^\s<>()\[\].,;:!?'\"])")
_DEEP_HEADING = re.compile(r"^(#{4,})(?=\s)", re.MULTILINE)
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)+\|?\s*$", re.MULTILINE)
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?>")
_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")
_CODE_HTML = re.compile(r"(<pre>.*?</pre>|<code>.*?</code>)", re.DOTALL)
_TIMESTAMP = re.compile(r"&lt;t:(-?\d{1,13})(?::([tTdDfFR]))?&gt;")
_MENTION = re.compile(r"&lt;(@!?|@&amp;|#)(\d{1,20})&gt;|@(everyone|here)\b")

# Discord's styles, with their look in UTC (the fallback before the browser's own zone).
STYLES = {
    "t": "%H:%M",
    "T": "%H:%M:%S",
    "d": "%d/%m/%Y",
    "D": "%-d %B %Y",
    "f": "%-d %B %Y %H:%M",
    "F": "%A, %-d %B %Y %H:%M",
}


@dataclass(frozen=True)
class MessagePreview:
    text: str
    html: str
    length: int
    warnings: list[str]


def _outside_code(text: str, change) -> str:
    """Apply `change` to the parts of a message outside ``` fences."""
    parts = _FENCE.split(text)
    out, inside, i = [], False, 0
    while i < len(parts):
        part = parts[i]
        if part in ("```", "~~~"):
            out.append(part)
            inside = not inside
        else:
            out.append(part if inside else change(part))
        i += 1
    return "".join(out)


def discord_warnings(text: str) -> list[str]:
    """What in the message Discord will not show as the other outputs do."""
    prose = re.sub(r"```.*?(```|$)", "", text, flags=re.DOTALL)
    prose = re.sub(r"`[^`\n]*`", "", prose)
    warnings = []
    if _TABLE_RULE.search(prose):
        warnings.append("A table: Discord shows its pipes and dashes as they are.")
    if _HTML_TAG.search(prose):
        warnings.append("HTML: Discord shows tags such as <b> as text.")
    if _IMAGE.search(prose):
        warnings.append("An image: Discord shows a link, not the picture.")
    if _DEEP_HEADING.search(prose):
        warnings.append("A heading deeper than ###: Discord shows the # signs.")
    return warnings


def _timestamp(match: re.Match, now: datetime) -> str:
    seconds, style = int(match[1]), match[2] or "f"
    try:
        moment = datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return match[0]
    if style == "R":
        days = (moment - now).days
        label = f"in {days} days" if days > 0 else f"{-days} days ago" if days < 0 else "today"
    else:
        label = moment.strftime(STYLES[style]) + " UTC"
    iso = moment.isoformat().replace("+00:00", "Z")
    return f'<time datetime="{iso}" data-discord-style="{style}" title="{iso}">{label}</time>'


def _mention(match: re.Match) -> str:
    kind = match[1]
    if match[3]:
        label = f"@{match[3]}"
    elif kind == "#":
        label = "#channel"
    elif kind == "@&amp;":
        label = "@role"
    else:
        label = "@member"
    return f'<span class="discord-mention">{label}</span>'


def _enrich(html: str, now: datetime) -> str:
    """Timestamps and mentions, outside code as in Discord."""
    pieces = _CODE_HTML.split(html)
    for index in range(0, len(pieces), 2):
        piece = _TIMESTAMP.sub(lambda m: _timestamp(m, now), pieces[index])
        pieces[index] = _MENTION.sub(_mention, piece)
    return "".join(pieces)


def discord_html(text: str, *, now: datetime | None = None) -> str:
    """The message as HTML that looks like Discord's, safe to put on the editors' page."""
    now = now or timezone.now()

    def prepare(part: str) -> str:
        part = _DEEP_HEADING.sub(lambda m: "\\" + m[1], part)
        return _BARE_URL.sub(r"<\1>", part)

    html = _enrich(_parser.render(_outside_code(text, prepare)), now)
    return nh3.clean(
        html,
        tags=set(TAGS),
        attributes={tag: set(attrs) for tag, attrs in ATTRIBUTES.items()},
        tag_attribute_values=SPAN_CLASSES,
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener",
        strip_comments=True,
    )


def message_preview(text: str, *, now: datetime | None = None) -> MessagePreview:
    return MessagePreview(
        text=text,
        html=discord_html(text, now=now),
        length=len(text),
        warnings=discord_warnings(text),
    )
