"""Search over published issues and their items.

On PostgreSQL: full-text search (`websearch_to_tsquery`, so readers can type "quoted phrases",
or, -excluded) over the stored, weighted search vectors (titles weigh more), ranked, with a GIN
index, and `ts_headline` for the highlighted snippet. On SQLite: every word must appear
(case-insensitive), newest first, highlighted in Python. Either way the text is escaped before
the `<mark>` tags are added, so a member's words can never become markup.

A search nobody asked before misses the page cache, so it is the costliest reader page; on
PostgreSQL it is three statements written out in SQL rather than built by the ORM. The ranking
(`_ITEMS_SQL`) reads a bounded number of matching items (the most recently placed), ranks and
counts those; the page of hits (`_HITS_SQL`) joins the ten it chose to their submissions,
events and topics and highlights them; then the issues and events, in one statement
(`_ISSUES_AND_EVENTS_SQL`). The last two do not depend on how common the words are, so they
are prepared (`portal.db.prepared_cursor`): planning them cost more than running them. Each hit's
HTML is written out in Python (`Hit.html`). The cost no longer grows with the archive:
docs/performance.md has the figures.

British and American spellings find each other (newsletter/spelling.py): the query is also
written in the other spelling, and the tsqueries are joined with OR, so the GIN index still
answers. Events are searched too, on their stored tsvector column (events' migration 0006).

"Did you mean …" is newsletter/suggestions.py; the highlights, newsletter/highlighting.py.
"""

from __future__ import annotations

import functools
import html
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.urls import get_script_prefix, reverse
from django.utils import dateformat, timezone, translation
from django.utils.safestring import SafeString, mark_safe

from events.models import Event
from newsletter.services.issues import SEARCH_CONFIG
from portal.db import prepared_cursor

from .highlighting import START, STOP, highlight, marked, query_terms
from .models import Issue, IssueItem, Section, Submission, Topic
from .rendering import TopicRef
from .spelling import query_variants, spellings

MAX_QUERY_LENGTH = 200
# Ten results a page, as web searches show; matching issues (at most ISSUE_HITS) come first.
RESULTS_PER_PAGE = 10
ISSUE_HITS = 5
EVENT_HITS = 5
_SNIPPET_WORDS = 40
_TITLE_OPTIONS = f"StartSel={START}, StopSel={STOP}, HighlightAll=true"
_SNIPPET_OPTIONS = f"StartSel={START}, StopSel={STOP}, MaxWords={_SNIPPET_WORDS}, MinWords=15"


def full_text() -> bool:
    return connection.vendor == "postgresql"


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
        """The item hit's list entry, written out here rather than by a template include: ten
        of them were a third of a search's processor time (and format_html, since, most of
        what was left). Every value is escaped; title and snippet are already safe HTML,
        escaped before their <mark>s were added."""
        iso, day = _issue_dates(
            self.published_at, timezone.get_current_timezone_name(), translation.get_language()
        )
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


def search_items(query: str, *, offset: int = 0, limit: int = RESULTS_PER_PAGE) -> Results:
    """The published items matching `query`, best first: `limit` of them from `offset`."""
    if full_text():
        return _search_items_sql(query, offset, limit)
    return _search_items_plain(query, offset, limit)


def search_issues_and_events(
    query: str, *, issue_limit: int = ISSUE_HITS, event_limit: int = EVENT_HITS
) -> tuple[list[Hit], list[EventHit]]:
    """What the first page shows above the items: the published issues whose title,
    introduction or closing match, and the published and cancelled events whose title or
    description match, each best first (one statement on PostgreSQL)."""
    if full_text():
        return _search_issues_and_events_sql(query, issue_limit, event_limit)
    return _search_issues_plain(query, issue_limit), _search_events_plain(query, event_limit)


# --- PostgreSQL -------------------------------------------------------------------------------

