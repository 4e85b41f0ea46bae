"""Search over published issues and items: matching, ranking, highlighting, bad input."""

import re
from datetime import timedelta

import pytest
from django.contrib.postgres.search import SearchQuery
from django.db import connection
from django.shortcuts import render
from django.template import Context, Template
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext, ContextList
from django.urls import reverse
from django.utils import timezone

from events.models import Event
from newsletter import search
from newsletter.models import Issue, IssueItem, Kind, Topic
from newsletter.search_hits import results_html
from newsletter.services.compose import issue_item_add, issue_item_set_blurb
from newsletter.services.issues import SEARCH_CONFIG, issue_publish, issue_schedule
from newsletter.services.topics import topic_save
from newsletter.views.search import RESULTS
from tests.newsletter.issue_data import accepted, draft_issue, published_event

pytestmark = pytest.mark.django_db

URL = reverse("newsletter:search")


def publish(*submissions, title: str = "An issue", **kwargs):
    issue = draft_issue(title=title, **kwargs)
    for submission in submissions:
        issue_item_add(issue=issue, submission=submission)
    return issue_publish(issue=issue)


def hit_titles(response) -> list[str]:
    return [str(hit.title) for hit in response.context["hits"]]


def test_search_finds_published_items_and_links_to_their_anchor(client):
    issue = publish(accepted(title="Knowledge distillation for tiny models", kind=Kind.PAPER))
    item = issue.items.get()

    response = client.get(URL, {"q": "distillation"})

    assert response.status_code == 200
    assert len(response.context["hits"]) == 1
    assert response.context["hits"][0].url == f"{issue.get_absolute_url()}#item-{item.pk}"
    assert "<mark>" in str(response.context["hits"][0].title)


def test_search_never_shows_unpublished_items(client):
    publish(accepted(title="Quantization in public"))
    draft = draft_issue(title="Quantization draft issue")
    issue_item_add(issue=draft, submission=accepted(title="Quantization secret draft"))
    scheduled = draft_issue(title="Quantization scheduled issue")
    issue_item_add(issue=scheduled, submission=accepted(title="Quantization secret scheduled"))
    issue_schedule(issue=scheduled, publish_at=timezone.now() + timedelta(days=1))
    accepted(title="Quantization accepted only")

    response = client.get(URL, {"q": "quantization"})

    page = response.content.decode()
    assert "public" in page
    assert "secret" not in page
    assert "draft issue" not in page
    assert "scheduled issue" not in page
    assert "accepted only" not in page


def test_search_finds_issues_by_their_introduction(client):
    publish(accepted(), title="Spring edition", introduction="All about sparsity this month.")

    response = client.get(URL, {"q": "sparsity"})

    assert [hit.issue_title for hit in response.context["issue_hits"]] == ["Spring edition"]
    assert "<mark>sparsity</mark>" in str(response.context["issue_hits"][0].snippet)


def test_search_highlights_in_the_blurb_and_escapes_member_text(client):
    submission = accepted(
        title="Pruning", summary="Magnitude pruning <script>alert(1)</script> works."
    )
    publish(submission)

    response = client.get(URL, {"q": "pruning"})

    page = response.content.decode()
    assert "<script>alert(1)</script>" not in page
    snippet = str(response.context["hits"][0].snippet)
    assert "<mark>" in snippet.lower()
    assert "<script" not in snippet


@pytest.mark.postgres
def test_search_ranks_title_matches_first(client):
    publish(
        accepted(title="Notes on hardware", summary="Mostly about the mixture of experts idea."),
        accepted(title="Mixture of experts at scale", summary="Routing tokens."),
        accepted(title="Unrelated", summary="Nothing here."),
    )

    response = client.get(URL, {"q": "mixture of experts"})

    assert [
        title.replace("<mark>", "").replace("</mark>", "") for title in hit_titles(response)
    ] == [
        "Mixture of experts at scale",
        "Notes on hardware",
    ]


