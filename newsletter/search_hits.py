"""What a search shows: its hits, each written out as the page lists it, and the count.

Hits are written in Python rather than by a template include per hit (ten of them were a third
of a search's processor time): every value is escaped, and title and snippet are already safe
HTML, escaped before their <mark>s were added (newsletter/highlighting.py). The dates and URLs
they show are computed once per process for each set of arguments that decides them (the
reader's zone and language, the script prefix), in bounded caches of strings that cannot go
stale: an issue's number and slug, an event's slug and start are part of the key.
"""

from __future__ import annotations

import functools
import html
from dataclasses import dataclass
from datetime import datetime

from django.urls import reverse
from django.utils import dateformat, timezone, translation
from django.utils.safestring import SafeString, mark_safe

from .models import Submission
from .rendering import TopicRef


@dataclass(frozen=True)
class Hit:
    """One search result as the page shows it."""

    title: SafeString
    snippet: SafeString
    url: str
    emoji: str
    issue_number: int
    issue_title: str
    published_at: datetime
    topics: tuple[TopicRef, ...] = ()
    topic_urls: tuple[str, ...] = ()

    @property
    def html(self) -> SafeString:
        """The item hit's list entry, in the reader's zone and language."""
        return self.entry(timezone.get_current_timezone_name(), translation.get_language())

    def entry(self, zone: str, language: str | None) -> SafeString:
        """The item hit's list entry, written out here rather than by a template include: ten
        of them were a third of a search's processor time (and format_html, since, most of
        what was left). Every value is escaped; title and snippet are already safe HTML,
        escaped before their <mark>s were added."""
        iso, day = _issue_dates(self.published_at, zone, language)
        chips = ""
        if self.topics:
            chips = (
                '<ul class="topic-chips" aria-label="Topics">'
                + "".join(
                    f'<li><a class="topic-chip" href="{_esc(url)}">{_esc(topic.name)}</a></li>'
                    for topic, url in zip(self.topics, self.topic_urls, strict=True)
                )
                + "</ul>"
            )
        snippet = f'<p class="hit-snippet">{self.snippet}</p>' if self.snippet else ""
        return mark_safe(  # noqa: S308  (every value escaped, or safe HTML already)
            f'<li class="search-hit"><span aria-hidden="true">{_esc(self.emoji)}</span> '
            f'<a class="hit-title" href="{_esc(self.url)}">{self.title}</a>{snippet}{chips}'
            f'<p class="small muted">In issue #{self.issue_number}, {_esc(self.issue_title)} · '
            f'<time datetime="{iso}">{day}</time></p></li>'
        )

    @property
    def issue_html(self) -> SafeString:
        """An issue hit's list entry (see `html`)."""
        snippet = f'<p class="hit-snippet">{self.snippet}</p>' if self.snippet else ""
        return mark_safe(  # noqa: S308  (as above)
            f'<li class="search-hit"><a class="hit-title" href="{_esc(self.url)}">'
            f"#{self.issue_number} {self.title}</a>{snippet}</li>"
        )


def _esc(text: str) -> str:
    """Django's escape (the same characters), without making a SafeString of each piece."""
    return html.escape(str(text))


@functools.lru_cache(maxsize=4096)
def _issue_dates(published_at: datetime, zone: str, language: str | None) -> tuple[str, str]:
    """An issue's date as a hit shows it: ISO 8601 (the date filter's "c") and "j F Y", in the
    reader's zone and language (they key the cache: an issue's hits share the same two)."""
    when = timezone.localtime(published_at)
    return _esc(when.isoformat()), _esc(dateformat.format(when, "j F Y"))


@dataclass(frozen=True)
class Results:
    """A page of item hits and how many items match in all; `more`: more than `total` match
    (on PostgreSQL only the NEWSLETTER_SEARCH_CANDIDATES most recently placed matches are
    ranked and counted)."""

    hits: list[Hit]
    total: int
    more: bool = False


def topics_of(submission_ids: list[int]) -> dict[int, tuple[TopicRef, ...]]:
    """The topics of a page of results' submissions, in one query."""
    if not submission_ids:
        return {}
    found: dict[int, list[TopicRef]] = {}
    links = (
        Submission.topics.through.objects.filter(submission_id__in=submission_ids)
        .select_related("topic")
        .order_by("topic__position", "topic__name")
    )
    for link in links:
        found.setdefault(link.submission_id, []).append(TopicRef(link.topic.name, link.topic.slug))
    return {pk: tuple(refs) for pk, refs in found.items()}


@functools.lru_cache(maxsize=4096)
def _issue_url(prefix: str, number: int, slug: str) -> str:
    """Issue.get_absolute_url without building a model instance for it. A URL depends only on
    its arguments and the script prefix, which key the cache with them: reversing was a tenth
    of a search's Python."""
    return reverse("newsletter:issue-detail", args=[number, slug])