_VARIANT_KEYS = ("query", "query_1", "query_2")
_VARIANT = "websearch_to_tsquery(%(config)s::regconfig, %({})s)"
# The query as typed, OR the same query in the other spellings (the same text when it has none).
_TS_QUERY = "(" + " || ".join(map(_VARIANT.format, _VARIANT_KEYS)) + ")"


# The same in the prepared statements (hits, issues, events): a generic plan cannot fold the
# query into a constant, and would parse it again for every row it ranks or highlights; as a
# scalar sub-select it is computed once a run (and the GIN index still answers `@@` with it).
_TS_QUERY_ONCE = f"(SELECT {_TS_QUERY})"


@functools.cache
def _matching(sql: str, count: int) -> str:
    """`sql` with its match conditions (`@@`) on the `count` distinct spellings only: most
    queries have one, and the GIN scan and each row's recheck tested it three times over (a
    tenth of the items statement on 2,000 issues); an OR of the same query matches the same
    rows. ts_rank and ts_headline keep the three-part tsquery: readers see their results."""
    distinct = "(" + " || ".join(map(_VARIANT.format, _VARIANT_KEYS[:count])) + ")"
    return sql.replace(" @@ " + _TS_QUERY, " @@ " + distinct).replace(
        f" @@ (SELECT {_TS_QUERY})", f" @@ (SELECT {distinct})"
    )


def _execute(cursor, sql: str, params: dict) -> list[tuple]:
    count = len({params[key] for key in _VARIANT_KEYS})
    cursor.execute(_matching(sql, count), params)
    return cursor.fetchall()


_PUBLISHED_ISSUE = "issue.state = %(published)s AND issue.published_at <= %(now)s"

# What IssueItem.objects.published() means: the item's own flag and its issue published.
# The emoji is Section.emoji_for(kind): the kind's own emoji, else the section's.
#
# The cost of a search is the rows PostgreSQL reads, so it reads a bounded number: the
# %(candidates)s most recently placed matching items (by id; NEWSLETTER_SEARCH_CANDIDATES),
# looked for first among the newest %(recent)s items (NEWSLETTER_SEARCH_RECENT_ITEMS: the GIN
# bitmap ANDed with a range of the primary key, so a common word costs a few hundred rows, not
# the half of the archive that contains it), and in the rest of the archive only when the
# recent part has too few (a rare word: few rows either way). Only those are ranked and
# counted; when there are that many, the page says "100+ found". (`item.id + 0` keeps the
# older part from ANDing the GIN bitmap with the primary key's bitmap of nearly every row,
# which cost more than it saved.) It returns the count and the ids of the page, in order.
# What the candidates carry on, so the ranking does not read the items again.
_CANDIDATE_COLUMNS = "item.id, item.issue_id, item.section_id, item.position, item.search_vector"
_ITEMS_SQL = f"""
WITH recent AS MATERIALIZED (
    SELECT {_CANDIDATE_COLUMNS} FROM {IssueItem._meta.db_table} item
    WHERE item.search_vector @@ {_TS_QUERY} AND item.is_published
      AND item.id > (SELECT max(id) FROM {IssueItem._meta.db_table}) - %(recent)s
    ORDER BY item.id DESC LIMIT %(candidates)s
), older AS MATERIALIZED (
    SELECT {_CANDIDATE_COLUMNS} FROM {IssueItem._meta.db_table} item
    WHERE (SELECT count(*) FROM recent) < %(candidates)s
      AND item.search_vector @@ {_TS_QUERY} AND item.is_published
      AND item.id + 0 <= (SELECT max(id) FROM {IssueItem._meta.db_table}) - %(recent)s
    ORDER BY item.id DESC LIMIT %(candidates)s
), candidates AS (
    SELECT * FROM (SELECT * FROM recent UNION ALL SELECT * FROM older) AS found
    ORDER BY id DESC LIMIT %(candidates)s
), issue AS MATERIALIZED (
    SELECT issue.id, issue.published_at FROM {Issue._meta.db_table} issue
    WHERE issue.id IN (SELECT issue_id FROM candidates) AND {_PUBLISHED_ISSUE}
), ranked AS (
    SELECT candidates.id, candidates.issue_id, candidates.section_id, candidates.position,
           issue.published_at, section.position AS section_position,
           ts_rank(candidates.search_vector, {_TS_QUERY}) AS rank,
           count(*) OVER () AS total
    FROM candidates
    JOIN issue ON issue.id = candidates.issue_id
    JOIN {Section._meta.db_table} section ON section.id = candidates.section_id
    ORDER BY rank DESC, issue.published_at DESC, section_position, candidates.position,
             candidates.id
    LIMIT %(limit)s OFFSET %(offset)s
)
SELECT total, id FROM ranked
ORDER BY rank DESC, published_at DESC, section_position, position, id
"""  # noqa: S608  (only table names and fixed fragments are formatted in; values are parameters)

