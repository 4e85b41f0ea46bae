"""The published items' words, kept in each process, for the one thing PostgreSQL's GIN index
does slowly: finding the newest items that match a query.

A search ranks only the NEWSLETTER_SEARCH_CANDIDATES most recently placed matching items
(newsletter/search.py). The GIN index answers "which items match" in no particular order, so
PostgreSQL read the rows of the matches, or walked the newest items one by one, to find the
newest hundred: most of a search's cost on a large archive. Here each word's items are a set of
bits in recency order (a Python int: bit i is the i-th published item by id), so a query's AND,
OR and NOT are a few operations on big integers, and its newest matches are the highest bits set.

PostgreSQL still does the rest: it turns what the reader typed into a tsquery (the same parser,
stemming and stop words as before, so the words looked up here are exactly the lexemes stored in
the items' search vectors), and it checks, ranks and highlights the candidates this index gives.

**Never stale.** The index is built at one value of the archive's search generation
(newsletter.models.SearchGeneration, which PostgreSQL's own triggers change with any change to a
published item or to an issue's state, in the same transaction) and a search uses it only when
it reads that same value; otherwise the process builds it again (about a second for 50,000
items; meanwhile its other threads search the archive the old way, never with a stale index).

**Exact, or not used.** A query of words joined by AND, OR and NOT is answered exactly. A
"quoted phrase" is answered by a superset (all the phrase's words, anywhere), which PostgreSQL
narrows to the true matches; when the superset's newest part holds too few of them, or a phrase
sits under a NOT (whose superset would be a subset), the search reads the GIN index instead.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from array import array
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from .models import Issue, IssueItem, SearchGeneration

logger = logging.getLogger(__name__)

# How many of a superset's newest items a phrase search hands PostgreSQL to check.
SUPERSET_CHECKED = 1000
_WINDOWS = (4096, 16384)
EPOCH, MICROSECOND = datetime(1970, 1, 1, tzinfo=UTC), timedelta(microseconds=1)
_ONE = re.compile("1")

# --- Reading PostgreSQL's tsquery ---------------------------------------------------------

# tsquery's text form: 'lexeme' (quotes and backslashes doubled inside), an optional
# ":*"/":AB" (a prefix or weights, which websearch_to_tsquery never writes), ! & | <-> <N> ( ).
_TOKEN = re.compile(r"\s*(?:'((?:[^'\\]|''|\\.)*)'(:[*A-Da-d]+)?|(<\d+>|<->)|([!&|()]))")


class Unsupported(ValueError):
    """A query this index does not answer: the search reads the GIN index."""


def parse(text: str) -> tuple:
    """A tsquery's text as a tree of tuples: ("word", lexeme), ("not", a), ("and", a, b),
    ("or", a, b), ("phrase", a, b), or ("empty",) for a query with no words (all stop words).
    PostgreSQL's precedence: ! binds tightest, then the phrase operators, then &, then |."""
    tokens: list[tuple[str, str]] = []
    position, text = 0, text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            raise Unsupported(f"unreadable tsquery at {position}: {text!r}")
        lexeme, options, phrase, operator = match.groups()
        if options:
            raise Unsupported("prefix or weighted lexeme")
        if lexeme is not None:
            tokens.append(("word", re.sub(r"''|\\(.)", lambda m: m[1] or "'", lexeme)))
        else:
            tokens.append(("op", phrase and "phrase" or operator))
        position = match.end()
    if not tokens:
        return ("empty",)
    parser = _Parser(tokens)
    tree = parser.disjunction()
    if parser.position != len(tokens):
        raise Unsupported(f"unexpected {tokens[parser.position][1]!r}")
    return tree


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens, self.position = tokens, 0

    def _next_is(self, operator: str) -> bool:
        if self.position < len(self.tokens) and self.tokens[self.position] == ("op", operator):
            self.position += 1
            return True
        return False

    def _binary(self, operator: str, name: str, operand) -> tuple:
        node = operand()
        while self._next_is(operator):
            node = (name, node, operand())
        return node

    def disjunction(self) -> tuple:
        return self._binary("|", "or", self.conjunction)

    def conjunction(self) -> tuple:
        return self._binary("&", "and", self.phrase)

    def phrase(self) -> tuple:
        return self._binary("phrase", "phrase", self.negation)

    def negation(self) -> tuple:
        if self._next_is("!"):
            return ("not", self.negation())
        if self._next_is("("):
            node = self.disjunction()
            if not self._next_is(")"):
                raise Unsupported("unbalanced parentheses")
            return node
        if self.position >= len(self.tokens) or self.tokens[self.position][0] != "word":
            raise Unsupported("a word was expected")
        self.position += 1
        return self.tokens[self.position - 1]


