"""The one Markdown renderer of the site: Markdown to HTML, then sanitised by nh3.

Every summary, blurb, event description and markdownx preview goes through
`render_markdown`; nothing a member typed reaches a page any other way. Python-Markdown
passes raw HTML through untouched, so the nh3 allow-list below is the security boundary:
whatever Markdown produces, only these tags, attributes and URL schemes survive.
"""

from __future__ import annotations

import threading

import markdown as md
import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown.extensions import Extension

# Short link summaries need emphasis, links, code, lists, quotes and the odd table.
# No <img>: pictures from any host would let a member track readers (and break
# `img-src 'self'`), and the same text is posted to Discord, where they would not show.
# h1/h2 belong to the page around the summary, so Markdown headings start at h3 (see `toc`).
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
# The tables extension writes align="left|center|right"; any other value is dropped.
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

EXTENSIONS = [
    "fenced_code",
    "tables",
    "sane_lists",
    # Discord shows a single newline as a line break; the web page should agree.
    "nl2br",
    # Only for `baselevel`: "# Heading" becomes <h3>. The empty marker keeps "[TOC]" as text.
    "toc",
]
EXTENSION_CONFIGS = {
    "tables": {"use_align_attribute": True},
    "toc": {"baselevel": 3, "marker": ""},
}

INLINE_TAGS = frozenset({"em", "strong", "code"})


def _clean(html: str, *, tags: frozenset[str] = ALLOWED_TAGS) -> str:
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


_local = threading.local()


def _converter() -> md.Markdown:
    """One Markdown instance per thread, reset before each use: building one with its
    extensions costs as much as the conversion itself."""
    converter = getattr(_local, "converter", None)
    if converter is None:
        converter = _local.converter = md.Markdown(
            extensions=EXTENSIONS, extension_configs=EXTENSION_CONFIGS
        )
    return converter.reset()


def render_markdown(text: str) -> str:
    """Member-written Markdown as HTML that is safe to put on a page as is."""
    return _clean(_converter().convert(text))


def render_markdown_safe(text: str) -> SafeString:
    """For templates: marked safe because `render_markdown` has sanitised it."""
    return mark_safe(render_markdown(text))  # noqa: S308  (sanitised by nh3)


def markdownify(text: str) -> str:
    """django-markdownx's MARKDOWNX_MARKDOWNIFY_FUNCTION.

    The preview endpoint returns whatever this gives back, so it must be the same sanitised
    pipeline as the pages, or the preview would be a way to get script onto the site.
    """
    return render_markdown(text)


class _ParagraphsOnly(Extension):
    """Titles are one line: "1. Intro" or "# hashtag" must stay text, not become a list or heading."""

    BLOCK_PROCESSORS = (
        "empty", "indent", "code", "hashheader", "setextheader", "hr", "olist", "ulist", "quote", "reference",
    )  # fmt: skip

    def extendMarkdown(self, parser: md.Markdown) -> None:  # noqa: N802  (Python-Markdown's name)
        for name in self.BLOCK_PROCESSORS:
            parser.parser.blockprocessors.deregister(name, strict=False)


def render_inline_markdown(text: str) -> str:
    """A one-line title with *emphasis*, **strong** and `code` only: no blocks, no links."""
    html = md.markdown(" ".join(text.split()), extensions=[_ParagraphsOnly()])
    return _clean(html, tags=INLINE_TAGS).strip()