@pytest.mark.postgres
def test_search_understands_web_search_syntax(client):
    publish(
        accepted(title="Sparse attention kernels"),
        accepted(title="Sparse training recipes"),
    )

    response = client.get(URL, {"q": "sparse -kernels"})

    assert len(response.context["hits"]) == 1
    assert "training" in hit_titles(response)[0]


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("model", "index"),
    [(IssueItem, "newsletter_issueitem_search_gin"), (Issue, "newsletter_issue_search_gin")],
)
def test_search_filter_can_use_the_gin_index(model, index):
    publish(accepted(title="Indexed words"))
    query = SearchQuery("indexed", search_type="websearch", config=SEARCH_CONFIG)
    sql, params = model.objects.filter(search_vector=query).values("id").query.sql_with_params()

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert f"Bitmap Index Scan on {index}" in plan


@pytest.mark.postgres
def test_search_vectors_follow_a_correction(client):
    issue = publish(accepted(title="Before correction"))
    item = issue.items.get()

    issue_item_set_blurb(item=item, blurb="Mentions photonic accelerators now.")

    assert len(client.get(URL, {"q": "photonic"}).context["hits"]) == 1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": "x" * 201}, "at most 200 characters"),
        ({"q": "ok\x00"}, "Null characters are not allowed"),
    ],
)
def test_search_bad_query_gets_a_clear_message(client, params, message):
    response = client.get(URL, params)

    assert response.status_code == 400
    assert message in response.content.decode()


def test_search_bad_page_gets_a_clear_message(client):
    publish(accepted(title="Paged result"))

    response = client.get(URL, {"q": "paged", "page": "abc"})

    assert response.status_code == 400
    assert "Page numbers are whole numbers" in response.content.decode()
    assert "Paged" in response.content.decode()


def test_search_without_query_shows_the_form(client):
    response = client.get(URL)

    assert response.status_code == 200
    assert 'name="q"' in response.content.decode()
    assert response.context["hits"] == []


def test_search_only_operators_finds_nothing_without_error(client):
    publish(accepted())

    response = client.get(URL, {"q": '" - or'})

    assert response.status_code == 200


def test_search_queries_do_not_grow_with_results(client):
    publish(accepted(title="Efficient transformers 0"))
    client.get(URL, {"q": "efficient"})
    with CaptureQueriesContext(connection) as one:
        client.get(URL, {"q": "efficient"})
    one_count = len(one)
    publish(*(accepted(title=f"Efficient transformers {n}") for n in range(1, 35)))
    client.get(URL, {"q": "efficient"})  # the process's index of the words, built again

    with CaptureQueriesContext(connection) as many:
        response = client.get(URL, {"q": "efficient"})

    assert len(response.context["hits"]) == 10
    # On PostgreSQL: issues and events, with what the index of the words needs (the archive's
    # generation, the query as PostgreSQL reads it), then the ranking of the newest matches
    # with the page of hits (with their topics).
    assert len(many) == one_count <= (2 if search.full_text() else 5)


def test_highlight_escapes_then_marks():
    marked = search.highlight("<b>Fast</b> FAST fast-ish", "fast")

    assert str(marked) == (
        "&lt;b&gt;<mark>Fast</mark>&lt;/b&gt; <mark>FAST</mark> <mark>fast</mark>-ish"
    )


def test_highlight_window_centres_on_the_first_match():
    text = " ".join(f"word{n}" for n in range(100)) + " needle " + "tail " * 50

    snippet = str(search.highlight(text, "needle", words=20))

    assert "<mark>needle</mark>" in snippet
    assert snippet.startswith("… ")
    assert len(snippet.split()) <= 23


def test_published_item_queryset_excludes_drafts():
    draft = draft_issue(items=1)
    published = publish(accepted())

    assert list(IssueItem.objects.published()) == list(published.items.all())
    assert not IssueItem.objects.published().filter(issue=draft).exists()


