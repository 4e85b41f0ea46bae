"""Search over published issues and their items.

On PostgreSQL: full-text search (`websearch_to_tsquery`, so readers can type "quoted phrases",
or, -excluded) over the stored, weighted search vectors (titles weigh more), ranked, with a GIN
index, and `ts_headline` for the highlighted snippet. On SQLite: every word must appear
(case-insensitive), newest first, highlighted in Python. Either way the text is escaped before
the `<mark>` tags are added, so a member's words can never become markup.

A search nobody asked before misses the page cache, so it is the costliest reader page; on
PostgreSQL a first page is two prepared statements (`portal.db.prepared_cursor`), written out in
SQL rather than built by the ORM, and neither is planned per query. The first finds the issues
and events (`_ISSUES_AND_EVENTS_SQL`) and reads what the process's index of the items' words
needs (newsletter/search_index.py): the query as a tsquery and the archive's generation. The
index gives the most recently placed matching items; the second statement (`_INDEXED_SQL`)
checks, ranks and counts those and writes the page of hits. When the index cannot answer, the
GIN index finds them (`_ITEMS_SQL`, planned per query, then the page of hits, `_HITS_SQL`).
Each hit's HTML is written out in Python (newsletter/search_hits.py). The cost no longer grows
with the archive: docs/performance.md has the figures.

British and American spellings find each other (newsletter/spelling.py): the query is also
written in the other spelling, and the tsqueries are joined with OR, so the GIN index still
answers. Events are searched too, on their stored tsvector column (events' migration 0006).

"Did you mean …" is newsletter/suggestions.py; the highlights, newsletter/highlighting.py.
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.urls import get_script_prefix
from django.utils import timezone

from events.models import Event
from newsletter.services.issues import SEARCH_CONFIG
from portal.db import prepared_cursor

from . import search_index
from .highlighting import START, STOP, highlight, marked, query_terms
from .models import Issue, IssueItem, SearchGeneration, Section, Submission, Topic
from .rendering import TopicRef
from .search_hits import EventHit, Hit, Results, _event_url, _issue_url, _topic_url, topics_of
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


def search_page(query: str, number: int = 1) -> tuple[Results, list[Hit], list[EventHit]]:
    """Page `number` of the results: the items matching `query`, and on the first page the
    issues and events too (on PostgreSQL, two statements in all)."""
    offset = (number - 1) * RESULTS_PER_PAGE
    if number > 1:
        return search_items(query, offset=offset), [], []
    if not full_text() or not settings.NEWSLETTER_SEARCH_INDEX:
        return search_items(query), *search_issues_and_events(query)
    # What the index needs to know first comes with the issues and events.
    issues, events, lookup = _search_issues_and_events_sql(query, ISSUE_HITS, EVENT_HITS, True)
    return _search_items_sql(query, 0, RESULTS_PER_PAGE, lookup), issues, events


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
        issues, events, _ = _search_issues_and_events_sql(query, issue_limit, event_limit)
        return issues, events
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


def _distinct(count: int) -> str:
    """The tsquery of the first `count` spellings (the distinct ones: see _matching)."""
    return "(" + " || ".join(map(_VARIANT.format, _VARIANT_KEYS[:count])) + ")"


@functools.cache
def _matching(sql: str, count: int) -> str:
    """`sql` with its match conditions (`@@`) on the `count` distinct spellings only: most
    queries have one, and the GIN scan and each row's recheck tested it three times over (a
    tenth of the items statement on 2,000 issues); an OR of the same query matches the same
    rows. ts_rank and ts_headline keep the three-part tsquery: readers see their results."""
    distinct = _distinct(count)
    return sql.replace(" @@ " + _TS_QUERY, " @@ " + distinct).replace(
        f" @@ (SELECT {_TS_QUERY})", f" @@ (SELECT {distinct})"
    )


def _spellings(params: dict) -> int:
    return len({params[key] for key in _VARIANT_KEYS})


def _execute(cursor, sql: str, params: dict) -> list[tuple]:
    cursor.execute(_matching(sql, _spellings(params)), params)
    return cursor.fetchall()


_PUBLISHED_ISSUE = "issue.state = %(published)s AND issue.published_at <= %(now)s"


def _ranking(ts_query: str, issues: str | None) -> str:
    """The ranking of the `candidates` (a CTE of _CANDIDATE_COLUMNS, the newest matching
    items): those in a published issue (`issues`: the published ones, by `issue.id`; None when
    the candidates are all in one and carry its `published_at`), best first, with their count
    (`total`); the page of them from %(offset)s."""
    issue = "issue" if issues else "candidates"
    return f"""ranked AS (
    SELECT candidates.id, candidates.issue_id, candidates.section_id, candidates.position,
           {issue}.published_at, section.position AS section_position,
           ts_rank(candidates.search_vector, {ts_query}) AS rank,
           count(*) OVER () AS total
    FROM candidates
    {f"JOIN {issues} issue ON issue.id = candidates.issue_id" if issues else ""}
    JOIN {Section._meta.db_table} section ON section.id = candidates.section_id
    ORDER BY rank DESC, {issue}.published_at DESC, section_position, candidates.position,
             candidates.id
    LIMIT %(limit)s OFFSET %(offset)s
)"""  # noqa: S608  (only table names and fixed fragments are formatted in)


_RANKED_ORDER = "rank DESC, published_at DESC, section_position, position, id"

# What IssueItem.objects.published() means: the item's own flag and its issue published.
#
# The cost of a search is the rows PostgreSQL reads, so it reads a bounded number: the
# %(candidates)s most recently placed matching items (by id; NEWSLETTER_SEARCH_CANDIDATES).
# This process's index of the items' words finds them (newsletter/search_index.py); when it
# cannot answer, the GIN index does (_ITEMS_SQL), looking first among the newest %(recent)s
# items (NEWSLETTER_SEARCH_RECENT_ITEMS: the GIN bitmap ANDed with a range of the primary key,
# so a common word costs a few hundred rows, not the half of the archive that contains it),
# and in the rest of the archive only when the recent part has too few (a rare word: few rows
# either way). Only those are ranked and counted; when there are that many, the page says
# "100+ found". (`item.id + 0` keeps the older part from ANDing the GIN bitmap with the
# primary key's bitmap of nearly every row, which cost more than it saved.) It returns the
# count and the ids of the page, in order. Its best plan depends on how common the words are,
# so it is planned for each query.
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
), {_ranking(_TS_QUERY, "issue")}
SELECT total, id FROM ranked ORDER BY {_RANKED_ORDER}
"""  # noqa: S608  (as above; values are parameters)

