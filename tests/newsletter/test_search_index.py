"""The process's index of the published items' words (newsletter/search_index.py): it reads
PostgreSQL's tsqueries, answers them exactly as `@@` does, is never used stale, and hands the
search back to the GIN index when it cannot answer."""

import threading
from array import array
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from newsletter import search, search_index
from newsletter.models import IssueItem, SearchGeneration
from newsletter.search_index import RecencyIndex, Unsupported, parse
from newsletter.services.compose import issue_item_add
from newsletter.services.issues import issue_correct, issue_update
from tests.newsletter.issue_data import accepted, draft_issue
from tests.newsletter.test_search import publish

NOW = datetime(2026, 12, 4, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_index():
    """Each test starts with no index and no failed build behind it, as a new process would."""
    search_index._current = None
    search_index._failed_at = -search_index.RETRY_AFTER
    yield
    search_index._current = None
    search_index._failed_at = -search_index.RETRY_AFTER


# --- Reading tsqueries (no database) -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("'prune'", ("word", "prune")),
        ("'a' & 'b' | 'c'", ("or", ("and", ("word", "a"), ("word", "b")), ("word", "c"))),
        ("'a' & ( 'b' | 'c' )", ("and", ("word", "a"), ("or", ("word", "b"), ("word", "c")))),
        ("'a' & !'b'", ("and", ("word", "a"), ("not", ("word", "b")))),
        ("!!'a'", ("not", ("not", ("word", "a")))),
        (
            "'a' <-> 'b' & 'c'",
            ("and", ("phrase", ("word", "a"), ("word", "b")), ("word", "c")),
        ),
        ("'a' <2> 'b'", ("phrase", ("word", "a"), ("word", "b"))),
        ("'o''reilly' & 'back\\\\slash'", ("and", ("word", "o'reilly"), ("word", "back\\slash"))),
        ("", ("empty",)),
    ],
)
def test_parse_reads_postgresqls_text_form_with_its_precedence(text, tree):
    assert parse(text) == tree


@pytest.mark.parametrize("text", ["'a':*", "'a':AB", "'a' &", "( 'a'", "'a' 'b'", "a & b", "&"])
def test_parse_refuses_what_it_cannot_answer(text):
    with pytest.raises(Unsupported):
        parse(text)


def small_index(words: dict[str, list[int]], size: int = 8, pending=()) -> RecencyIndex:
    """Items 100, 101, … (bit i is item 100 + i); `words` give each word's bit positions."""
    ids = array("q", range(100, 100 + size))
    published = array("q", range(1000, 1000 + size))  # each item's issue's time, in µs
    bits = {word: sum(1 << position for position in positions) for word, positions in words.items()}
    return RecencyIndex(1, ids, published, dense=bits, sparse={}, pending=list(pending))


def test_the_newest_matches_come_first_and_at_most_as_many_as_asked():
    index = small_index({"a": [0, 2, 3, 6], "b": [2, 5, 6]})

    assert index.newest(parse("'a'"), 3, NOW).ids == [106, 103, 102]
    assert index.newest(parse("'a'"), 3, NOW).published == [1006, 1003, 1002]
    assert index.newest(parse("'a' & 'b'"), 10, NOW).ids == [106, 102]
    assert index.newest(parse("'a' | 'b'"), 10, NOW).ids == [106, 105, 103, 102, 100]
    assert index.newest(parse("'a' & !'b'"), 10, NOW).ids == [103, 100]
    assert index.newest(parse("!'a'"), 10, NOW).ids == [107, 105, 104, 101]
    assert index.newest(parse("'unknown'"), 10, NOW).ids == []
    assert index.newest(parse(""), 10, NOW).ids == []
    assert index.newest(parse("'a'"), 3, NOW).exact


def test_a_phrase_gives_a_superset_and_says_whether_it_is_complete():
    index = small_index({"a": [0, 2, 3, 6], "b": [2, 3, 6]})

    whole = index.newest(parse("'a' <-> 'b'"), 1, NOW, superset=5)
    cut = index.newest(parse("'a' <-> 'b'"), 1, NOW, superset=2)

    assert (whole.ids, whole.exact, whole.complete) == ([106, 103, 102], False, True)
    assert (cut.ids, cut.exact, cut.complete) == ([106, 103], False, False)
    # Inside a phrase NOT bounds nothing; over a phrase it would be a subset: refused.
    assert index.newest(parse("'a' <-> !'b'"), 9, NOW).ids == [106, 103, 102, 100]
    with pytest.raises(Unsupported):
        index.newest(parse("!( 'a' <-> 'b' )"), 9, NOW)


