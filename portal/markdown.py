"""The one Markdown renderer of the site: Markdown to HTML, then sanitised by nh3.

Every summary, blurb, event description and markdownx preview goes through
`render_markdown`; nothing a member typed reaches a page any other way. The parser is comrak
(CommonMark and GitHub's tables and strikethrough, compiled Rust): the worst 100 kB found
renders in about a tenth of a second at most (docs/security.md). Before it, markdown-it-py
took 3 to 5 s for those inputs, and Python-Markdown took seconds for a few kilobytes of `[`.

comrak escapes raw HTML (`escape`: a member's `<b>` shows as the text `<b>`) and is told to
keep every URL (`unsafe_`): the nh3 allow-list below is the security boundary, whatever the
parser produces, and only these tags, attributes and URL schemes survive it. Three guards
keep the work and the output in proportion to the text: tables that would be padded out of
all proportion are read as text before parsing (`_tables_bounded`), so are quote markers past
`MAX_QUOTE_DEPTH` on a line (`_quotes_bounded`), and elements nested deeper than `MAX_NESTING`
lose their tags before nh3 (`_nesting_bounded`), whose HTML parser is quadratic in the depth.
"""

from __future__ import annotations

import re
from itertools import accumulate, repeat
from operator import itemgetter, le, mul
from string import ascii_lowercase

import comrak
import nh3
from django.utils.safestring import SafeString, mark_safe

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
# GitHub's tables pad a short row with empty cells up to the header's width: a header 16,000
# cells wide over rows of one letter turned 100 kB into billions of cells (comrak ran out of
# memory). A table may have a cell for every two characters of its text (a cell and its `|`),
# and this many more; past that, its delimiter row is escaped and the whole of it reads as
# text. A real summary's table, whose cells each take a character and a `|` or more, never
# comes near.
MAX_PADDED_CELLS = 64
# And all the tables of one text together have at most this many cells; the tables past it read
# as text. The HTML of a table is several times its Markdown (`<td></td>` for a `|`), and nh3
# takes time in proportion to the HTML: 100 kB of small tables were 780 kB of HTML and 100 ms,
# nearly all of it nh3's. A newsletter's text never holds more than a few hundred cells.
MAX_TABLE_CELLS = 2_000
# Elements deeper than this lose their tags (their text stays). nh3's HTML parser takes time
# in the square of the depth: 50,000 quotes inside each other (100 kB of `> `) took 13 s.
MAX_NESTING = 32
# Quotes inside quotes: as deep as markdown-it allowed; a deeper `>` reads as text.
MAX_QUOTE_DEPTH = 20