# A hit's columns, for `item` and what _HIT_JOINS joins to it. The emoji is
# Section.emoji_for(kind): the kind's own emoji, else the section's.
_HIT_COLUMNS = f"""item.id, issue.number, issue.slug, issue.title, issue.published_at,
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
       )"""  # noqa: S608  (as above)
_HIT_JOINS = f"""JOIN {Issue._meta.db_table} issue ON issue.id = item.issue_id
JOIN {Section._meta.db_table} section ON section.id = item.section_id
LEFT JOIN {Submission._meta.db_table} submission ON submission.id = item.submission_id
LEFT JOIN {Event._meta.db_table} event ON event.id = item.event_id"""

# The page of hits, by the ids the ranking chose, in its order. Its plan does not depend on the
# words (ten primary-key lookups), so it is prepared (`portal.db.prepared_cursor`): planned once
# per connection, where planning its joins cost more than running them.
_HITS_SQL = f"""
SELECT {_HIT_COLUMNS}
FROM unnest(%(ids)s::bigint[]) WITH ORDINALITY AS page (id, place)
JOIN {IssueItem._meta.db_table} item ON item.id = page.id
{_HIT_JOINS}
ORDER BY page.place
"""  # noqa: S608  (as above)


# The archive's search generation and the query as PostgreSQL reads it (its distinct spellings),
# for the index: a statement of its own, or a row more of the issues and events (_FIRST_PAGE).
def _lookup(count: int) -> str:
    return (
        f"(SELECT value FROM {SearchGeneration._meta.db_table} WHERE id = 1), "  # noqa: S608
        f"({_distinct(count)})::text"
    )