@functools.lru_cache(maxsize=1024)
def _topic_url(prefix: str, slug: str) -> str:
    return reverse("newsletter:topic", args=[slug])


@functools.lru_cache(maxsize=1024)
def _event_url(prefix: str, slug: str) -> str:
    return reverse("events:event-detail", args=[slug])  # Event.get_absolute_url


@dataclass(frozen=True)
class EventHit:
    title: SafeString
    snippet: SafeString
    url: str
    start: datetime
    cancelled: bool

    @property
    def html(self) -> SafeString:
        return self.entry(timezone.get_current_timezone_name(), translation.get_language())

    def entry(self, zone: str, language: str | None) -> SafeString:
        """The event hit's list entry (see `Hit.entry`), its date in the reader's zone."""
        iso, day = _event_dates(self.start, zone, language)
        cancelled = "Cancelled: " if self.cancelled else ""
        snippet = f'<p class="hit-snippet">{self.snippet}</p>' if self.snippet else ""
        return mark_safe(  # noqa: S308  (every value escaped, or safe HTML already)
            '<li class="search-hit"><span aria-hidden="true">📅</span> '
            f'<a class="hit-title" href="{_esc(self.url)}">{cancelled}{self.title}</a>{snippet}'
            f'<p class="small muted"><time class="local-time" datetime="{iso}">{day}</time></p>'
            "</li>"
        )


@functools.lru_cache(maxsize=1024)
def _event_dates(start: datetime, zone: str, language: str | None) -> tuple[str, str]:
    """An event's start as a hit shows it, in the reader's zone: what the date filters "c" and
    "l j F Y, H:i T" write."""
    when = timezone.localtime(start)
    return _esc(dateformat.format(when, "c")), _esc(dateformat.format(when, "l j F Y, H:i T"))


def results_html(
    *,
    query: str,
    hits: list[Hit],
    issue_hits: list[Hit],
    event_hits: list[EventHit],
    page_obj,
    more: bool,
    ranked: bool,
    query_string: str = "",
    page_error: str = "",
    suggestion: str | None = None,
    suggestion_query: str = "",
) -> SafeString:
    """The results below the search form, as the page prints them: a page error, "Did you
    mean", the issue and event hits, then the items with their count and pages. Written here,
    like each hit, rather than by a template: rendering the include was a tenth of a search's
    processor time. Every value is escaped, or safe HTML already."""
    # The reader's zone and language, looked up once for all the hits' dates.
    zone, language = timezone.get_current_timezone_name(), translation.get_language()
    parts = []
    if page_error:
        parts.append(f'<p class="notice" role="alert">{_esc(page_error)}</p>')
    if suggestion:
        parts.append(
            f'<p class="notice search-suggestion" role="status">Did you mean <a href="?'
            f'{_esc(suggestion_query)}" rel="nofollow"><strong>{_esc(suggestion)}</strong></a>?'
            "</p>"
        )
    for title, name, found in (("Issues", "issue", issue_hits), ("Events", "event", event_hits)):
        if found:
            entries = "".join(
                hit.issue_html if name == "issue" else hit.entry(zone, language) for hit in found
            )
            parts.append(
                f'<section aria-labelledby="{name}-hits-title"><h2 id="{name}-hits-title">'
                f'{title}</h2><ul class="plain-list search-results">{entries}</ul></section>'
            )
    count = ""
    if page_obj:
        plus = "+" if more else ""
        count = f' <span class="muted small">({page_obj.paginator.count}{plus} found)</span>'
    if hits:
        body = (
            '<ol class="plain-list search-results">'
            + "".join(hit.entry(zone, language) for hit in hits)
            + "</ol>"
            + _pages(page_obj, query_string, ranked)
        )
    else:
        body = f"<p>No published item matches “{_esc(query)}”. Try fewer or other words.</p>"
    parts.append(
        f'<section aria-labelledby="item-hits-title"><h2 id="item-hits-title">Items{count}</h2>'
        f"{body}</section>"
    )
    return mark_safe("\n".join(parts))  # noqa: S308  (every value escaped, or safe HTML)


def _pages(page, query_string: str, ranked: bool) -> str:
    """The links to the next and previous pages (templates/includes/_pagination.html)."""
    if not page or not page.has_other_pages():
        return ""
    link = f"?{_esc(query_string)}&amp;page=" if query_string else "?page="
    newer, older = ("Better matches", "More matches") if ranked else ("Newer", "Older")
    previous = (
        f'<a href="{link}{page.previous_page_number()}" rel="prev">← {newer}</a>'
        if page.has_previous()
        else ""
    )
    following = (
        f'<a href="{link}{page.next_page_number()}" rel="next">{older} →</a>'
        if page.has_next()
        else ""
    )
    return (
        f'<nav class="pagination" aria-label="Pages">{previous}'
        f'<span class="muted">Page {page.number} of {page.paginator.num_pages}</span>'
        f"{following}</nav>"
    )