# The page of hits, by the ids the ranking chose, in its order. Its plan does not depend on the
# words (ten primary-key lookups), so it is prepared (`portal.db.prepared_cursor`): planned once
# per connection, where planning its joins cost more than running them.
_HITS_SQL = f"""
SELECT item.id, issue.number, issue.slug, issue.title, issue.published_at,
       ts_headline(
           %(config)s::regconfig,
           COALESCE(NULLIF(submission.title, ''), event.title, submission.url),
           {_TS_QUERY_ONCE},
           %(title_options)s
       ),
       ts_headline(%(config)s::regconfig, item.search_text, {_TS_QUERY_ONCE}, %(snippet_options)s),
       COALESCE(
           NULLIF(section.kind_emoji ->> COALESCE(submission.kind, 'event'), ''), section.emoji
       ),
       ARRAY(
           SELECT topic.name || chr(31) || topic.slug
           FROM {Submission.topics.through._meta.db_table} link
           JOIN {Topic._meta.db_table} topic ON topic.id = link.topic_id
           WHERE link.submission_id = item.submission_id
           ORDER BY topic.position, topic.name
       )
FROM unnest(%(ids)s::bigint[]) WITH ORDINALITY AS page (id, place)
JOIN {IssueItem._meta.db_table} item ON item.id = page.id
JOIN {Issue._meta.db_table} issue ON issue.id = item.issue_id
JOIN {Section._meta.db_table} section ON section.id = item.section_id
LEFT JOIN {Submission._meta.db_table} submission ON submission.id = item.submission_id
LEFT JOIN {Event._meta.db_table} event ON event.id = item.event_id
ORDER BY page.place
"""  # noqa: S608  (as above)


@functools.lru_cache(maxsize=1024)
def _variants(query: str) -> tuple[str, ...]:
    """query_variants, once per query: the page's three searches ask for the same."""
    return tuple(query_variants(query))


def _params(query: str, **extra) -> dict:
    variants = _variants(query)
    return {
        "config": SEARCH_CONFIG,
        "query": variants[0],
        "query_1": variants[min(1, len(variants) - 1)],
        "query_2": variants[min(2, len(variants) - 1)],
        "published": Issue.State.PUBLISHED,
        "now": timezone.now(),
        "title_options": _TITLE_OPTIONS,
        "snippet_options": _SNIPPET_OPTIONS,
        **extra,
    }


def _search_items_sql(query: str, offset: int, limit: int) -> Results:
    candidates = settings.NEWSLETTER_SEARCH_CANDIDATES
    params = _params(
        query,
        offset=offset,
        limit=limit,
        candidates=candidates,
        recent=settings.NEWSLETTER_SEARCH_RECENT_ITEMS,
    )
    with connection.cursor() as cursor:
        ranked = _execute(cursor, _ITEMS_SQL, params)
    if not ranked:
        return Results(hits=[], total=0)
    with prepared_cursor() as cursor:
        cursor.execute(_HITS_SQL, {**params, "ids": [pk for _, pk in ranked]})
        rows = cursor.fetchall()
    prefix = get_script_prefix()
    hits = []
    for pk, number, slug, issue_title, published_at, title, snippet, emoji, topics in rows:
        refs = tuple(TopicRef(*topic.split("\x1f", 1)) for topic in topics)
        hits.append(
            Hit(
                title=marked(title),
                snippet=marked(snippet),
                url=f"{_issue_url(prefix, number, slug)}#item-{pk}",
                emoji=emoji,
                issue_number=number,
                issue_title=issue_title,
                published_at=published_at,
                topics=refs,
                topic_urls=tuple(_topic_url(prefix, ref.slug) for ref in refs),
            )
        )
    total = ranked[0][0]
    return Results(hits=hits, total=total, more=total >= candidates)


