"""The site's one Markdown renderer: what members write renders, nothing in it can run script,
and no text, however hostile, keeps a worker busy.

The XSS checks look only at the output, parsed the way a browser tokenises it, so they hold
whatever the renderer does inside: Markdown first, nh3 second, or anything that replaces them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from html.parser import HTMLParser

import pytest
from django.utils.safestring import SafeString
from markdown_it import MarkdownIt

from bench.markdown import WORST_CASES, worst_case
from portal.markdown import (
    MAX_NESTING,
    MAX_PADDED_CELLS,
    MAX_QUOTE_DEPTH,
    MAX_TABLE_CELLS,
    markdownify,
    render_inline_markdown,
    render_markdown,
    render_markdown_safe,
    sanitise,
)

# Written out here rather than imported, so that widening the renderer's allow-list fails a test.
BLOCK_TAGS = {
    "p", "br", "hr", "strong", "em", "b", "i", "del", "sup", "sub", "code", "pre",
    "a", "blockquote", "ul", "ol", "li", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
INLINE_TAGS = {"em", "strong", "code"}
ATTRIBUTES = {"href", "title", "rel", "start", "align"}
DANGEROUS_TAGS = {
    "script", "iframe", "frame", "object", "embed", "style", "svg", "math", "form", "meta",
    "base", "link", "img", "video", "audio", "source", "input", "button", "details", "body",
    "marquee", "noscript", "template", "textarea", "isindex",
}  # fmt: skip
SAFE_SCHEMES = {"http", "https", "mailto"}
_SCHEME = re.compile(r"([a-z][a-z0-9+.\-]*):")
_C0_AND_SPACE = "".join(chr(code) for code in range(0x21))

PAYLOADS = [
    # Script elements, plain and disguised.
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</script>",
    "<script\n>alert(1)</script\n>",
    "Hi <script>alert(1)</script> [x](javascript:alert(1))",
    # Event handlers.
    "<img src=x onerror=alert(1)>",
    "<img src=x onerror=alert(1)//",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<details open ontoggle=alert(1)>",
    "<body onload=alert(1)>",
    "<input autofocus onfocus=alert(1)>",
    "<video><source onerror=alert(1)></video>",
    "<audio src=x onerror=alert(1)>",
    "<marquee onstart=alert(1)>x</marquee>",
    '<a href="https://ok.example" onclick="alert(1)">x</a>',
    "<p onmouseover=alert(1)>hover</p>",
    "<x onclick=alert(1)>x</x>",
    '**bold** <b onmouseover="alert(1)">b</b>',
    # javascript: links in Markdown.
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](java&#09;script:alert(1))",
    "[x](java\tscript:alert(1))",
    "[x]( javascript:alert(1))",
    "[x](<javascript:alert(1)>)",
    "[x](&#106;avascript:alert(1))",
    "[x](javascript&#58;alert(1))",
    "[x](javascript://%0Aalert(1))",
    "[x][1]\n\n[1]: javascript:alert(1)",
    "[x]\n\n[x]: JAVASCRIPT:alert(1)",
    "<javascript:alert(1)>",
    '[x](https://ok.example "t\\" onmouseover=\\"alert(1)")',
    # javascript: links in raw HTML.
    '<a href="javascript:alert(1)">x</a>',
    '<a href="&#x6A;avascript:alert(1)">x</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
    '<a href="jAvAsCrIpT&colon;alert(1)">x</a>',
    '<a href="jav&#x0A;ascript:alert(1)">x</a>',
    '<a href="java&#09;script:alert(1)">x</a>',
    "<a href=' &#14;javascript:alert(1)'>x</a>",
    '<a href="\x01javascript:alert(1)">x</a>',
    '<a xlink:href="javascript:alert(1)">x</a>',
    # Other schemes.
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    "[x](vbscript:msgbox(1))",
    '<a href="VBScript:msgbox(1)">x</a>',
    "[x](file:///etc/passwd)",
    # Images.
    "![x](javascript:alert(1))",
    '![x](x" onerror="alert(1))',
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    '<img src="javascript:alert(1)">',
    # Embedding, styling and page-level elements.
    '<iframe src="https://evil.example"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    "<style>body{background:url(javascript:alert(1))}</style>",
    '<p style="width: expression(alert(1))">x</p>',
    "<div style=\"background:url('javascript:alert(1)')\">x</div>",
    '<link rel=stylesheet href="https://evil.example/x.css">',
    '<form action="javascript:alert(1)"><button>x</button></form>',
    '<button formaction="javascript:alert(1)">x</button>',
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    '<math href="javascript:alert(1)">x</math>',
    '<table background="javascript:alert(1)"><tr><td>x</td></tr></table>',
    '<isindex action="javascript:alert(1)" type=image>',
    "<template><script>alert(1)</script></template>",
    "<textarea><script>alert(1)</script></textarea>",
    # Parser differentials (mutation XSS).
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<svg></p><style><a id="</style><img src=1 onerror=alert(1)>">',
    "<!--<img src=x onerror=alert(1)>-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "`<script>alert(1)</script>`",
    "```\n</code></pre><script>alert(1)</script>\n```",
]

RENDERERS: list[Callable[[str], str]] = [
    render_markdown,
    render_markdown_safe,
    markdownify,
    render_inline_markdown,
    # The boundary alone, given the payloads as HTML: it must hold even for markup the
    # parser never lets through.
    sanitise,
]


class _Tokens(HTMLParser):
    """Every tag, attribute, comment and declaration in an HTML fragment, entities decoded."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []
        self.other: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(tag, name, value or "") for name, value in attrs]

    def handle_comment(self, data: str) -> None:
        self.other.append(data)

    def handle_decl(self, decl: str) -> None:
        self.other.append(decl)

    def handle_pi(self, data: str) -> None:
        self.other.append(data)

    def unknown_decl(self, data: str) -> None:
        self.other.append(data)


