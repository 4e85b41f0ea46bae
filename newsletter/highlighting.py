"""Search hits' highlights: the query's words in <mark>, always after the text is escaped, so a
member's words can never become markup. On PostgreSQL ts_headline marks the matches with two
control characters (START, STOP) that `marked` turns into tags; on SQLite `highlight` finds
the words itself."""

from __future__ import annotations

import html
import re

from django.utils.safestring import SafeString, mark_safe

from .spelling import spellings

# ts_headline wraps matches in these; they are swapped for <mark> after escaping.
START, STOP = "\x02", "\x03"


def query_terms(query: str) -> list[str]:
    """The words of a query for the plain fallback (search operators dropped)."""
    words = re.findall(r"\w[\w.+#-]*", query.lower())
    return [word for word in words if word not in {"or", "and"}][:10]


def marked(headline: str) -> SafeString:
    """A ts_headline result as safe HTML: escaped, then the markers made <mark>."""
    escaped = html.escape(headline)
    return mark_safe(  # noqa: S308  (escaped above; only our own tags added)
        escaped.replace(START, "<mark>").replace(STOP, "</mark>")
    )


def highlight(text: str, query: str, *, words: int | None = None) -> SafeString:
    """Escape `text` and wrap each occurrence of the query's words in <mark>.

    With `words`, return a window of about that many words around the first match.
    """
    terms = sorted(
        {spelling for term in query_terms(query) for spelling in spellings(term)},
        key=len,
        reverse=True,
    )
    if words is not None:
        tokens = text.split()
        if len(tokens) > words:
            lowered = [token.lower() for token in tokens]
            first = next(
                (i for i, token in enumerate(lowered) if any(t in token for t in terms)), 0
            )
            start = max(0, first - words // 3)
            window = tokens[start : start + words]
            text = ("… " if start else "") + " ".join(window)
            if start + words < len(tokens):
                text += " …"
    if not terms:
        return mark_safe(html.escape(text))  # noqa: S308  (escaped)
    pattern = re.compile("|".join(re.escape(term) for term in terms), re.IGNORECASE)
    parts, position = [], 0
    for match in pattern.finditer(text):
        parts.append(html.escape(text[position : match.start()]))
        parts.append(f"<mark>{html.escape(match.group(0))}</mark>")
        position = match.end()
    parts.append(html.escape(text[position:]))
    return mark_safe("".join(parts))  # noqa: S308  (every piece escaped)