def test_items_of_an_issue_not_yet_due_are_left_out_until_it_is():
    later = NOW + timedelta(hours=1)
    index = small_index({"a": [0, 1, 2]}, pending=[(later, 1 << 2)])

    assert index.newest(parse("'a'"), 9, NOW).ids == [101, 100]
    assert index.newest(parse("'a'"), 9, later).ids == [102, 101, 100]


def test_rare_words_are_kept_as_positions_and_answer_the_same():
    index = small_index({}, size=64)
    index.sparse["rare"] = array("I", [1, 40]).tobytes()

    assert index.newest(parse("'rare'"), 9, NOW).ids == [140, 101]


# --- Against PostgreSQL ---------------------------------------------------------------------

postgresql = pytest.mark.skipif(not search.full_text(), reason="PostgreSQL only")


def both_ways(query: str, **kwargs) -> tuple[search.Results, search.Results, bool]:
    """The items found with the process's index of the words, then with the GIN index, and
    whether the first search read the GIN index after all."""
    with CaptureQueriesContext(connection) as queries:
        indexed = search.search_items(query, **kwargs)
    with override_settings(NEWSLETTER_SEARCH_INDEX=False):
        gin = search.search_items(query, **kwargs)
    return indexed, gin, any("WITH recent" in q["sql"] for q in queries.captured_queries)


@postgresql
@pytest.mark.django_db
def test_the_index_finds_what_the_gin_index_finds_for_every_kind_of_query():
    titles = [
        "Pruning large language models",
        "Quantisation of pruned models",
        "Quantization-aware training in practice",
        "Sparse attention for long context",
        "Large sparse mixture of experts",
        "Knowledge distillation into small models",
        "State space models explained",
        "Speculative decoding with a draft model",
        "O'Reilly's guide to efficient inference",
        "Attention is all you need, sparse edition",
    ]
    for start in range(0, len(titles), 3):
        publish(*(accepted(title=title) for title in titles[start : start + 3]))
    queries = [
        "models",
        "sparse attention",
        "sparse or quantization",
        "models -sparse",
        "-models",
        '"large language models"',
        '"sparse attention" or distillation',
        'models -"sparse attention"',
        "quantization-aware",
        "colour quantisation",
        "o'reilly",
        "the",
        "nothing-matches-this",
        '" - or',
    ]
    for query in queries:
        for offset in (0, 2):
            indexed, gin, fell_back = both_ways(query, offset=offset, limit=2)
            assert indexed == gin, query
            # Only a phrase under NOT is left to the GIN index, here.
            assert fell_back == (query == 'models -"sparse attention"'), query


@postgresql
@pytest.mark.django_db
def test_a_build_holds_each_items_lexemes_exactly_as_postgresql_stores_them():
    """The lexemes arrive as one string an item (newsletter/search_index.py, _SEPARATOR): URLs,
    paths and apostrophes stay whole, and an item with no words gets none (not "")."""
    publish(
        accepted(title="https://example.com/a%20b and path/to/file.py, by O'Reilly"),
        accepted(title="Pruning, again"),
        accepted(title="Kernel fusion"),
        # Enough items that a word in one of them is kept as positions, not bits.
        *(accepted(title=f"Filler on topic{number:02d}x") for number in range(37)),
    )
    emptied = IssueItem.objects.order_by("id").last()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE newsletter_issueitem SET search_vector = '' WHERE id = %s", [emptied.pk]
        )
        cursor.execute(
            "SELECT id, tsvector_to_array(search_vector) FROM newsletter_issueitem"
            " WHERE is_published ORDER BY id"
        )
        stored = {pk: set(lexemes) for pk, lexemes in cursor.fetchall()}
    index = search_index.build(timezone.now())

    assert list(index.ids) == list(stored)
    assert index.sparse and index.dense
    assert stored[emptied.pk] == set()
    assert "" not in index.dense and "" not in index.sparse
    assert "example.com/a%20b" in set().union(*stored.values())
    for position, pk in enumerate(index.ids):
        words = {word for word in {*index.dense, *index.sparse} if index.bits(word) >> position & 1}
        assert words == stored[pk], pk


@postgresql
@pytest.mark.django_db
def test_the_generation_changes_with_what_search_sees_and_only_then():
    def generation() -> int:
        return SearchGeneration.objects.get(pk=1).value

    start = generation()
    draft = draft_issue(title="A draft")
    issue_item_add(issue=draft, submission=accepted(title="Draft only"))
    assert generation() == start  # a draft's items are not searched

    issue = publish(accepted(title="Low-rank adapters"))
    published = generation()
    assert published > start
    issue_update(issue=issue, title="Renamed")
    assert generation() == published  # nothing searched changed

    IssueItem.objects.filter(issue=issue).update(search_vector=None)
    assert generation() > published  # whatever writes the items, even a bulk update