def url_scheme(url: str) -> str | None:
    """The scheme a browser would see: edges trimmed, tabs and newlines removed. None if relative."""
    cleaned = re.sub(r"[\t\n\r]", "", url.strip(_C0_AND_SPACE)).lower()
    match = _SCHEME.match(cleaned)
    return match.group(1) if match else None


def assert_harmless(html: str, allowed_tags: set[str]) -> None:
    tokens = _Tokens(html)
    assert set(tokens.tags) & DANGEROUS_TAGS == set()
    assert set(tokens.tags) - allowed_tags == set()
    assert tokens.other == []
    for tag, name, value in tokens.attributes:
        assert not name.startswith("on"), (tag, name, value)
        assert name != "style", (tag, name, value)
        assert name in ATTRIBUTES, (tag, name, value)
        if name in {"href", "src"}:
            # Relative URLs and fragments are allowed: without a scheme they cannot run script.
            assert url_scheme(value) in SAFE_SCHEMES | {None}, (tag, name, value)


@pytest.mark.parametrize("render", RENDERERS, ids=lambda render: render.__name__)
@pytest.mark.parametrize("payload", PAYLOADS)
def test_renderers_xss_payload_is_neutralised(render: Callable[[str], str], payload: str):
    allowed = INLINE_TAGS if render is render_inline_markdown else BLOCK_TAGS
    assert_harmless(str(render(payload)), allowed)


@pytest.mark.parametrize(
    "payload",
    [
        "<script>alert(1)</script>",
        "[x](javascript:alert(1))",
        '<a href="&#x6A;avascript:alert(1)">x</a>',
        "<b onclick=alert(1)>x</b>",
        '<em style="color:red">x</em>',
        "<!-- hidden -->",
    ],
)
def test_assert_harmless_unsanitised_markdown_fails(payload: str):
    """The checker must bite: Markdown rendered by a parser that trusts its input (raw HTML and
    every URL kept), without nh3, is refused."""
    trusting = MarkdownIt("commonmark", {"html": True})
    trusting.validateLink = lambda url: True
    with pytest.raises(AssertionError):
        assert_harmless(trusting.render(payload), BLOCK_TAGS)