def test_search_pages_through_every_match_once(client):
    publish(*(accepted(title=f"Sparse kernels part {n}") for n in range(25)))

    pages = [client.get(URL, {"q": "sparse", "page": number}) for number in (1, 2, 3)]

    urls = [hit.url for page in pages for hit in page.context["hits"]]
    assert [len(page.context["hits"]) for page in pages] == [10, 10, 5]
    assert len(set(urls)) == 25
    assert "(25 found)" in pages[0].content.decode()
    # Ranked on PostgreSQL; newest first on SQLite.
    after, before = ("More matches", "Better matches") if search.full_text() else ("Older", "Newer")
    assert f'<a href="?q=sparse&amp;page=2" rel="next">{after} →</a>' in pages[0].content.decode()
    assert f'<a href="?q=sparse&amp;page=2" rel="prev">← {before}</a>' in pages[2].content.decode()
    assert "Page 3 of 3" in pages[2].content.decode()


def test_search_page_past_the_end_shows_the_first_page_with_a_message(client):
    publish(*(accepted(title=f"Pruned model {n}") for n in range(3)), title="Pruning issue")

    response = client.get(URL, {"q": "pruned", "page": 7})

    assert response.status_code == 404
    assert "There is no page 7; here is the first page." in response.content.decode()
    assert len(response.context["hits"]) == 3
    assert response.context["page_obj"].number == 1


def test_search_shows_matching_issues_on_the_first_page_only(client):
    publish(
        *(accepted(title=f"Sparsity trick {n}") for n in range(12)),
        title="Sparsity special",
    )

    first = client.get(URL, {"q": "sparsity"})
    second = client.get(URL, {"q": "sparsity", "page": 2})

    assert [hit.issue_title for hit in first.context["issue_hits"]] == ["Sparsity special"]
    assert second.context["issue_hits"] == []
    assert len(second.context["hits"]) == 2


def test_search_help_describes_what_this_database_understands(client):
    page = client.get(URL).content.decode()

    if search.full_text():
        assert "a minus sign to leave a word out" in page
    else:
        assert "Every word must appear; newest first." in page
        assert "minus sign" not in page


# --- Did you mean, the empty query, events, the tab --------------------------------------------


def test_a_misspelt_query_gets_did_you_mean_from_the_archives_words(client):
    publish(accepted(title="Speculative decoding for faster inference"))

    response = client.get(URL, {"q": "speculatve decodng"})

    assert response.context["hits"] == []
    assert response.context["suggestion"] == "speculative decoding"
    page = response.content.decode()
    assert 'Did you mean <a href="?q=speculative+decoding"' in page
    followed = client.get(URL, {"q": response.context["suggestion"]})
    assert len(followed.context["hits"]) == 1


def test_no_suggestion_for_known_words_or_words_far_from_any(client):
    publish(accepted(title="Speculative decoding"))

    assert client.get(URL, {"q": "decoding"}).context["suggestion"] is None
    assert client.get(URL, {"q": "zzzzqqqq"}).context["suggestion"] is None


def test_unpublished_words_are_never_suggested(client):
    draft = draft_issue()
    issue_item_add(issue=draft, submission=accepted(title="Clandestine embargoed launch"))

    assert client.get(URL, {"q": "clandestin"}).context["suggestion"] is None


def test_an_empty_query_shows_the_latest_items(client):
    publish(accepted(title="Older item"), title="Old")
    publish(accepted(title="Newest item"), title="New")

    response = client.get(URL, {"q": ""})
    bare = client.get(URL)

    assert response.status_code == bare.status_code == 200
    titles = [row["item"].issue.title for row in response.context["latest"]]
    assert titles == ["New", "Old"]
    assert "Latest items" in bare.content.decode()


def test_empty_search_queries_do_not_grow_with_items(client):
    publish(accepted())
    client.get(URL)
    with CaptureQueriesContext(connection) as one:
        client.get(URL)
    publish(*(accepted() for _ in range(30)))

    with CaptureQueriesContext(connection) as many:
        client.get(URL)

    assert len(many) == len(one)