# --- The index --------------------------------------------------------------------------------


@dataclass
class Candidates:
    """The newest items a query may match, newest first. `exact`: they are its matches (else
    a superset, to be checked); `complete`: no older item of the superset was left out."""

    ids: list[int]
    published: list[int]  # each one's issue's publication time, in µs since the epoch
    exact: bool
    complete: bool


@dataclass
class RecencyIndex:
    generation: int
    ids: array  # the published items' ids, ascending: bit i stands for ids[i]
    published: array  # their issues' publication times, in microseconds since the epoch
    dense: dict[str, int]  # a common word's items as bits
    # A rarer word's as the positions of its bits (smaller so), as the bytes of an array("I"):
    # bytes are no work for the cycle collector, an array is (a real archive's rare words are
    # a hundred thousand: 8 ms more in each full collection after a rebuild, which is not frozen).
    sparse: dict[str, bytes]
    # Items of issues whose publication time had not come when the index was built.
    pending: list[tuple[datetime, int]] = field(default_factory=list)

    @property
    def everything(self) -> int:
        return (1 << len(self.ids)) - 1

    def bits(self, lexeme: str) -> int:
        if (found := self.dense.get(lexeme)) is not None:
            return found
        positions = self.sparse.get(lexeme)
        return _as_bits(memoryview(positions).cast("I"), len(self.ids)) if positions else 0

    def matches(self, tree: tuple, now: datetime) -> tuple[int, bool]:
        """The items matching `tree` as bits, and whether exactly (else a superset)."""
        found, exact = self._evaluate(tree, in_phrase=False)
        for when, items in self.pending:
            if when > now:
                found &= ~items
        return found, exact

    def _evaluate(self, node: tuple, in_phrase: bool) -> tuple[int, bool]:
        kind = node[0]
        if kind == "word":
            return self.bits(node[1]), True
        if kind == "empty":
            return 0, True
        if kind == "not":
            if in_phrase:  # "a" followed by anything but "b": no bound but every item
                return self.everything, False
            inner, exact = self._evaluate(node[1], in_phrase)
            if not exact:
                raise Unsupported("a phrase under NOT")
            return self.everything & ~inner, True
        phrase = kind == "phrase"
        left, left_exact = self._evaluate(node[1], in_phrase or phrase)
        right, right_exact = self._evaluate(node[2], in_phrase or phrase)
        if kind == "or":
            return left | right, left_exact and right_exact
        # AND, and a phrase's superset: all its words, anywhere.
        return left & right, left_exact and right_exact and not phrase

    def newest(
        self, tree: tuple, limit: int, now: datetime, superset: int = SUPERSET_CHECKED
    ) -> Candidates:
        """The `limit` newest items matching `tree` (for a superset, `superset` of them)."""
        found, exact = self.matches(tree, now)
        wanted = limit if exact else max(limit, superset)
        complete = exact or found.bit_count() <= wanted
        # The newest matches are the highest bits: when the top few thousand hold enough,
        # only those are written out (a common word's page, three times faster).
        size, shift = found.bit_length(), 0
        for window in _WINDOWS:
            if size > window and (top := found >> (size - window)).bit_count() >= wanted:
                found, shift = top, size - window
                break
        digits = bin(found)  # "0b1…": the highest bit, the newest item, first
        last = len(digits) - 1 + shift
        found = [last - one.start() for one in islice(_ONE.finditer(digits, 2), wanted)]
        ids, published = self.ids, self.published
        return Candidates(
            ids=[ids[item] for item in found],
            published=[published[item] for item in found],
            exact=exact,
            complete=complete,
        )


def _as_bits(positions, size: int) -> int:
    digits = bytearray(b"0") * size  # digit p is bit p: reversed, the highest bit first
    for position in positions:
        digits[position] = 49  # "1"
    return int(digits[::-1], 2)