def test_payloads_are_many():
    assert len(set(PAYLOADS)) >= 25


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("https://example.org", "https"),
        (" \x01JaVa\tScRiPt:alert(1)", "javascript"),
        ("java    script:alert(1)", None),
        ("/events/", None),
        ("#item-3", None),
    ],
)
def test_url_scheme_matches_browser_reading(url: str, scheme: str | None):
    assert url_scheme(url) == scheme


# --- What members write renders -------------------------------------------------------------


def test_render_markdown_bold_becomes_strong():
    assert render_markdown("**bold** and *em*") == "<p><strong>bold</strong> and <em>em</em></p>"


def test_render_markdown_link_gets_nofollow_noopener():
    assert render_markdown('[Django](https://www.djangoproject.com/ "Home")') == (
        '<p><a href="https://www.djangoproject.com/" title="Home" rel="nofollow noopener">'
        "Django</a></p>"
    )


def test_render_markdown_raw_html_link_stays_text():
    assert render_markdown('<a href="https://example.org/" rel="opener" target="_blank">x</a>') == (
        '<p>&lt;a href="https://example.org/" rel="opener" target="_blank"&gt;x&lt;/a&gt;</p>'
    )


def test_sanitise_raw_link_gets_rel_replaced():
    assert sanitise('<p><a href="https://example.org/" rel="opener" target="_blank">x</a></p>') == (
        '<p><a href="https://example.org/" rel="nofollow noopener">x</a></p>'
    )


def test_render_markdown_mailto_link_is_kept():
    assert render_markdown("[Write to us](mailto:editors@example.org)") == (
        '<p><a href="mailto:editors@example.org" rel="nofollow noopener">Write to us</a></p>'
    )


def test_render_markdown_autolinked_email_is_plain_mailto():
    assert render_markdown("<editors@example.org>") == (
        '<p><a href="mailto:editors@example.org" rel="nofollow noopener">editors@example.org</a></p>'
    )


def test_render_markdown_relative_and_fragment_links_are_kept():
    assert render_markdown("[Events](/events/) and [above](#item-3)") == (
        '<p><a href="/events/" rel="nofollow noopener">Events</a> and '
        '<a href="#item-3" rel="nofollow noopener">above</a></p>'
    )


def test_render_markdown_javascript_link_keeps_text_only():
    assert render_markdown("[click](javascript:alert(1))") == (
        '<p><a rel="nofollow noopener">click</a></p>'
    )


def test_render_markdown_code_span_escapes_html():
    assert render_markdown("Use `<script>` sparingly") == (
        "<p>Use <code>&lt;script&gt;</code> sparingly</p>"
    )


def test_render_markdown_fenced_code_escapes_html_and_drops_class():
    assert render_markdown("```python\nif a < b:\n    print('<b>')\n```") == (
        "<pre><code>if a &lt; b:\n    print('&lt;b&gt;')\n</code></pre>"
    )


def test_render_markdown_lists_render():
    assert render_markdown("- one\n- two\n\n3. three\n4. four") == (
        '<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n<ol start="3">\n<li>three</li>\n<li>four</li>\n</ol>'
    )


def test_render_markdown_blockquote_renders():
    assert render_markdown("> quoted") == "<blockquote>\n<p>quoted</p>\n</blockquote>"


def test_render_markdown_newline_becomes_line_break():
    assert render_markdown("line one\nline two") == "<p>line one<br>\nline two</p>"


def test_render_markdown_headings_start_at_h3():
    assert render_markdown("# Big\n\n## Smaller\n\n#### Small") == (
        "<h3>Big</h3>\n<h4>Smaller</h4>\n<h6>Small</h6>"
    )