def sanitise(html: str, *, tags: frozenset[str] = ALLOWED_TAGS) -> str:
    """The security boundary: any HTML in, only the allow-list out. The parser escapes raw
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


# --- Guards ------------------------------------------------------------------------------------

# A line's quote markers past MAX_QUOTE_DEPTH: the next `>` is escaped, and reads as text.
_DEEP_QUOTE = re.compile(rf"^((?:[ \t]*+>){{{MAX_QUOTE_DEPTH}}}[ \t]*+)(?=>)", re.MULTILINE)


def _quotes_bounded(text: str) -> str:
    """Quotes nested at most MAX_QUOTE_DEPTH deep on a line: comrak writes 27 bytes of HTML for
    each `>` of `>>>>…`, which `_nesting_bounded` would then have to take apart again."""
    return _DEEP_QUOTE.sub(r"\1\\", text) if ">" in text else text


# A line that ends a table: empty, or only quote markers and spaces.
_BLANK_LINE = re.compile(r"(\n[ \t>]*\n)")
# A table's delimiter row (`|:--|--:|`), after any quote markers, list markers and indent.
# Possessive quantifiers: no backtracking, so the scan stays linear whatever the line holds.
_ROW_PREFIX = r"[ \t>]*+(?:(?:[-+*]|[0-9]{1,9}[.)])[ \t]++[ \t>]*+)*+"
_ROW_CELLS = r"\|?+[ \t]*+:?+-++:?+[ \t]*+(?:\|[ \t]*+:?+-++:?+[ \t]*+)*+\|?+[ \t]*+$"
_DELIMITER_ROW_PARTS = re.compile(rf"^({_ROW_PREFIX})({_ROW_CELLS})", re.MULTILINE)


def _tables_bounded(text: str) -> str:
    """Text whose tables cannot be padded out of proportion: in each run of lines between
    blank lines, a table as wide as its widest delimiter row over every line of the run may
    have at most one cell for every two characters of the run, plus MAX_PADDED_CELLS, and all
    the runs' tables together at most MAX_TABLE_CELLS. A run past either gets its delimiter rows
    escaped (`\\|---|`), so comrak reads it as text, shown as typed. Every step is a regex or
    a count over the text: linear."""
    if "|" not in text or "-" not in text:
        return text
    runs = _BLANK_LINE.split(text)
    cells_left = MAX_TABLE_CELLS
    for index in range(0, len(runs), 2):
        run = runs[index]
        if "|" not in run or "-" not in run:
            continue
        columns = max(map(_cells, _DELIMITER_ROW_PARTS.findall(run)), default=0)
        cells = columns * (run.count("\n") + 1)
        if cells > len(run) // 2 + MAX_PADDED_CELLS or cells > cells_left:
            runs[index] = _DELIMITER_ROW_PARTS.sub(r"\1\\\2", run)
        else:
            cells_left -= cells
    return "".join(runs)


def _cells(prefix_and_row: tuple[str, str]) -> int:
    row = prefix_and_row[1].strip()
    return row.count("|") + 1 - row.startswith("|") - row.endswith("|")


# comrak writes every tag as `<name …>`, `</name>` or `<name … />`, and escapes `<` and `>`
# everywhere else (raw HTML, code, attributes), so every `<` opens a tag. What a tag does to
# the depth is told by its first two characters: a closing tag, one of comrak's three empty
# elements (`<br />`, `<hr />`, `<img … />`), or else an opening tag.
_TAG_SPLIT = re.compile(r"(<[^>]*>)")
_TAG_HEAD = itemgetter(slice(1, 3))
# Only these elements can hold themselves; the others add UNNESTED_DEPTH at most to any path
# (a table's four levels, or one of a paragraph, a heading, a code block's two). Counting
# these alone finds the HTML that may be too deep in one C pass, without splitting it.
_NESTABLE = ("blockquote", "ul", "ol", "li", "em", "strong", "del", "sub", "a", "code")
_NESTABLE_TAG = re.compile(rf"</?(?:{'|'.join(_NESTABLE)})[ >]")
_NESTABLE_STEP = {f"<{tag}{end}": 1 for tag in _NESTABLE for end in " >"} | {
    f"</{tag}>": -1 for tag in _NESTABLE
}
UNNESTED_DEPTH = 4
_DEPTH_STEP = {"br": 0, "hr": 0, "im": 0} | {f"/{letter}": -1 for letter in ascii_lowercase}


def _nesting_bounded(html: str) -> str:
    """The parser's HTML with the tags of elements deeper than MAX_NESTING left out (their
    text stays, in the element above). Every step runs in C (split, map, accumulate): no
    Python loop over the tags, however many."""
    nestable = map(_NESTABLE_STEP.__getitem__, _NESTABLE_TAG.findall(html))
    if max(accumulate(nestable), default=0) + UNNESTED_DEPTH <= MAX_NESTING:
        return html
    parts = _TAG_SPLIT.split(html)
    tags = parts[1::2]
    after = list(accumulate(map(_DEPTH_STEP.get, map(_TAG_HEAD, tags), repeat(1))))
    # A tag stays when the depth on both its sides is within the bound.
    before = [0, *after[:-1]]
    kept = map(le, map(max, before, after), repeat(MAX_NESTING))
    parts[1::2] = list(map(mul, tags, kept))
    return "".join(parts)


# --- Rendering ---------------------------------------------------------------------------------

_HEADING = re.compile(r"<(/?)h([1-6])>")


def _shift_heading(match: re.Match) -> str:
    return f"<{match[1]}h{min(int(match[2]) + HEADING_SHIFT, 6)}>"


def _site_tags(html: str) -> str:
    """Headings shifted down to h3-h6, and single tildes back as text.

    comrak has no "double tilde only" switch, and GitHub strikes `~one~` too, while Discord
    (which shows the same text) and the members do not: `~5 minutes` is not a deletion. So
    subscript, which claims single tildes, is switched on and its tags written back as the
    tildes they were. Raw HTML is escaped, so every `<sub>` or `<h1>` here is comrak's own.
    """
    if "<sub>" in html:
        html = html.replace("<sub>", "~").replace("</sub>", "~")
    if "<h" in html:
        html = _HEADING.sub(_shift_heading, html)
    return html


def _options(*, blocks: bool) -> dict:
    extensions = comrak.ExtensionOptions()
    render = comrak.RenderOptions()
    render.escape = True  # a member's raw HTML shows as text
    render.unsafe_ = True  # every URL reaches nh3, which keeps a refused link's text
    if blocks:
        # Tables and ~~strikethrough~~ on top of CommonMark (Discord shows ~~ too). Hard
        # breaks: Discord shows a single newline as a line break, and the web page agrees.
        extensions.table = True
        extensions.strikethrough = True
        extensions.subscript = True  # only to find single tildes (`_site_tags`)
        render.hardbreaks = True
    return {"extension_options": extensions, "render_options": render}


_BLOCKS = _options(blocks=True)
_INLINE = _options(blocks=False)
# Titles are one line, parsed as inline text only, so "1. Intro" or "# hashtag" stays text:
# comrak has no inline-only mode, so the line follows a word that starts no block, and the
# word is taken off again.
_INLINE_LEAD = "x "


def render_markdown(text: str) -> str:
    """Member-written Markdown as HTML that is safe to put on a page as is."""
    html = comrak.render_markdown(_quotes_bounded(_tables_bounded(text)), **_BLOCKS)
    return sanitise(_site_tags(_nesting_bounded(html)).rstrip("\n"))


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
    line = " ".join(text.split())
    if not line:
        return ""
    html = comrak.render_markdown(_INLINE_LEAD + line, **_INLINE).rstrip("\n")
    html = html.removeprefix("<p>" + _INLINE_LEAD).removesuffix("</p>")
    return sanitise(_nesting_bounded(html), tags=INLINE_TAGS).strip()
