"""The review queue's rows, written in one pass, against the rows Django admin writes."""

import re
from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.admin.templatetags.admin_list import items_for_result
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from newsletter.admin.review_rows import queue_rows
from newsletter.models import Submission
from newsletter.services.endorsements import endorsement_create
from tests.factories import EditorFactory, SubmissionFactory, UserFactory, VoteFactory

State = Submission.State
QUEUE = reverse("admin:newsletter_submission_changelist")
HOSTILE = "<script>alert('x')</script> & \"quotes\""


def admin_rows(cl) -> str:
    """The rows as Django admin's result list writes them (change_list_results.html)."""
    return "\n".join(
        "<tr>" + "".join(items_for_result(cl, result, None)) + "</tr>" for result in cl.result_list
    )


def changelist(user, query: str = ""):
    request = RequestFactory().get(f"{QUEUE}?{query}")
    request.user = user
    return admin.site.get_model_admin(Submission).get_changelist_instance(request)


@pytest.fixture
def queue(db):
    """A queue with every kind of row: voted or not, the viewer's own, +1s with reasons,
    duplicates by link and by title, decided ones, and hostile text everywhere."""
    viewer, others = EditorFactory(), EditorFactory.create_batch(2)
    now = timezone.now()
    hostile_author = UserFactory(display_name=HOSTILE, email="a&b@example.org")
    first = SubmissionFactory(
        title=HOSTILE, author=hostile_author, url="https://www.a.example/x?y=1&z=<2>"
    )
    SubmissionFactory(
        title="Same link",
        url=first.url + "&utm_source=x",
        canonical_key=first.canonical_key,
        state=State.WITHDRAWN,
    )
    SubmissionFactory(title=HOSTILE.upper(), state=State.REJECTED, reject_reason="off-topic")
    SubmissionFactory(title="", url="https://b.example/untitled", created_at=now - timedelta(40))
    SubmissionFactory(title="Mine", author=viewer, created_at=now - timedelta(hours=3))
    summary = SubmissionFactory(
        title="Long summary",
        summary_html="<p>" + "Words &amp; <em>more</em> words. " * 20 + "</p>",
        state=State.ACCEPTED,
    )
    voted = SubmissionFactory(title="Voted on")
    VoteFactory(submission=voted, editor=viewer, value=-1)
    VoteFactory(submission=voted, editor=others[0], value=1, comment="Hm.")
    blind = SubmissionFactory(title="Others voted")
    VoteFactory(submission=blind, editor=others[1], value=0)
    for submission, reason in [(voted, HOSTILE), (voted, ""), (blind, "Useful"), (first, "")]:
        endorsement_create(submission=submission, member=UserFactory(), reason=reason)
    endorsement_create(submission=summary, member=UserFactory(display_name="Pat"), reason="Yes")
    return viewer


@pytest.mark.django_db
@pytest.mark.parametrize("blind", [True, False])
@pytest.mark.parametrize(
    "query",
    ["", "state=all", "state=all&o=2.-1", "state=all&q=%26", "state=accepted&kind__exact=blog"],
)
def test_rows_are_what_the_admin_writes(queue, settings, blind, query):
    settings.NEWSLETTER_BLIND_REVIEW = blind
    for viewer in (
        queue,
        UserFactory(is_staff=True),
        UserFactory(is_staff=True, is_superuser=True),
    ):
        cl = changelist(viewer, query)
        assert cl.result_list, query
        assert queue_rows(cl, QUEUE) == admin_rows(cl)


@pytest.mark.django_db
def test_rows_show_hostile_text_escaped_and_links_keep_the_filters(queue, client):
    client.force_login(queue)
    page = client.get(QUEUE, {"state": "all", "q": "&"}).content.decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quotes&quot;" in page
    # Each row's link carries the filters back to the queue after the review page.
    links = re.findall(r'<th class="field-title_cell"><a href="([^"]+)"', page)
    assert links and all("?_changelist_filters=state%3Dall%26q%3D%2526" in link for link in links)


@pytest.mark.django_db
def test_every_vote_button_points_at_a_form_on_the_page(queue, client):
    client.force_login(queue)
    page = client.get(QUEUE, {"state": "all"}).content.decode()
    buttons = set(re.findall(r'<button type="submit" form="(review-vote-\d+)"', page))
    forms = set(re.findall(r'<form id="(review-vote-\d+)"', page))
    assert buttons and buttons == forms
    mine = Submission.objects.get(title="Mine")
    assert f"review-vote-{mine.pk}" not in forms  # nobody votes on their own submission


@pytest.mark.django_db
def test_popup_falls_back_to_the_admins_rows(queue, client):
    client.force_login(queue)
    response = client.get(QUEUE, {"state": "all", "_popup": "1"})
    assert response.status_code == 200
    assert "data-popup-opener" in response.content.decode()