def test_render_markdown_deepest_headings_stay_h6():
    assert render_markdown("##### Five\n\n###### Six") == "<h6>Five</h6>\n<h6>Six</h6>"


def test_render_markdown_table_keeps_alignment_without_style():
    assert render_markdown("| a | b |\n|:-:|--:|\n| 1 | 2 |") == (
        '<table>\n<thead>\n<tr>\n<th align="center">a</th>\n<th align="right">b</th>\n'
        '</tr>\n</thead>\n<tbody>\n<tr>\n<td align="center">1</td>\n<td align="right">2</td>\n'
        "</tr>\n</tbody>\n</table>"
    )


def test_render_markdown_table_short_row_is_padded():
    assert render_markdown("| a | b |\n|---|---|\n| 1 |") == (
        "<table>\n<thead>\n<tr>\n<th>a</th>\n<th>b</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n"
        "<td>1</td>\n<td></td>\n</tr>\n</tbody>\n</table>"
    )


def test_render_markdown_table_padding_is_capped():
    """A wide header over one-letter rows: each row would be padded to the header's width
    (300 cells a row, 90,000 in all), so the table reads as text, every character kept."""
    text = "|" + "a|" * 300 + "\n|" + "-|" * 300 + "\n" + "x\n" * 300
    html = render_markdown(text)
    assert "<td>" not in html
    assert "<th>" not in html
    assert html.count("x") == 300
    assert html.count("|") == text.count("|")


def test_render_markdown_table_with_a_cell_per_two_characters_stays_a_table():
    """The padding bound leaves a table of one-letter cells alone, however long (up to the
    text's MAX_TABLE_CELLS)."""
    rows = MAX_PADDED_CELLS * 4
    html = render_markdown("| a | b |\n|---|---|\n" + "|x|y|\n" * rows)
    assert html.count("<td>") == 2 * rows


def test_render_markdown_tables_of_one_text_share_a_cell_budget():
    """Each table is well-formed, but all of them together pass MAX_TABLE_CELLS (the guard
    counts a table as its columns times its lines: 2 × 11 here): those past it read as text,
    every character kept."""
    table = "| a | b |\n|---|---|\n" + "\n".join(["|x|y|"] * 9)
    count = MAX_TABLE_CELLS // 22 + 10
    html = render_markdown("\n\n".join([table] * count))
    assert html.count("<table>") == MAX_TABLE_CELLS // 22
    assert html.count("x") == 9 * count
    assert html.count("|---|---|") == 10


def test_render_markdown_short_rows_of_a_narrow_table_are_padded():
    html = render_markdown("| a | b | c |\n|---|---|---|\n" + "| x |\n" * 10)
    assert html.count("<td></td>") == 20


def test_render_markdown_quoted_table_padding_is_capped():
    """Inside a quote the table is found all the same."""
    text = "> |" + "a|" * 300 + "\n> |" + "-|" * 300 + "\n" + "> x\n" * 300
    html = render_markdown(text)
    assert "<td>" not in html
    assert html.count("x") == 300


def test_render_markdown_strikethrough_becomes_del():
    assert render_markdown("~~old~~ new, ~not~ this") == "<p><del>old</del> new, ~not~ this</p>"


def test_render_markdown_single_tildes_stay_text():
    assert render_markdown("takes ~5 min, ~a~ b, H~2~O, `~x~` ~~gone~~") == (
        "<p>takes ~5 min, ~a~ b, H~2~O, <code>~x~</code> <del>gone</del></p>"
    )


def test_render_markdown_tilde_fence_is_code():
    assert render_markdown("~~~\n~a~ <b>\n~~~") == "<pre><code>~a~ &lt;b&gt;\n</code></pre>"


