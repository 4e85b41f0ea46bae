"""The one Markdown renderer of the site: Markdown to HTML, then sanitised by nh3.

Every summary, blurb, event description and markdownx preview goes through
`render_markdown`; nothing a member typed reaches a page any other way. The parser is
markdown-it (CommonMark), which runs in linear time: Python-Markdown, before it, took seconds
for a few kilobytes of `[` (docs/security.md). markdown-it is told to pass no raw HTML
(`html: False`: a member's `<b>` shows as the text `<b>`), and it judges no URL itself: the nh3
allow-list below is the security boundary, whatever the parser produces, and only these tags,
attributes and URL schemes survive it.
"""

from __future__ import annotations

import types

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from markdown_it.rules_block.table import table as markdown_it_table
from markdown_it.rules_core import StateCore

# Short link summaries need emphasis, links, code, lists, quotes and the odd table.
# No <img>: pictures from any host would let a member track readers (and break
# `img-src 'self'`), and the same text is posted to Discord, where they would not show.
# h1/h2 belong to the page around the summary, so Markdown headings start at h3 (`_site_tags`).
ALLOWED_TAGS = frozenset(
    {
        "p", "br", "hr",
        "strong", "em", "b", "i", "del", "sup", "sub", "code", "pre",
        "a", "blockquote", "ul", "ol", "li",
        "h3", "h4", "h5", "h6",
        "table", "thead", "tbody", "tr", "th", "td",
    }
)  # fmt: skip
# No `style`, `class`, `id` or event handlers anywhere: members cannot restyle the page or
# borrow the site's own classes. `rel` is not listed because nh3 sets it (`link_rel`).
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "ol": {"start"},
}
# Table cells carry align="left|center|right" (`_site_tags`); any other value is dropped.
ALIGNED = {"align": {"left", "center", "right"}}
ALLOWED_ATTRIBUTE_VALUES = {"th": ALIGNED, "td": ALIGNED}
# Schemes allowed in href. Relative URLs and fragments have no scheme, so they cannot run
# script; they pass through (editors link to site pages, feeds absolutise them).
URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Dropped with everything inside them, rather than leaving their text on the page.
DROPPED_WITH_CONTENT = frozenset(
    {"script", "style", "template", "iframe", "object", "noscript", "svg", "math", "textarea"}
)
LINK_REL = "nofollow noopener"

INLINE_TAGS = frozenset({"em", "strong", "code"})
# "# Heading" is the page's third level.
HEADING_SHIFT = 2
# markdown-it pads a short table row with empty cells up to the header's width, up to 65,536
# of them a table: a header 333 cells wide over one-letter rows turned 2,000 characters into
# 65,000 cells and took 1.7 s. Past this many padded cells the table ends, and the rest
# of it reads as text; a real summary's table never comes near.
MAX_PADDED_CELLS = 64


def sanitise(html: str, *, tags: frozenset[str] = ALLOWED_TAGS) -> str:
    """The security boundary: any HTML in, only the allow-list out. The parser passes no raw
    HTML, but nothing here relies on that."""
    return nh3.clean(
        html,
        tags=set(tags),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: attrs for tag, attrs in ALLOWED_ATTRIBUTES.items() if tag in tags},
        tag_attribute_values={
            tag: vals for tag, vals in ALLOWED_ATTRIBUTE_VALUES.items() if tag in tags
        },
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )


def _every_link(url: str) -> bool:
    """markdown-it's own URL check would leave a refused link as its raw source text
    (`[x](javascript:…)`, URL and all); nh3 judges every URL instead and keeps the link text."""
    return True


def _site_tags(state: StateCore) -> None:
    """Shift headings down to h3-h6, give table cells `align` rather than a style attribute
    (which nh3 drops), and write strikethrough as <del>, the tag the allow-list knows."""
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + HEADING_SHIFT, 6)}"
        elif token.type in ("th_open", "td_open") and token.attrs.get("style"):
            align = str(token.attrs.pop("style")).removeprefix("text-align:")
            token.attrSet("align", align)
        elif token.type == "inline":
            for child in token.children or ():
                if child.type in ("s_open", "s_close"):
                    child.tag = "del"


def _table_rule() -> types.FunctionType:
    """markdown-it's own table rule, run with MAX_PADDED_CELLS in place of its 65,536 (the
    rule reads MAX_AUTOCOMPLETED_CELLS from its module; this copy reads ours). A test
    renders a padded table, so a markdown-it that renames the constant fails it."""
    rule = markdown_it_table
    names = {**rule.__globals__, "MAX_AUTOCOMPLETED_CELLS": MAX_PADDED_CELLS}
    return types.FunctionType(rule.__code__, names, rule.__name__, rule.__defaults__)


def _parser(**options: bool) -> MarkdownIt:
    parser = MarkdownIt(
        "commonmark",
        {"html": False, "linkify": False, "typographer": False, "xhtmlOut": False, **options},
    )
    parser.validateLink = _every_link
    return parser


# Tables and ~~strikethrough~~ on top of CommonMark (Discord shows ~~ too). `breaks`: Discord
# shows a single newline as a line break, and the web page should agree.
_blocks = _parser(breaks=True).enable(["table", "strikethrough"])
_blocks.block.ruler.at("table", _table_rule())
_blocks.core.ruler.push("site_tags", _site_tags)
# Titles are one line: parsed as inline text only, so "1. Intro" or "# hashtag" stays text.
_inline = _parser(breaks=False)


def render_markdown(text: str) -> str:
    """Member-written Markdown as HTML that is safe to put on a page as is."""
    return sanitise(_blocks.render(text).rstrip("\n"))


def render_markdown_safe(text: str) -> SafeString:
    """For templates: marked safe because `render_markdown` has sanitised it."""
    return mark_safe(render_markdown(text))  # noqa: S308  (sanitised by nh3)


def markdownify(text: str) -> str:
    """django-markdownx's MARKDOWNX_MARKDOWNIFY_FUNCTION.

    The preview endpoint returns whatever this gives back, so it must be the same sanitised
    pipeline as the pages, or the preview would be a way to get script onto the site.
    """
    return render_markdown(text)


def render_inline_markdown(text: str) -> str:
    """A one-line title with *emphasis*, **strong** and `code` only: no blocks, no links."""
    html = _inline.renderInline(" ".join(text.split()))
    return sanitise(html, tags=INLINE_TAGS).strip()
