"""The editors' topics: the list in the admin, and a published item's topics on its review page."""

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from newsletter.models import Activity, Topic
from newsletter.services.topics import submission_topics_set
from tests.factories import EditorFactory, UserFactory
from tests.newsletter.issue_data import published_issue

pytestmark = pytest.mark.django_db


def make_topics(*names):
    return [Topic.objects.create(name=n, slug=n.lower().replace(" ", "-")) for n in names]


def test_editor_adds_a_topic_in_the_admin(client):
    client.force_login(EditorFactory(is_staff=True))

    response = client.post(
        reverse("admin:newsletter_topic_add"),
        {"name": "Long context", "slug": "long-context", "description": "", "position": 0},
    )

    assert response.status_code == 302
    assert Topic.objects.get().name == "Long context"


def test_topic_list_in_the_admin_queries_do_not_grow(client):
    client.force_login(EditorFactory(is_staff=True))
    url = reverse("admin:newsletter_topic_changelist")
    make_topics("Quantisation")
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    make_topics(*(f"Topic {n}" for n in range(30)))

    with CaptureQueriesContext(connection) as many:
        client.get(url)

    assert len(many) == len(one)


def test_editor_changes_a_published_items_topics_and_the_issue_shows_them(client):
    quant, serving = make_topics("Quantisation", "Serving")
    issue = published_issue()
    submission = issue.items.get().submission
    editor = EditorFactory(is_staff=True)
    client.force_login(editor)
    review = client.get(reverse("admin:newsletter_submission_change", args=[submission.pk]))
    assert "Save topics" in review.content.decode()

    response = client.post(
        reverse("admin:newsletter_topic_set", args=[submission.pk]),
        {"topics": [quant.pk, serving.pk]},
    )

    assert response.status_code == 302
    issue.refresh_from_db()
    assert ">Quantisation</a>" in issue.body_html and ">Serving</a>" in issue.body_html
    assert issue.corrected_at is not None
    entry = submission.activity.filter(action=Activity.Action.EDITED).get()
    assert entry.changes == {"topics": ["", "Quantisation, Serving"]}


def test_four_topics_are_refused_and_nothing_changes(client):
    chosen = make_topics("A", "B", "C", "D")
    issue = published_issue()
    submission = issue.items.get().submission
    client.force_login(EditorFactory(is_staff=True))

    response = client.post(
        reverse("admin:newsletter_topic_set", args=[submission.pk]),
        {"topics": [t.pk for t in chosen]},
        follow=True,
    )

    assert "Pick at most 3 topics" in response.content.decode()
    assert submission.topics.count() == 0


def test_members_cannot_set_topics():
    (quant,) = make_topics("Quantisation")
    submission = published_issue().items.get().submission

    with pytest.raises(PermissionDenied, match="Only editors"):
        submission_topics_set(submission=submission, topics=[quant], actor=UserFactory())
    assert submission.topics.count() == 0