def test_render_markdown_raw_html_shows_as_text():
    assert render_markdown("H<sub>2</sub>O, E=mc<sup>2</sup>, <del>old</del>") == (
        "<p>H&lt;sub&gt;2&lt;/sub&gt;O, E=mc&lt;sup&gt;2&lt;/sup&gt;, &lt;del&gt;old&lt;/del&gt;</p>"
    )


def test_sanitise_allowed_tags_are_kept():
    assert sanitise("<p>H<sub>2</sub>O, E=mc<sup>2</sup>, <del>old</del></p>") == (
        "<p>H<sub>2</sub>O, E=mc<sup>2</sup>, <del>old</del></p>"
    )


def test_render_markdown_raw_html_attributes_stay_text():
    assert render_markdown('<em class="alert" id="x" style="color:red">hey</em>') == (
        '<p>&lt;em class="alert" id="x" style="color:red"&gt;hey&lt;/em&gt;</p>'
    )


def test_render_markdown_raw_html_block_shows_as_text():
    """A line that starts an HTML block (CommonMark: `<div>`, `<p>`, a comment…) shows as typed,
    to the next blank line, Markdown and all: the parser is comrak, which escapes raw HTML
    where markdown-it, told to pass none, read the lines as Markdown."""
    assert render_markdown("<div>\n**x**\n</div>\n\n<!-- note -->") == (
        "&lt;div&gt;\n**x**\n&lt;/div&gt;\n&lt;!-- note --&gt;"
    )


def test_sanitise_style_class_and_id_are_dropped():
    assert sanitise('<p><em class="alert" id="x" style="color:red">hey</em></p>') == (
        "<p><em>hey</em></p>"
    )


def test_render_markdown_image_is_dropped():
    assert render_markdown("![logo](https://example.org/logo.png) text") == "<p> text</p>"


def test_render_markdown_script_stays_text():
    assert render_markdown("Read **this**<script>alert(1)</script>") == (
        "<p>Read <strong>this</strong>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
    )


def test_sanitise_script_is_dropped_with_its_content():
    assert sanitise("<p>Read <strong>this</strong><script>alert(1)</script></p>") == (
        "<p>Read <strong>this</strong></p>"
    )


def test_render_markdown_mentions_pass_through_as_text():
    assert render_markdown("Thanks @everyone and @here!") == "<p>Thanks @everyone and @here!</p>"


def test_render_markdown_toc_marker_stays_text():
    assert render_markdown("[TOC]") == "<p>[TOC]</p>"


def test_render_markdown_empty_text_is_empty():
    assert render_markdown("") == ""


def test_render_markdown_safe_is_safe_string():
    html = render_markdown_safe("**hi**")
    assert isinstance(html, SafeString)
    assert html == "<p><strong>hi</strong></p>"


# Python-Markdown took 15 s for 8,000 characters of `[` (and 40 minutes, by its quadratic
# growth, for 100 kB); markdown-it-py 3 to 5 s for the worst 100 kB. comrak and nh3 take a
# tenth of a second at most for any of them (docs/security.md, `python -m bench markdown`),
# so the bound is loose enough for any CI machine and still fails a quadratic renderer.
WORST_CASE_CHARS = 100_000
WORST_CASE_SECONDS = 2.0
# The HTML is at most this many times as long as the text, whatever the text: a table padded
# to a wide header, nested quotes or a link reference used again and again cannot make more
# (the worst found: 100 kB of `[a]: b` and `[a]`, 8.6 times).
OUTPUT_FACTOR = 12


@pytest.mark.parametrize("name", WORST_CASES)
def test_render_markdown_worst_case_is_fast_and_proportionate(name: str):
    text = worst_case(name, WORST_CASE_CHARS)
    started = time.perf_counter()
    html = render_markdown(text)
    assert time.perf_counter() - started < WORST_CASE_SECONDS
    assert len(html) <= OUTPUT_FACTOR * len(text)