def _search_issues_and_events_sql(
    query: str, issue_limit: int, event_limit: int
) -> tuple[list[Hit], list[EventHit]]:
    params = _params(
        query,
        limit=issue_limit,
        event_limit=event_limit,
        event_published=Event.State.PUBLISHED,
        event_cancelled=Event.State.CANCELLED,
    )
    with prepared_cursor() as cursor:
        rows = _execute(cursor, _ISSUES_AND_EVENTS_SQL, params)
    prefix = get_script_prefix()
    issues, events = [], []
    for part, _, number, slug, issue_title, when, state, title, snippet in rows:
        if part == 0:
            issues.append(
                Hit(
                    title=marked(title),
                    snippet=marked(snippet),
                    url=_issue_url(prefix, number, slug),
                    emoji="⭐",
                    issue_number=number,
                    issue_title=issue_title,
                    published_at=when,
                )
            )
        else:
            events.append(
                EventHit(
                    title=marked(title),
                    snippet=marked(snippet),
                    url=_event_url(prefix, slug),
                    start=when,
                    cancelled=state == Event.State.CANCELLED,
                )
            )
    return issues, events


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


# --- SQLite: every word, newest first ---------------------------------------------------------


def _search_items_plain(query: str, offset: int, limit: int) -> Results:
    terms = query_terms(query)
    if not terms:
        return Results(hits=[], total=0)
    items = IssueItem.objects.published().select_related("issue", "submission", "event", "section")
    for term in terms:
        match = Q()
        for spelling in spellings(term):
            match |= (
                Q(submission__title__icontains=spelling)
                | Q(event__title__icontains=spelling)
                | Q(search_text__icontains=spelling)
            )
        items = items.filter(match)
    items = items.order_by("-issue__published_at", "section__position", "position", "id")
    hits = []
    page = list(items[offset : offset + limit])
    topics = topics_of([item.submission_id for item in page if item.submission_id])
    prefix = get_script_prefix()
    for item in page:
        submission, issue = item.submission, item.issue
        title = (submission.title or submission.url) if submission else item.event.title
        hits.append(
            Hit(
                title=highlight(title, query),
                snippet=highlight(item.search_text, query, words=_SNIPPET_WORDS),
                url=f"{issue.get_absolute_url()}#{item.anchor}",
                emoji=item.section.emoji_for(submission.kind if submission else "event"),
                issue_number=issue.number,
                issue_title=issue.title,
                published_at=issue.published_at,
                topics=topics.get(item.submission_id, ()),
                topic_urls=tuple(
                    _topic_url(prefix, ref.slug) for ref in topics.get(item.submission_id, ())
                ),
            )
        )
    return Results(hits=hits, total=items.count())


def _search_issues_plain(query: str, limit: int) -> list[Hit]:
    terms = query_terms(query)
    if not terms:
        return []
    issues = Issue.objects.published()
    for term in terms:
        match = Q()
        for spelling in spellings(term):
            match |= Q(title__icontains=spelling) | Q(search_text__icontains=spelling)
        issues = issues.filter(match)
    return [
        Hit(
            title=highlight(issue.title, query),
            snippet=highlight(issue.search_text, query, words=_SNIPPET_WORDS),
            url=issue.get_absolute_url(),
            emoji="⭐",
            issue_number=issue.number,
            issue_title=issue.title,
            published_at=issue.published_at,
        )
        for issue in issues.order_by("-published_at", "-number")[:limit]
    ]