def test_events_are_searched_and_drafts_are_not(client):
    published_event(title="Reading group on quantisation", description="Bring questions.")
    draft = published_event(title="Draft quantization social")
    Event.objects.filter(pk=draft.pk).update(state=Event.State.DRAFT)

    response = client.get(URL, {"q": "quantization"})

    assert [str(hit.title) for hit in response.context["event_hits"]] == [
        "Reading group on <mark>quantisation</mark>"
    ]
    assert "/events/" in response.context["event_hits"][0].url


def test_event_search_uses_its_index():
    if not search.full_text():
        pytest.skip("PostgreSQL only")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        params = search._params(
            "quantisation",
            limit=5,
            event_limit=5,
            event_published="published",
            event_cancelled="cancelled",
        )
        cursor.execute("EXPLAIN " + search._ISSUES_AND_EVENTS_SQL, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "events_event_search_document_gin" in plan


def test_the_search_tab_is_marked_current(client):
    page = client.get(URL).content.decode()

    assert f'<a href="{URL}" aria-current="page">Search</a>' in page
    assert 'aria-current="page">Archive</a>' not in page


# --- Each hit as written out, and the bounded ranking --------------------------------------


def test_a_hit_shows_its_topics_and_issue_and_follows_a_topic_rename(client):
    topic = Topic.objects.create(name="Sparsity", slug="sparsity")
    submission = accepted(title="Sparse kernels & <b>friends</b>")
    submission.topics.set([topic])
    issue = publish(submission, title="The sparse issue")
    when = timezone.localtime(issue.published_at)

    page = client.get(URL, {"q": "kernels"}).content.decode()

    assert '<ul class="topic-chips" aria-label="Topics"><li><a class="topic-chip" ' in page
    assert f'href="{reverse("newsletter:topic", args=["sparsity"])}">Sparsity</a>' in page
    assert f"In issue #{issue.number}, The sparse issue · " in page
    assert f'<time datetime="{when.isoformat()}">{when:%-d %B %Y}</time>' in page
    assert "Sparse <mark>kernels</mark> &amp; &lt;b&gt;friends&lt;/b&gt;" in page
    topic.name, topic.slug = "Sparse models", "sparse-models"
    topic_save(topic=topic)
    renamed = client.get(URL, {"q": "kernels"}).content.decode()
    assert (
        f'href="{reverse("newsletter:topic", args=["sparse-models"])}">Sparse models</a>' in renamed
    )
    assert ">Sparsity<" not in renamed


@pytest.mark.skipif(not search.full_text(), reason="PostgreSQL only")
def test_many_matches_rank_and_count_the_most_recent_only(client, settings):
    settings.NEWSLETTER_SEARCH_CANDIDATES = 5
    settings.NEWSLETTER_SEARCH_RECENT_ITEMS = 3
    publish(*(accepted(title=f"Sparse kernels old {n}") for n in range(4)), title="First")
    publish(*(accepted(title=f"Sparse kernels new {n}") for n in range(4)), title="Second")

    response = client.get(URL, {"q": "sparse"})

    titles = [
        hit.title.replace("<mark>", "").replace("</mark>", "") for hit in response.context["hits"]
    ]
    assert sorted(titles) == sorted(
        [f"Sparse kernels new {n}" for n in range(4)] + ["Sparse kernels old 3"]
    )
    assert "(5+ found)" in response.content.decode()


@pytest.mark.skipif(not search.full_text(), reason="PostgreSQL only")
def test_a_rare_word_is_found_past_the_recent_items(client, settings):
    settings.NEWSLETTER_SEARCH_RECENT_ITEMS = 2
    publish(accepted(title="Quokka pruning"), title="Old")
    publish(*(accepted(title=f"Dense layers {n}") for n in range(4)), title="New")

    response = client.get(URL, {"q": "quokka"})

    assert hit_titles(response) == ["<mark>Quokka</mark> pruning"]
    assert "(1 found)" in response.content.decode()


@pytest.mark.skipif(not search.full_text(), reason="PostgreSQL only")
def test_pages_stop_at_the_ranked_matches(client, settings):
    settings.NEWSLETTER_SEARCH_CANDIDATES = 10
    publish(*(accepted(title=f"Sparse kernels {n}") for n in range(12)))

    first = client.get(URL, {"q": "sparse"})
    second = client.get(URL, {"q": "sparse", "page": 2})

    assert len(first.context["hits"]) == 10
    assert "(10+ found)" in first.content.decode()
    assert 'rel="next"' not in first.content.decode()
    assert second.status_code == 404
    assert "There is no page 2; here is the first page." in second.content.decode()


@pytest.mark.skipif(not search.full_text(), reason="PostgreSQL only")
@pytest.mark.parametrize("indexed", [True, False], ids=["index of the words", "GIN index"])
def test_the_filters_take_each_spelling_once_and_find_both(client, settings, indexed):
    settings.NEWSLETTER_SEARCH_INDEX = indexed
    # The items' filters: the candidates the index found, or the recent and older items.
    items = 1 if indexed else 2
    publish(
        accepted(title="Quantisation of pruned models"),
        accepted(title="Quantization in practice"),
        accepted(title="Pruning schedules"),
    )

    def filters(query: str) -> tuple[list[str], list[int]]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(URL, {"q": query})
        sql = " ".join(q["sql"] for q in queries.captured_queries)
        # What each `@@` filter ORs: one websearch_to_tsquery per distinct spelling (in the
        # prepared statements, inside a scalar sub-select).
        found = re.findall(r"@@ (?:\(SELECT )?\(((?:[^()]|\([^()]*\))*)\)", sql)
        return hit_titles(response), [part.count("websearch_to_tsquery") for part in found]

    titles, counts = filters("pruning")
    assert sorted(titles) == [
        "<mark>Pruning</mark> schedules",
        "Quantisation of <mark>pruned</mark> models",
    ]
    assert counts == [1] * items + [1, 1]  # items, issues, events
    titles, counts = filters("quantization")
    assert sorted(titles) == [
        "<mark>Quantisation</mark> of pruned models",
        "<mark>Quantization</mark> in practice",
    ]
    assert counts == [2] * items + [2, 2]


def test_a_hits_topic_chips_are_the_shared_chips_include():
    """A hit's HTML is written in Python for speed; its topic chips must stay what the
    site's chips include writes everywhere else, so a change to one fails here."""
    topics = (search.TopicRef("Long context", "long-context"), search.TopicRef("A & <b>", "a-b"))
    hit = search.Hit(
        title="t",
        snippet="",
        url="/x/",
        emoji="📰",
        issue_number=1,
        issue_title="One",
        published_at=timezone.now(),
        topics=topics,
        topic_urls=tuple(reverse("newsletter:topic", args=[topic.slug]) for topic in topics),
    )
    chips = render_to_string("newsletter/includes/_topic_chips.html", {"topics": topics}).strip()
    assert chips
    assert chips in hit.html


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "America/Los_Angeles"])
def test_an_event_hit_writes_its_start_as_the_date_filters_do_in_the_readers_zone(zone):
    """Event hits are written in Python for speed: the start must read as the template's date
    filters write it, in the reader's zone, and the text is escaped."""
    start = timezone.now().replace(microsecond=0) + timedelta(days=40, hours=5)
    hit = search.EventHit(
        title=search.marked("Reading <group> & \x02friends\x03"),
        snippet=search.marked(""),
        url="/events/a-b/?x=1&y=2",
        start=start,
        cancelled=True,
    )
    with timezone.override(zone):
        expected = Template(
            '<time class="local-time" datetime="{{ start|date:\'c\' }}">'
            '{{ start|date:"l j F Y, H:i T" }}</time>'
        ).render(Context({"start": start}))
        html = hit.html

    assert expected in html
    assert (
        '<a class="hit-title" href="/events/a-b/?x=1&amp;y=2">'
        "Cancelled: Reading &lt;group&gt; &amp; <mark>friends</mark></a>"
    ) in html
    assert "hit-snippet" not in html