class _Depth(HTMLParser):
    """The deepest element of an HTML fragment (every element here has its end tag)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.depth = self.deepest = 0
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag not in {"br", "hr", "img"}:
            self.depth += 1
            self.deepest = max(self.deepest, self.depth)

    def handle_endtag(self, tag: str) -> None:
        self.depth -= 1


@pytest.mark.parametrize(
    "text",
    [
        "> " * 50_000,
        ">" * 100_000,
        "".join(">" * depth + " x\n" for depth in range(1, 440)),
        "- " * 50_000,
        "1. " * 33_333,
        "".join("  " * depth + "- [\n" for depth in range(1, 310)),
        "".join("  " * depth + "> - x\n" for depth in range(1, 300)),
        "*_" * 25_000 + "x" + "_*" * 25_000,
        "**a " * 10_000 + "x" + " b**" * 10_000,
    ],
    ids=lambda text: repr(text[:12]),
)
def test_render_markdown_deep_nesting_is_bounded(text: str):
    """Nesting comes out no deeper than MAX_NESTING (nh3's parser is quadratic in the depth:
    100 kB of `> ` took 13 s), quotes no deeper than MAX_QUOTE_DEPTH, and the process lives:
    a compiled parser that recursed once per level would crash it here."""
    html = render_markdown(text)
    assert _Depth(html).deepest <= MAX_NESTING
    assert html.count("<blockquote>") <= MAX_QUOTE_DEPTH * text.count("\n") + MAX_QUOTE_DEPTH
    assert len(html) <= OUTPUT_FACTOR * len(text)


def test_render_markdown_deep_quote_keeps_its_text():
    html = render_markdown(">" * (MAX_QUOTE_DEPTH + 5) + " deep")
    assert html.count("<blockquote>") == MAX_QUOTE_DEPTH
    assert html.count("&gt;") == 5
    assert "deep" in html


def test_render_markdown_shallow_nesting_is_kept():
    html = render_markdown("> > - a\n> >   - *b **c***")
    assert html == (
        "<blockquote>\n<blockquote>\n<ul>\n<li>a\n<ul>\n<li><em>b <strong>c</strong></em></li>\n"
        "</ul>\n</li>\n</ul>\n</blockquote>\n</blockquote>"
    )


def test_markdownify_matches_render_markdown():
    text = "**bold** <script>alert(1)</script> [x](javascript:alert(1)) [ok](https://ok.example)"
    assert markdownify(text) == render_markdown(text)


# --- Titles -----------------------------------------------------------------------------------


def test_render_inline_markdown_keeps_emphasis_and_code():
    assert render_inline_markdown("**Big** news about *tiny* `models`") == (
        "<strong>Big</strong> news about <em>tiny</em> <code>models</code>"
    )


@pytest.mark.parametrize(
    "title",
    [
        "1. Introduction",
        "# hashtags",
        "- a dash",
        "> quoted",
        "---",
        "    indented",
        "[1]: not a ref",
    ],
)
def test_render_inline_markdown_block_syntax_stays_text(title: str):
    assert render_inline_markdown(title) == (
        title.strip().replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    )


def test_render_inline_markdown_link_keeps_text_only():
    assert render_inline_markdown("See [the paper](https://example.org/)") == "See the paper"


def test_render_inline_markdown_lines_are_joined():
    assert render_inline_markdown("two\nlines  here\n") == "two lines here"


def test_render_inline_markdown_escapes_text():
    assert render_inline_markdown("a < b & <b>c</b>") == "a &lt; b &amp; &lt;b&gt;c&lt;/b&gt;"


@pytest.mark.parametrize(
    ("title", "html"),
    [("", ""), ("  \n ", ""), ("x", "x"), ("x marks *the* spot", "x marks <em>the</em> spot")],
)
def test_render_inline_markdown_short_and_empty_titles(title: str, html: str):
    """comrak has no inline-only mode: the renderer parses the title after a leading word and
    takes the word off again, which must leave a title that starts with that word alone."""
    assert render_inline_markdown(title) == html