# One statement, so the generation and the items are read in one snapshot. Each item's lexemes
# come as one string, split here: as arrays, 50,000 rows were 100,000 objects for Python's
# cycle collector, whose full collections during a build then held up the process's searches
# for up to a second. (A lexeme made by to_tsvector never holds a control character.)
_SEPARATOR = "\x1f"
_BUILD_SQL = f"""
SELECT generation.value, item.id,
       array_to_string(tsvector_to_array(item.search_vector), %(separator)s),
       (extract(epoch FROM issue.published_at) * 1000000)::bigint
FROM {SearchGeneration._meta.db_table} generation
LEFT JOIN ({IssueItem._meta.db_table} item
           JOIN {Issue._meta.db_table} issue
             ON issue.id = item.issue_id AND issue.state = %(published)s
                AND issue.published_at IS NOT NULL)
       ON item.is_published AND item.search_vector IS NOT NULL
WHERE generation.id = 1
ORDER BY item.id
"""  # noqa: S608  (only table names are formatted in; values are parameters)


def build(now: datetime) -> RecencyIndex | None:
    """The index of the published items, read from the database (None when there is no
    generation row: the triggers' table was emptied, and nothing has been written since)."""
    with connection.cursor() as cursor:
        cursor.execute(_BUILD_SQL, {"published": Issue.State.PUBLISHED, "separator": _SEPARATOR})
        rows = cursor.fetchall()
    if not rows:
        return None
    generation = rows[0][0]
    ids, published, words, later = array("q"), array("q"), {}, {}
    moment = (now - EPOCH) // MICROSECOND
    for _, pk, lexemes, published_at in rows:
        if pk is None:
            continue
        position = len(ids)
        ids.append(pk)
        published.append(published_at)
        for lexeme in lexemes.split(_SEPARATOR) if lexemes else ():
            positions = words.get(lexeme)
            if positions is None:
                words[lexeme] = positions = array("I")
            positions.append(position)
        if published_at > moment:
            later.setdefault(published_at, []).append(position)
    size, dense, sparse = len(ids), {}, {}
    for lexeme, positions in words.items():
        # Bits cost size/8 bytes, positions 4 bytes each: keep whichever is smaller.
        if len(positions) * 32 > size:
            dense[lexeme] = _as_bits(positions, size)
        else:
            sparse[lexeme] = positions.tobytes()
    pending = [
        (EPOCH + when * MICROSECOND, _as_bits(items, size)) for when, items in sorted(later.items())
    ]
    return RecencyIndex(generation, ids, published, dense, sparse, pending)


_current: RecencyIndex | None = None
_building = threading.Lock()
# After a build failed (the database was down, or too slow for a request's deadline), the
# process searches without the index for this long before it tries again.
RETRY_AFTER = 60.0
_failed_at = -RETRY_AFTER


def index_at(generation: int | None, now: datetime) -> RecencyIndex | None:
    """This process's index if it is at `generation`; else built anew, by this thread. None
    when there is no generation, or while another thread of the process builds it (the caller
    searches without it meanwhile rather than wait)."""
    global _current, _failed_at
    index = _current
    if generation is None or (index is not None and index.generation == generation):
        return index if generation is not None else None
    if time.monotonic() - _failed_at < RETRY_AFTER or not _building.acquire(blocking=False):
        return None
    try:
        index = _current
        if index is None or index.generation != generation:
            # Built in its own snapshot: at this generation or a later one, never an earlier.
            index = _current = build(now)
        return index
    except DatabaseError:
        _failed_at = time.monotonic()
        logger.warning("The search index could not be built; searching without it.", exc_info=True)
        return None
    finally:
        _building.release()


def warm() -> None:
    """Build this process's index before a search needs it: portal/wsgi.py runs this in a
    thread of each web process as it starts, so no reader waits for it (a search that finds
    no index builds it, or reads the GIN index while another thread builds it)."""
    if connection.vendor != "postgresql" or not settings.NEWSLETTER_SEARCH_INDEX:
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT value FROM {SearchGeneration._meta.db_table} WHERE id = 1"  # noqa: S608
            )
            row = cursor.fetchone()
        index_at(row[0] if row else None, timezone.now())
    except DatabaseError:
        logger.warning(
            "The search index was not built ahead; the first search will.", exc_info=True
        )
    finally:
        connection.close()  # this thread's own connection