# --- The page's frame (portal/frames.py): byte for byte the page render gives --------------------

CSRF_TOKEN = re.compile(r'(name="csrfmiddlewaretoken" value=")[A-Za-z0-9]{64}"')


def csrf_masked(content: bytes) -> str:
    return CSRF_TOKEN.sub(r'\1TOKEN"', content.decode())


def rendered_normally(response) -> bytes:
    """The page `django.shortcuts.render` gives for the view's context (as the results include
    received it), for the same request."""
    contexts = response.context
    if not isinstance(contexts, ContextList):
        contexts = [contexts]
    context = next(c.flatten() for c in contexts if "hits" in c)
    results = render_to_string(
        "newsletter/includes/_search_results.html",
        {**context, "results_html": results_html(**{key: context[key] for key in RESULTS})},
    )
    page = render(response.wsgi_request, "newsletter/search.html", {**context, "results": results})
    return page.content


@pytest.fixture
def archive():
    publish(
        *(accepted(title=f"Sparse kernels part {n}") for n in range(12)),
        accepted(title="Speculative decoding for faster inference"),
        title="Sparse special",
    )
    published_event(title="Sparse reading group")


@pytest.mark.parametrize("visitor", ["client", "member_client", "editor_client"])
@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"q": "sparse"}, 200),
        ({"q": ' sparse "<kernels>" & or '}, 200),
        ({"q": "speculatve decodng"}, 200),
        ({"q": "sparse", "page": "2"}, 200),
        ({"q": "sparse", "page": "abc"}, 400),
        ({"q": "sparse", "page": "9"}, 404),
    ],
)
def test_search_framed_page_is_the_page_render_gives(request, archive, visitor, params, status):
    client = request.getfixturevalue(visitor)

    first = client.get(URL, params)  # renders the frame (or finds it, from an earlier search)
    again = client.get(URL, params)  # fills the frame

    assert first.status_code == again.status_code == status
    assert first["Content-Type"] == again["Content-Type"] == "text/html; charset=utf-8"
    expected = csrf_masked(rendered_normally(again))
    assert csrf_masked(first.content) == csrf_masked(again.content) == expected
    assert ("csrfmiddlewaretoken" in expected) == (visitor != "client")
    assert ("Editors' desk" in expected) == (visitor == "editor_client")
    assert "Sparse" in expected or "Did you mean" in expected


@pytest.mark.parametrize("visitor", ["client", "member_client", "editor_client"])
def test_search_framed_page_makes_the_queries_of_a_normal_render(
    request, archive, settings, visitor
):
    client = request.getfixturevalue(visitor)
    client.get(URL, {"q": "kernels"})
    with CaptureQueriesContext(connection) as framed:
        client.get(URL, {"q": "sparse"})
    settings.DEBUG = True  # no frames: the page is rendered whole
    with CaptureQueriesContext(connection) as normal:
        client.get(URL, {"q": "sparse"})

    # As without frames: issues and events, the ranking with the page of hits (a member's
    # session and account come cached).
    assert len(framed) == len(normal) <= (2 if search.full_text() else 5)


def test_search_events_dates_in_a_zone_changed_elsewhere(member_client, member):
    """Loading the member may set their zone (a change made in another session shows from
    their next request): the results are written after that, as the whole page was."""
    published_event(title="Sparse reading group", start=timezone.now() + timedelta(days=3))
    member_client.get(URL, {"q": "sparse"})
    member.timezone = "Asia/Kolkata"
    member.save()

    page = member_client.get(URL, {"q": "sparse"}).content.decode()

    assert " IST</time>" in page