@postgresql
@pytest.mark.django_db
def test_search_sees_each_change_at_once(client):
    issue = publish(accepted(title="Low-rank adapters"))
    assert [h.title for h in search.search_items("adapters").hits]
    submission = issue.items.get().submission

    submission.title = "Mixture of depths"
    submission.save()
    issue_correct(issue=issue)

    assert search.search_items("adapters").total == 0
    assert search.search_items("depths").total == 1
    issue.items.all().delete()
    assert search.search_items("depths").total == 0


@postgresql
@pytest.mark.django_db
def test_a_stale_index_is_never_used_and_a_missing_generation_turns_it_off():
    publish(accepted(title="Tensor parallelism"))
    assert search.search_items("tensor").total == 1
    built = search_index._current

    publish(accepted(title="Tensor cores"))

    assert search.search_items("tensor").total == 2
    assert search_index._current is not built
    SearchGeneration.objects.all().delete()
    assert search_index.index_at(None, timezone.now()) is None
    assert search.search_items("tensor").total == 2  # the GIN index answers


@postgresql
@pytest.mark.django_db
def test_while_one_thread_builds_the_others_search_without_waiting():
    publish(accepted(title="Flash attention"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT value FROM newsletter_searchgeneration WHERE id = 1")
        (generation,) = cursor.fetchone()
    search_index._current = None
    holding = threading.Event()
    release = threading.Event()

    def build_slowly():
        with search_index._building:
            holding.set()
            release.wait(5)

    builder = threading.Thread(target=build_slowly)
    builder.start()
    try:
        holding.wait(5)
        assert search_index.index_at(generation, timezone.now()) is None
        assert search.search_items("flash").total == 1  # the GIN index answered
    finally:
        release.set()
        builder.join()
    assert search_index.index_at(generation, timezone.now()).generation == generation


@pytest.mark.parametrize("every", [2, 700, 9000], ids=["common", "rarer", "rare"])
def test_a_large_archives_newest_matches_whether_near_the_top_or_spread_out(every):
    size = 40_000
    positions = list(range(3, size, every))
    index = RecencyIndex(
        1,
        array("q", range(size)),
        array("q", range(size)),
        dense={"w": sum(1 << p for p in positions)},
        sparse={},
    )

    found = index.newest(parse("'w'"), 100, NOW)

    assert found.ids == sorted(positions, reverse=True)[:100]


@postgresql
@pytest.mark.django_db
def test_a_web_process_builds_its_index_as_it_starts():
    search_index._current = None
    # The web process's thread, on its own connection: it sees what is committed.
    with connection.cursor() as cursor:
        cursor.execute("SELECT value FROM newsletter_searchgeneration WHERE id = 1")
        (committed,) = cursor.fetchone()
    warming = threading.Thread(target=search_index.warm)

    warming.start()
    warming.join(30)

    assert search_index._current is not None
    assert search_index._current.generation == committed


@postgresql
@pytest.mark.django_db
def test_an_issue_whose_publication_time_has_not_come_is_not_found_yet():
    issue = publish(accepted(title="Weight sharing"))
    issue.__class__.objects.filter(pk=issue.pk).update(
        published_at=timezone.now() + timedelta(seconds=2)
    )

    indexed, gin, _ = both_ways("weight")
    assert indexed.total == gin.total == 0
    index = search_index.index_at(SearchGeneration.objects.get(pk=1).value, timezone.now())
    later = timezone.now() + timedelta(seconds=3)
    assert index.newest(parse("'weight'"), 10, later).ids == [issue.items.get().pk]


@postgresql
@pytest.mark.django_db(transaction=True)
def test_a_build_that_fails_leaves_search_to_the_gin_index_for_a_while(caplog):
    publish(accepted(title="Activation checkpointing"))
    search_index._current = None
    with connection.cursor() as cursor:
        cursor.execute("SELECT value FROM newsletter_searchgeneration WHERE id = 1")
        (generation,) = cursor.fetchone()
        # What a build reads is gone for a moment (as if the database refused it).
        cursor.execute("ALTER TABLE newsletter_searchgeneration RENAME TO searchgeneration_away")
    try:
        assert search_index.index_at(generation, timezone.now()) is None
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "ALTER TABLE searchgeneration_away RENAME TO newsletter_searchgeneration"
            )
    assert "could not be built" in caplog.text
    # Not tried again at once: the GIN index answers meanwhile.
    assert search_index.index_at(generation, timezone.now()) is None
    assert search.search_items("checkpointing").total == 1
    search_index._failed_at -= search_index.RETRY_AFTER  # as when the minute has passed
    assert search_index.index_at(generation, timezone.now()).generation == generation
