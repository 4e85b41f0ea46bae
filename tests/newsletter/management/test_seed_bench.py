"""`manage.py seed_bench`: the benchmarks' archive, realistic and rendered as publishing renders."""

import io
import json
import re

import pytest
from django.core.management import CommandError, call_command

from events.models import RSVP, Event
from newsletter import rendering, search, suggestions
from newsletter.management.bench_vocabulary import BENCH_MEMBER
from newsletter.models import Issue, IssueItem, SearchWord, Submission, Topic
from newsletter.views.archive import ITEMS_PER_PAGE

pytestmark = [
    pytest.mark.postgres,
    # The seed ends with VACUUM ANALYZE, which runs outside a transaction.
    pytest.mark.django_db(transaction=True),
]


def seed_bench(**sizes) -> dict:
    out = io.StringIO()
    call_command("seed_bench", verbosity=0, stdout=out, **sizes)
    return json.loads(out.getvalue())


@pytest.fixture
def seeded():
    return seed_bench(
        issues=3, items=5, big_issue=7, submissions=40, members=12, events=4, rsvps=5, processes=1
    )


def test_seed_bench_counts_match_the_options(seeded):
    assert seeded["counts"] == {
        "members": 12,
        "submissions": 40,
        "issues": 3,
        "items": 5 + 5 + 7,
        "events": 4,
        "rsvps": 20,
    }
    assert Issue.objects.published().count() == 3
    assert Submission.objects.published().count() == 3 + 3 + 5  # two events per issue
    assert RSVP.objects.count() == Event.objects.count() * 5


def test_seed_bench_stores_what_publishing_would_render(seeded):
    for issue in Issue.objects.all():
        rendered = rendering.render_issue(issue)
        assert issue.body_html == rendered.body_html
        assert issue.body_markdown == rendered.body_markdown
        for item in issue.items.all():
            assert item.html == rendered.item_html[item.pk]


def test_seed_bench_newest_issue_page_shows_its_items(client, seeded):
    page = client.get(seeded["paths"]["issue"])

    assert page.status_code == 200
    assert len(re.findall(r'<article class="issue-item', page.content.decode())) == 7


def test_seed_bench_items_are_searchable(seeded):
    item = IssueItem.objects.filter(submission__isnull=False).select_related("submission").first()
    word = item.submission.title.split()[0]

    assert IssueItem.objects.filter(search_vector__isnull=True).count() == 0
    hits = search.search_items(word, limit=10_000).hits
    assert any(hit.url.endswith(f"#{item.anchor}") for hit in hits)


def test_seed_bench_stores_the_archives_words_for_did_you_mean(seeded):
    title = IssueItem.objects.filter(submission__isnull=False).values_list(
        "submission__title", flat=True
    )[0]
    word = max(re.findall(r"[a-z]{5,}", title.lower()), key=len)

    assert SearchWord.objects.filter(word=word).exists()
    assert suggestions.suggest(word[:-1] + "q" + word[-1]) == word


def test_seed_bench_submissions_have_the_topic_their_title_names(seeded):
    for submission in Submission.objects.prefetch_related("topics"):
        names = [topic.name for topic in submission.topics.all()]
        assert 1 <= len(names) <= 3
        assert any(f" {name} for " in submission.title for name in names), submission.title


def test_seed_bench_item_and_topic_pages_show_topics(client, seeded):
    item_page = client.get(seeded["paths"]["item"])
    topic_page = client.get(seeded["paths"]["topic"])
    topic = Topic.objects.get(slug=seeded["paths"]["topic"].strip("/").rsplit("/", 1)[1])
    published = IssueItem.objects.published().filter(submission__topics=topic).count()

    assert item_page.status_code == 200
    assert 'class="topic-chip"' in item_page.content.decode()
    assert topic_page.status_code == 200
    assert published > 0
    assert topic_page.content.decode().count('class="item-entry"') == min(published, ITEMS_PER_PAGE)


def test_seed_bench_gives_the_benchmarks_member_answers(client, seeded):
    email = f"member{BENCH_MEMBER % 12}@example.org"
    assert client.login(username=email.partition("@")[0], password="bench-password")
    page = client.get("/events/me/rsvps/").content.decode()

    assert RSVP.objects.filter(user__email=email).count() >= 1  # event 0 of 4, at least
    assert "Your answer:" in page


def test_seed_bench_event_page_is_upcoming(client, seeded):
    page = client.get(seeded["paths"]["event"])

    assert page.status_code == 200
    assert "going of 40" in page.content.decode()


def test_seed_bench_members_log_in_and_editors_reach_the_admin(client, seeded):
    assert client.login(username="member0", password="bench-password")
    assert client.get("/admin/newsletter/submission/").status_code == 200


def test_seed_bench_composer_shows_every_accepted_submission(client, seeded):
    assert client.login(username="member0", password="bench-password")
    page = client.get(seeded["paths"]["compose"])

    assert page.status_code == 200
    assert seeded["pool"] == Submission.objects.accepted().count() > 0
    assert page.content.decode().count('name="add" value=') == seeded["pool"]


def test_seed_bench_pool_holds_at_most_the_accepted_asked_for(client):
    seeded = seed_bench(
        issues=1, items=3, big_issue=3, submissions=200, members=6, events=4, rsvps=1, pool=2
    )
    assert client.login(username="member0", password="bench-password")
    page = client.get(seeded["paths"]["compose"])

    assert seeded["pool"] == Submission.objects.accepted().count() == 2
    assert page.content.decode().count('name="add" value=') == 2
    # The others the draw made accepted were rejected: every submission is still there.
    assert Submission.objects.count() == seeded["counts"]["submissions"] == 200


def test_seed_bench_refuses_a_database_with_content(seeded):
    with pytest.raises(CommandError, match="already holds"):
        seed_bench(issues=1, items=3, big_issue=3, submissions=5, members=3, events=1, rsvps=1)
