"""Topics: picking them when submitting, chips on items, each topic's page and feeds."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.text import slugify

from newsletter.models import Activity, Submission, Topic
from newsletter.services.compose import issue_item_add
from newsletter.services.issues import issue_publish
from newsletter.services.submissions import submission_update
from newsletter.services.topics import topic_delete, topic_save
from tests.factories import EditorFactory, UserFactory
from tests.newsletter.issue_data import accepted, draft_issue

pytestmark = pytest.mark.django_db


def topics(*names: str) -> list[Topic]:
    return [Topic.objects.create(name=name, slug=slugify(name)) for name in names]


def publish_with(topic_lists: list[list[Topic]], **kwargs):
    issue = draft_issue(**kwargs)
    for chosen in topic_lists:
        submission = accepted()
        submission.topics.set(chosen)
        issue_item_add(issue=issue, submission=submission)
    return issue_publish(issue=issue)


def count_queries(client, url: str) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def submit_data(**extra) -> dict:
    return {
        "url": "https://example.org/a-post",
        "kind": "blog",
        "title": "Sparse attention at scale",
        "summary": "",
        "note_to_editors": "",
        "links-TOTAL_FORMS": "0",
        "links-INITIAL_FORMS": "0",
        **extra,
    }


def test_submitter_picks_up_to_three_topics(client):
    quant, distil, *_ = topics("Quantisation", "Distillation", "Sparsity", "Serving")
    member = UserFactory()
    client.force_login(member)

    response = client.post(
        reverse("portal:submission-create"), submit_data(topics=[quant.pk, distil.pk])
    )

    assert response.status_code == 302
    submission = Submission.objects.get(author=member)
    assert sorted(t.name for t in submission.topics.all()) == ["Distillation", "Quantisation"]


def test_four_topics_are_refused_and_the_form_keeps_everything(client):
    chosen = topics("Quantisation", "Distillation", "Sparsity", "Serving")
    client.force_login(UserFactory())

    response = client.post(
        reverse("portal:submission-create"), submit_data(topics=[t.pk for t in chosen])
    )

    assert response.status_code == 200
    assert "Pick at most 3 topics; you picked 4." in response.content.decode()
    assert 'value="Sparse attention at scale"' in response.content.decode()
    assert Submission.objects.count() == 0


def test_an_unknown_topic_gets_a_clear_message(client):
    client.force_login(UserFactory())

    response = client.post(reverse("portal:submission-create"), submit_data(topics=["999999"]))

    assert response.status_code == 200
    assert "is not one of our topics" in response.content.decode()
    assert Submission.objects.count() == 0


def test_editor_changes_topics_and_the_change_is_logged():
    quant, distil, sparsity = topics("Quantisation", "Distillation", "Sparsity")
    submission = accepted()
    submission.topics.set([quant])
    editor = EditorFactory()

    submission_update(submission=submission, actor=editor, topics=[distil, sparsity])

    assert {t.name for t in submission.topics.all()} == {"Distillation", "Sparsity"}
    entry = submission.activity.filter(action=Activity.Action.EDITED).get()
    assert entry.changes == {"topics": ["Quantisation", "Distillation, Sparsity"]}


def test_topic_chips_show_on_the_issue_page_and_my_submissions(client):
    (quant,) = topics("Quantisation")
    issue = publish_with([[quant]])
    submission = issue.items.get().submission

    issue_page = client.get(issue.get_absolute_url()).content.decode()
    client.force_login(submission.author)
    mine = client.get(reverse("portal:submission-list")).content.decode()

    chip = f'<a class="topic-chip" href="{quant.get_absolute_url()}">Quantisation</a>'
    assert chip in issue_page
    assert chip in mine
    assert f'href="{submission.get_page_url()}"' in issue_page


def test_topic_page_lists_only_its_published_items(client):
    quant, serving = topics("Quantisation", "Serving")
    publish_with([[quant], [serving]], title="Published")
    draft = draft_issue(title="Draft")
    hidden = accepted(title="Draft-only quantised model")
    hidden.topics.set([quant])
    issue_item_add(issue=draft, submission=hidden)

    response = client.get(quant.get_absolute_url())

    assert response.status_code == 200
    assert len(response.context["rows"]) == 1
    assert "Draft-only" not in response.content.decode()
    assert 'property="og:title" content="Quantisation"' in response.content.decode()


def test_unknown_topic_is_a_404(client):
    assert client.get(reverse("newsletter:topic", args=["nothing-here"])).status_code == 404


def test_topic_feeds_link_to_item_pages(client):
    (quant,) = topics("Quantisation")
    issue = publish_with([[quant]])
    submission = issue.items.get().submission

    rss = client.get(reverse("newsletter:topic-feed-rss", args=[quant.slug]))
    atom = client.get(reverse("newsletter:topic-feed-atom", args=[quant.slug]))

    assert rss.status_code == atom.status_code == 200
    # application/xml: a browser shows it through the stylesheet (test_feed_journey.py).
    assert rss["Content-Type"] == atom["Content-Type"] == "application/xml; charset=utf-8"
    for body in (rss.content.decode(), atom.content.decode()):
        assert submission.title in body
        assert f"http://127.0.0.1:8000{submission.get_page_url()}" in body
    assert client.get(reverse("newsletter:topic-feed-rss", args=["nope"])).status_code == 404


def test_renaming_a_topic_rerenders_the_issues_that_show_it(client):
    (quant,) = topics("Quantisation")
    issue = publish_with([[quant]])
    quant.name = "Quantisation and pruning"

    assert topic_save(topic=quant) == 1
    issue.refresh_from_db()

    assert ">Quantisation and pruning</a>" in issue.body_html


def test_topic_pages_queries_do_not_grow_with_items(client):
    (quant,) = topics("Quantisation")
    publish_with([[quant]])
    urls = [
        quant.get_absolute_url(),
        reverse("newsletter:topic-list"),
        reverse("newsletter:topic-feed-rss", args=[quant.slug]),
    ]
    one = [count_queries(client, url) for url in urls]

    publish_with([[quant]] * 3)
    three = [count_queries(client, url) for url in urls]
    publish_with([[quant]] * 30)

    assert three == one
    assert [count_queries(client, url) for url in urls] == one


def test_deleting_a_topic_takes_its_chip_off_published_issues(client):
    (quant,) = topics("Quantisation")
    issue = publish_with([[quant]])

    assert topic_delete(topic=quant) == 1
    issue.refresh_from_db()

    assert "topic-chip" not in issue.body_html
    assert client.get("/archive/topics/quantisation/").status_code == 404