# --- Events ------------------------------------------------------------------------------------

# A stored generated column with a GIN index (events' migration 0006): to_tsvector of the
# title and description in SEARCH_CONFIG, kept by the database.
_EVENT_DOCUMENT = "event.search_document"
_VISIBLE_EVENT = "event.state IN (%(event_published)s, %(event_cancelled)s)"
# What the first page shows besides the items, in one statement (a round trip less): the best
# %(limit)s issues, then the best %(event_limit)s events, as rows of one shape: (0 for an issue
# or 1 for an event, its place, number, slug, title, date, event state, the title's and the
# snippet's headlines). Each part ranks first and highlights only the rows it keeps:
# ts_headline parses the whole text.
_ISSUES_AND_EVENTS_SQL = f"""
WITH issue_best AS (
    SELECT issue.id, ts_rank(issue.search_vector, {_TS_QUERY_ONCE}) AS rank, issue.published_at
    FROM {Issue._meta.db_table} issue
    WHERE issue.search_vector @@ {_TS_QUERY_ONCE} AND {_PUBLISHED_ISSUE}
    ORDER BY rank DESC, issue.published_at DESC
    LIMIT %(limit)s
), event_best AS (
    SELECT event.id, ts_rank({_EVENT_DOCUMENT}, {_TS_QUERY_ONCE}) AS rank, event.start
    FROM {Event._meta.db_table} event
    WHERE {_EVENT_DOCUMENT} @@ {_TS_QUERY_ONCE} AND {_VISIBLE_EVENT}
    ORDER BY rank DESC, event.start DESC
    LIMIT %(event_limit)s
)
SELECT 0 AS part, row_number() OVER (ORDER BY best.rank DESC, best.published_at DESC) AS place,
       issue.number, issue.slug, issue.title, issue.published_at, NULL AS state,
       ts_headline(%(config)s::regconfig, issue.title, {_TS_QUERY_ONCE}, %(title_options)s),
       ts_headline(%(config)s::regconfig, issue.search_text, {_TS_QUERY_ONCE}, %(snippet_options)s)
FROM issue_best best JOIN {Issue._meta.db_table} issue ON issue.id = best.id
UNION ALL
SELECT 1, row_number() OVER (ORDER BY best.rank DESC, best.start DESC),
       NULL, event.slug, NULL, event.start, event.state,
       ts_headline(%(config)s::regconfig, event.title, {_TS_QUERY_ONCE}, %(title_options)s),
       ts_headline(%(config)s::regconfig, event.description, {_TS_QUERY_ONCE}, %(snippet_options)s)
FROM event_best best JOIN {Event._meta.db_table} event ON event.id = best.id
ORDER BY part, place
"""  # noqa: S608  (as above)


@dataclass(frozen=True)
class EventHit:
    title: SafeString
    snippet: SafeString
    url: str
    start: datetime
    cancelled: bool

    @property
    def html(self) -> SafeString:
        """The event hit's list entry (see `Hit.html`), its date in the reader's zone."""
        iso, day = _event_dates(
            self.start, timezone.get_current_timezone_name(), translation.get_language()
        )
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


def _search_events_plain(query: str, limit: int) -> list[EventHit]:
    terms = query_terms(query)
    if not terms:
        return []
    events = Event.objects.visible()
    for term in terms:
        match = Q()
        for spelling in spellings(term):
            match |= Q(title__icontains=spelling) | Q(description__icontains=spelling)
        events = events.filter(match)
    return [
        EventHit(
            title=highlight(event.title, query),
            snippet=highlight(event.description, query, words=_SNIPPET_WORDS),
            url=event.get_absolute_url(),
            start=event.start,
            cancelled=event.state == Event.State.CANCELLED,
        )
        for event in events.order_by("-start")[:limit]
    ]
