"""Search over published issues and their items.

On PostgreSQL: full-text search (`websearch_to_tsquery`, so readers can type "quoted phrases",
or, -excluded) over the stored, weighted search vectors (titles weigh more), ranked, with a GIN
index, and `ts_headline` for the highlighted snippet. On SQLite: every word must appear
(case-insensitive), newest first, highlighted in Python. Either way the text is escaped before
the `<mark>` tags are added, so a member's words can never become markup.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank
from django.db import connection
from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Coalesce, NullIf
from django.utils.safestring import SafeString, mark_safe

from .issues import SEARCH_CONFIG
from .models import Issue, IssueItem

MAX_QUERY_LENGTH = 200
# ts_headline wraps matches in these; they are swapped for <mark> after escaping.
_START, _STOP = "\x02", "\x03"
_SNIPPET_WORDS = 40


def full_text() -> bool:
    return connection.vendor == "postgresql"


def _terms(query: str) -> list[str]:
    """The words of a query for the plain fallback (search operators dropped)."""
    words = re.findall(r"\w[\w.+#-]*", query.lower())
    return [word for word in words if word not in {"or", "and"}][:10]


def _title_expression():
    return Coalesce(NullIf("submission__title", Value("")), "event__title", "submission__url")


def search_items(query: str) -> QuerySet[IssueItem]:
    """Published items matching `query`, best first, each with `title_hl` and `snippet_hl`."""
    items = (
        IssueItem.objects.published()
        .select_related("issue", "submission", "event", "section")
        # Only what a hit shows: the issue's stored page alone is tens of kilobytes a row.
        .only(
            *("issue", "submission", "event", "section", "position", "search_text"),
            *("issue__number", "issue__slug", "issue__title", "issue__published_at"),
            *("submission__title", "submission__url", "submission__kind", "event__title"),
            *("section__emoji", "section__kind_emoji", "section__position"),
        )
    )
    if full_text():
        ts_query = SearchQuery(query, search_type="websearch", config=SEARCH_CONFIG)
        return (
            items.filter(search_vector=ts_query)
            .annotate(**_ranked_highlights(_title_expression(), ts_query))
            .order_by("-rank", "-issue__published_at", "section__position", "position", "id")
        )
    terms = _terms(query)
    if not terms:
        return items.none()
    for term in terms:
        items = items.filter(
            Q(submission__title__icontains=term)
            | Q(event__title__icontains=term)
            | Q(search_text__icontains=term)
        )
    return items.order_by("-issue__published_at", "section__position", "position", "id")


def _ranked_highlights(title, ts_query: SearchQuery) -> dict:
    """Rank, the highlighted title and a highlighted snippet of the searchable text."""
    return {
        "rank": SearchRank(F("search_vector"), ts_query),
        "title_hl": SearchHeadline(
            title,
            ts_query,
            config=SEARCH_CONFIG,
            start_sel=_START,
            stop_sel=_STOP,
            highlight_all=True,
        ),
        "snippet_hl": SearchHeadline(
            "search_text",
            ts_query,
            config=SEARCH_CONFIG,
            start_sel=_START,
            stop_sel=_STOP,
            max_words=_SNIPPET_WORDS,
            min_words=15,
        ),
    }


def search_issues(query: str) -> QuerySet[Issue]:
    """Published issues whose title or introduction and closing match, best first."""
    issues = Issue.objects.published().only(
        "number", "title", "slug", "published_at", "search_text"
    )
    if full_text():
        ts_query = SearchQuery(query, search_type="websearch", config=SEARCH_CONFIG)
        return (
            issues.filter(search_vector=ts_query)
            .annotate(**_ranked_highlights("title", ts_query))
            .order_by("-rank", "-published_at")
        )
    terms = _terms(query)
    if not terms:
        return issues.none()
    for term in terms:
        issues = issues.filter(Q(title__icontains=term) | Q(search_text__icontains=term))
    return issues.order_by("-published_at", "-number")


def marked(headline: str) -> SafeString:
    """A ts_headline result as safe HTML: escaped, then the markers made <mark>."""
    escaped = html.escape(headline)
    return mark_safe(  # noqa: S308  (escaped above; only our own tags added)
        escaped.replace(_START, "<mark>").replace(_STOP, "</mark>")
    )


def highlight(text: str, query: str, *, words: int | None = None) -> SafeString:
    """Escape `text` and wrap each occurrence of the query's words in <mark>.

    With `words`, return a window of about that many words around the first match.
    """
    terms = sorted(set(_terms(query)), key=len, reverse=True)
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


@dataclass(frozen=True)
class Hit:
    """One search result as the page shows it."""

    title: SafeString
    snippet: SafeString
    url: str
    emoji: str
    issue: Issue


def item_hit(item: IssueItem, query: str) -> Hit:
    if hasattr(item, "title_hl"):
        title, snippet = marked(item.title_hl), marked(item.snippet_hl)
    else:
        raw_title = (
            (item.submission.title or item.submission.url) if item.submission else item.event.title
        )
        title = highlight(raw_title, query)
        snippet = highlight(item.search_text, query, words=_SNIPPET_WORDS)
    kind = item.submission.kind if item.submission else "event"
    return Hit(
        title=title,
        snippet=snippet,
        url=f"{item.issue.get_absolute_url()}#{item.anchor}",
        emoji=item.section.emoji_for(kind),
        issue=item.issue,
    )


def issue_hit(issue: Issue, query: str) -> Hit:
    if hasattr(issue, "title_hl"):
        title, snippet = marked(issue.title_hl), marked(issue.snippet_hl)
    else:
        title = highlight(issue.title, query)
        snippet = highlight(issue.search_text, query, words=_SNIPPET_WORDS)
    return Hit(title=title, snippet=snippet, url=issue.get_absolute_url(), emoji="⭐", issue=issue)