# With the candidates the index found (newest first; when they are a superset, PostgreSQL keeps
# the true matches), the ranking and the page of hits in one statement: it reads a hundred rows
# by primary key, whatever the words, so it is prepared, and nothing in a search is planned.
# The index holds only items of published issues whose time has come, and gives each
# candidate its issue's publication time (in microseconds, to order by): the ranking does not
# read a hundred issues again (a fifth of this statement).
_INDEXED_SQL = f"""
WITH candidates AS MATERIALIZED (
    SELECT {_CANDIDATE_COLUMNS}, found.published_at
    FROM unnest(%(ids)s::bigint[], %(published_at)s::bigint[]) WITH ORDINALITY
         AS found (id, published_at, place)
    JOIN {IssueItem._meta.db_table} item ON item.id = found.id
    WHERE item.is_published AND item.search_vector @@ {_TS_QUERY_ONCE}
    ORDER BY found.place LIMIT %(candidates)s
), {_ranking(_TS_QUERY_ONCE, None)}
SELECT ranked.total, {_HIT_COLUMNS}
FROM ranked
JOIN {IssueItem._meta.db_table} item ON item.id = ranked.id
{_HIT_JOINS}
ORDER BY {", ".join("ranked." + key for key in _RANKED_ORDER.split(", "))}
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


def _search_items_sql(
    query: str, offset: int, limit: int, lookup: tuple[int | None, str] | None = None
) -> Results:
    candidates = settings.NEWSLETTER_SEARCH_CANDIDATES
    params = _params(query, offset=offset, limit=limit, candidates=candidates)
    found = _indexed_candidates(params, candidates, lookup)
    if found is not None:
        if not found.ids:
            return Results(hits=[], total=0)
        with prepared_cursor() as cursor:
            found_params = {"ids": _bigints(found.ids), "published_at": _bigints(found.published)}
            rows = _execute(cursor, _INDEXED_SQL, {**params, **found_params})
        total = rows[0][0] if rows else 0
        # A superset's newest part may hold fewer true matches than there are older ones.
        if found.complete or total >= candidates:
            return _results([row[1:] for row in rows], total, candidates)
    params["recent"] = settings.NEWSLETTER_SEARCH_RECENT_ITEMS
    with connection.cursor() as cursor:
        ranked = _execute(cursor, _ITEMS_SQL, params)
    if not ranked:
        return Results(hits=[], total=0)
    with prepared_cursor() as cursor:
        cursor.execute(_HITS_SQL, {**params, "ids": _bigints(pk for _, pk in ranked)})
        return _results(cursor.fetchall(), ranked[0][0], candidates)


def _bigints(ids) -> str:
    """A list of ids as PostgreSQL's array literal, for `%(ids)s::bigint[]`: psycopg's own
    list dumper looks at every element (a regular expression each), 0.4 ms for a hundred."""
    return "{" + ",".join(map(str, ids)) + "}"


def _indexed_candidates(
    params: dict, limit: int, lookup: tuple[int | None, str] | None
) -> search_index.Candidates | None:
    """The newest items that may match, from this process's index of the items' words; None
    when it cannot answer (see newsletter/search_index.py). `lookup`: the generation and the
    tsquery, when an earlier statement read them."""
    if not settings.NEWSLETTER_SEARCH_INDEX:
        return None
    if lookup is None:
        with prepared_cursor() as cursor:
            cursor.execute(f"SELECT {_lookup(_spellings(params))}", params)
            lookup = cursor.fetchone()
    generation, tsquery = lookup
    index = search_index.index_at(generation, params["now"])
    if index is None:
        return None
    try:
        return index.newest(search_index.parse(tsquery), limit, params["now"])
    except search_index.Unsupported:
        return None


def _results(rows: list[tuple], total: int, candidates: int) -> Results:
    """Results from the rows of _HIT_COLUMNS."""
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
    return Results(hits=hits, total=total, more=total >= candidates)


@functools.cache
def _first_page(count: int) -> str:
    """_ISSUES_AND_EVENTS_SQL with a row more (part -1): the index's lookup (see _lookup)."""
    extra = f"UNION ALL\nSELECT -1, 0, {_lookup(count)}, NULL, NULL, NULL, NULL, NULL\nORDER BY part, place"
    return _ISSUES_AND_EVENTS_SQL.replace("ORDER BY part, place", extra)


def _search_issues_and_events_sql(
    query: str, issue_limit: int, event_limit: int, lookup: bool = False
) -> tuple[list[Hit], list[EventHit], tuple[int | None, str] | None]:
    """The issues, the events and, when asked (`lookup`), the index's lookup (else None)."""
    params = _params(
        query,
        limit=issue_limit,
        event_limit=event_limit,
        event_published=Event.State.PUBLISHED,
        event_cancelled=Event.State.CANCELLED,
    )
    sql = _first_page(_spellings(params)) if lookup else _ISSUES_AND_EVENTS_SQL
    with prepared_cursor() as cursor:
        rows = _execute(cursor, sql, params)
    prefix = get_script_prefix()
    issues, events, looked_up = [], [], ((None, "") if lookup else None)
    for part, _, number, slug, issue_title, when, state, title, snippet in rows:
        if part == -1:
            looked_up = (number, slug)
        elif part == 0:
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
    return issues, events, looked_up


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
