"""The editors' review queue in the admin: who may do what, votes, blind review, decisions."""

import html
import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from newsletter.admin.review_display import metadata_fields
from newsletter.models import Activity, Submission, Vote
from newsletter.services.decisions import submission_decide
from newsletter.services.endorsements import endorsement_create
from newsletter.services.submissions import (
    submission_apply_metadata,
    submission_create,
    submission_resubmit,
)
from newsletter.services.votes import vote_cast
from tests.browser.conftest import browser_settings, open_tab  # noqa: F401 (fixtures)
from tests.factories import EditorFactory, SubmissionFactory, UserFactory, VoteFactory

State = Submission.State
QUEUE = reverse("admin:newsletter_submission_changelist")


def review_url(submission):
    return reverse("admin:newsletter_submission_change", args=[submission.pk])


def vote_url(submission):
    return reverse("admin:newsletter_submission_vote", args=[submission.pk])


def decide_url(submission):
    return reverse("admin:newsletter_submission_decide", args=[submission.pk])


def text(response) -> str:
    """The page's visible text, tags stripped and spaces collapsed, for reading like a person."""
    page = response.content.decode()
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def messages_after(client, response) -> list[str]:
    """The messages the person reads on the page the response redirects to."""
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    found = re.search(r'<ul class="messagelist">(.*?)</ul>', page, flags=re.S)
    items = re.findall(r"<li[^>]*>(.*?)</li>", found.group(1), flags=re.S) if found else []
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", item)).split()) for item in items]


# --- Who may do what: the whole matrix -----------------------------------------------------------

ROLES = ["anonymous", "member", "submitter", "editor", "staff", "superuser"]


@pytest.fixture
def world(db):
    """One pending submission by `submitter`, and a person for each role."""
    submitter = UserFactory()
    return {
        "submission": SubmissionFactory(author=submitter, title="Sparse attention"),
        "users": {
            "anonymous": None,
            "member": UserFactory(),
            "submitter": submitter,
            "editor": EditorFactory(),
            "staff": UserFactory(is_staff=True),
            "superuser": UserFactory(is_staff=True, is_superuser=True),
        },
    }


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _request(client, action, submission):
    next_ = {"next": QUEUE}
    bulk = {"_selected_action": [submission.pk], "index": "0"}
    return {
        "queue": lambda: client.get(QUEUE),
        "queue-filtered": lambda: client.get(QUEUE, {"state": "all", "my_vote": "none", "q": "x"}),
        "review": lambda: client.get(review_url(submission)),
        "history": lambda: client.get(
            reverse("admin:newsletter_submission_history", args=[submission.pk])
        ),
        "vote": lambda: client.post(vote_url(submission), {"value": "1", **next_}),
        "vote-get": lambda: client.get(vote_url(submission)),
        "accept": lambda: client.post(decide_url(submission), {"decision": "accept", **next_}),
        "reject": lambda: client.post(
            decide_url(submission), {"decision": "reject", "reason": "detail", **next_}
        ),
        "decide-get": lambda: client.get(decide_url(submission)),
        "edit": lambda: client.post(
            review_url(submission), {"title": "Edited", "kind": "blog", "summary": "New."}
        ),
        "add": lambda: client.get(reverse("admin:newsletter_submission_add")),
        "delete": lambda: client.get(
            reverse("admin:newsletter_submission_delete", args=[submission.pk])
        ),
        "bulk-accept": lambda: client.post(QUEUE, {**bulk, "action": "accept_selected"}),
        "bulk-reject-ask": lambda: client.post(QUEUE, {**bulk, "action": "reject_selected"}),
        "bulk-reject": lambda: client.post(
            QUEUE, {**bulk, "action": "reject_selected", "apply": "1", "reason": "off-topic"}
        ),
        "site-detail": lambda: client.get(
            reverse("portal:submission-detail", args=[submission.pk])
        ),
    }[action]()


L, OK, REDIRECT, FORBIDDEN, MISSING, NOT_ALLOWED = "login", 200, 302, 403, 404, 405
# Expected status per role: anonymous, member, submitter, editor, staff, superuser.
# "login" is the admin's (or the site's) redirect to its login page.
MATRIX = {
    "queue": (L, L, L, OK, OK, OK),
    "queue-filtered": (L, L, L, OK, OK, OK),
    "review": (L, L, L, OK, OK, OK),
    "history": (L, L, L, OK, OK, OK),
    "vote": (L, L, L, REDIRECT, FORBIDDEN, FORBIDDEN),
    "vote-get": (L, L, L, NOT_ALLOWED, NOT_ALLOWED, NOT_ALLOWED),
    "accept": (L, L, L, REDIRECT, FORBIDDEN, REDIRECT),
    "reject": (L, L, L, REDIRECT, FORBIDDEN, REDIRECT),
    "decide-get": (L, L, L, NOT_ALLOWED, NOT_ALLOWED, NOT_ALLOWED),
    "edit": (L, L, L, REDIRECT, FORBIDDEN, REDIRECT),
    "add": (L, L, L, FORBIDDEN, FORBIDDEN, FORBIDDEN),
    "delete": (L, L, L, FORBIDDEN, FORBIDDEN, FORBIDDEN),
    "bulk-accept": (L, L, L, REDIRECT, FORBIDDEN, REDIRECT),
    "bulk-reject-ask": (L, L, L, OK, FORBIDDEN, OK),
    "bulk-reject": (L, L, L, REDIRECT, FORBIDDEN, REDIRECT),
    "site-detail": (L, MISSING, OK, MISSING, MISSING, MISSING),
}
# What a successful request leaves behind (state, number of votes); refused ones leave
# ("pending", 0).
EFFECT = {
    "vote": ("pending", 1),
    "accept": ("accepted", 0),
    "reject": ("rejected", 0),
    "bulk-accept": ("accepted", 0),
    "bulk-reject": ("rejected", 0),
}


@pytest.mark.django_db
@pytest.mark.parametrize("action", list(MATRIX))
@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix(world, role, action):
    submission = world["submission"]
    expected = MATRIX[action][ROLES.index(role)]
    response = _request(client_for(world["users"][role]), action, submission)
    if expected == L:
        assert response.status_code == 302
        assert "/login/" in response["Location"]
    else:
        assert response.status_code == expected
    submission.refresh_from_db()
    state, votes = EFFECT.get(action, ("pending", 0)) if expected == REDIRECT else ("pending", 0)
    assert (submission.state, submission.votes.count()) == (state, votes)
    if action == "edit":
        assert (submission.title == "Edited") == (expected == REDIRECT)


@pytest.mark.django_db
def test_staff_see_the_queue_read_only(world):
    client = client_for(world["users"]["staff"])
    queue = client.get(QUEUE)
    assert "Sparse attention" in text(queue)
    assert 'name="action"' not in queue.content.decode()
    assert "data-review-async" not in queue.content.decode()
    review = client.get(review_url(world["submission"]))
    page = text(review)
    assert "Only editors vote." in page
    assert "Decide" not in page
    assert 'name="_save"' not in review.content.decode()


@pytest.mark.django_db
def test_superuser_who_is_not_an_editor_decides_but_does_not_vote(world):
    client = client_for(world["users"]["superuser"])
    page = text(client.get(review_url(world["submission"])))
    assert "Only editors vote." in page
    assert "Accept" in page and "Reject" in page


@pytest.mark.django_db
def test_editor_is_refused_their_own_submission_with_a_clear_message(editor):
    own = SubmissionFactory(author=editor, title="My own paper")
    client = client_for(editor)
    response = client.post(vote_url(own), {"value": "1", "next": QUEUE})
    assert response.status_code == 302
    assert messages_after(client, response) == [
        "You cannot vote on your own submission; the other editors decide on it."
    ]
    response = client.post(decide_url(own), {"decision": "accept"})
    assert messages_after(client, response) == [
        "You submitted this one; another editor decides on it."
    ]
    own.refresh_from_db()
    assert (own.state, own.votes.count()) == (State.PENDING, 0)
    queue = text(client.get(QUEUE))
    assert "Your submission: the other editors vote" in queue
    page = text(client.get(review_url(own)))
    assert "You submitted this one: the other editors vote and decide." in page


@pytest.mark.django_db
def test_vote_and_decide_need_the_csrf_token(editor):
    submission = SubmissionFactory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(editor)
    assert client.post(vote_url(submission), {"value": "1"}).status_code == 403
    assert client.post(decide_url(submission), {"decision": "accept"}).status_code == 403
    submission.refresh_from_db()
    assert (submission.state, submission.votes.count()) == (State.PENDING, 0)


@pytest.mark.django_db
def test_removed_from_editors_means_no_more_votes(editor):
    editor.groups.remove(Group.objects.get(name="Editors"))
    client = client_for(editor)
    assert client.post(vote_url(SubmissionFactory()), {"value": "1"}).status_code == 403


# --- The queue -----------------------------------------------------------------------------------


def rows(response) -> list[str]:
    """The titles in the queue, in order."""
    return re.findall(r'<th class="field-title_cell"><a [^>]*>([^<]*)<', response.content.decode())


@pytest.mark.django_db
def test_queue_shows_pending_oldest_first_by_default(editor_client):
    now = timezone.now()
    SubmissionFactory(title="Newer", created_at=now)
    SubmissionFactory(title="Oldest", created_at=now - timedelta(days=9))
    SubmissionFactory(title="Middle", created_at=now - timedelta(days=2))
    SubmissionFactory(
        title="Accepted one", state=State.ACCEPTED, created_at=now - timedelta(days=5)
    )
    response = editor_client.get(QUEUE)
    assert rows(response) == ["Oldest", "Middle", "Newer"]
    page = text(response)
    assert "1 week" in page and "Blog post" in page
    assert rows(editor_client.get(QUEUE, {"state": "all"})) == [
        "Oldest",
        "Accepted one",
        "Middle",
        "Newer",
    ]
    assert rows(editor_client.get(QUEUE, {"state": "accepted"})) == ["Accepted one"]


@pytest.mark.django_db
def test_queue_filters_by_kind_age_and_not_yet_voted_by_me(editor, editor_client):
    now = timezone.now()
    paper = SubmissionFactory(title="Paper", kind="paper", created_at=now - timedelta(days=3))
    SubmissionFactory(title="Blog", kind="blog", created_at=now - timedelta(hours=2))
    SubmissionFactory(title="Mine", author=editor)
    VoteFactory(submission=paper, editor=editor)
    assert rows(editor_client.get(QUEUE, {"kind__exact": "paper"})) == ["Paper"]
    assert rows(editor_client.get(QUEUE, {"age": "day"})) == ["Blog", "Mine"]
    assert rows(editor_client.get(QUEUE, {"age": "week"})) == ["Paper"]
    assert rows(editor_client.get(QUEUE, {"my_vote": "none"})) == ["Blog"]
    assert rows(editor_client.get(QUEUE, {"my_vote": "voted"})) == ["Paper"]


@pytest.mark.django_db
def test_queue_searches_title_link_and_submitter(editor_client):
    ada = UserFactory(email="ada@example.org", display_name="Ada Lovelace")
    SubmissionFactory(title="Sparse attention", url="https://arxiv.org/abs/2401.00001")
    SubmissionFactory(title="Quantization", author=ada)
    assert rows(editor_client.get(QUEUE, {"q": "sparse"})) == ["Sparse attention"]
    assert rows(editor_client.get(QUEUE, {"q": "2401.00001"})) == ["Sparse attention"]
    assert rows(editor_client.get(QUEUE, {"q": "ada@example"})) == ["Quantization"]
    assert rows(editor_client.get(QUEUE, {"q": "Lovelace"})) == ["Quantization"]


@pytest.mark.django_db
def test_queue_warns_of_duplicates_including_rejected_and_withdrawn(editor_client):
    first = SubmissionFactory(
        title="Old one", state=State.REJECTED, reject_reason="off-topic", url="https://a.example/x"
    )
    SubmissionFactory(
        title="Withdrawn",
        state=State.WITHDRAWN,
        url="https://a.example/x",
        canonical_key=first.canonical_key,
    )
    again = SubmissionFactory(
        title="Same link again",
        url="https://a.example/x?utm_source=y",
        canonical_key=first.canonical_key,
    )
    SubmissionFactory(title="A title twice")
    SubmissionFactory(title="a TITLE twice", state=State.ACCEPTED)
    SubmissionFactory(title="Unique")
    page = text(editor_client.get(QUEUE))
    assert "⚠ same link: 2 others" in page
    assert "⚠ same title: 1 other" in page
    review = text(editor_client.get(review_url(again)))
    assert "Possible duplicates" in review
    assert "Old one — rejected" in review and "Withdrawn — withdrawn" in review


@pytest.mark.django_db
def test_queue_query_count_does_not_grow_with_rows(client, django_assert_num_queries):
    editors = EditorFactory.create_batch(5)
    client.force_login(editors[0])

    def add(count):
        for _ in range(count):
            submission = SubmissionFactory()
            for editor, value in zip(editors, [1, -1, 0, 1, -1], strict=True):
                VoteFactory(submission=submission, editor=editor, value=value, comment="Hm.")

    add(1)
    client.get(QUEUE)  # the editor is read once, then from the cache
    with CaptureQueriesContext(connection) as one_row:
        response = client.get(QUEUE)
    assert len(rows(response)) == 1
    add(49)
    with django_assert_num_queries(len(one_row)):
        response = client.get(QUEUE)
    assert len(rows(response)) == 50
    assert text(response).count("2 for / 2 against / 1 abstain · net +0") == 50


@pytest.mark.django_db
def test_review_page_query_count_does_not_grow_with_votes(client, django_assert_num_queries):
    editors = EditorFactory.create_batch(31)
    client.force_login(editors[0])
    submission = SubmissionFactory()
    VoteFactory(submission=submission, editor=editors[0])
    VoteFactory(submission=submission, editor=editors[1])
    client.get(review_url(submission))  # the editor is read once, then from the cache
    with CaptureQueriesContext(connection) as few:
        assert client.get(review_url(submission)).status_code == 200
    for editor in editors[2:]:
        vote_cast(submission=submission, editor=editor, value=-1, comment="No.")
    with django_assert_num_queries(len(few)):
        assert client.get(review_url(submission)).status_code == 200


# --- Voting from the queue -----------------------------------------------------------------------


@pytest.mark.django_db
def test_one_click_vote_without_javascript_comes_back_to_the_queue(editor_client):
    submission = SubmissionFactory(title="Sparse attention")
    url = f"{QUEUE}?kind__exact=blog"
    response = editor_client.post(
        vote_url(submission), {"value": "-1", "comment": "Seen it before", "next": url}
    )
    assert response.status_code == 302
    assert response["Location"] == url
    assert messages_after(editor_client, response) == ["Your vote on “Sparse attention”: against."]
    vote = Vote.objects.get()
    assert (vote.value, vote.comment) == (-1, "Seen it before")
    queue = editor_client.get(url)
    assert "You: Against" in text(queue)
    assert 'value="-1" class="review-vote-button review-vote-against" aria-pressed="true"' in (
        queue.content.decode()
    )


@pytest.mark.django_db
def test_one_click_vote_with_javascript_answers_json_with_the_new_row(editor, editor_client):
    submission = SubmissionFactory(title="Sparse attention")
    VoteFactory(submission=submission, value=1, comment="Great")
    response = editor_client.post(
        vote_url(submission), {"value": "0"}, headers={"accept": "application/json"}
    )
    assert response.status_code == 200
    answer = response.json()
    assert answer["ok"] is True
    assert answer["message"] == "Your vote on “Sparse attention”: abstain."
    # Blind review: the tally shows once the editor has voted.
    assert "1 for / 0 against / 1 abstain · net +1" in " ".join(
        re.sub(r"<[^>]+>", " ", answer["cells"]["tally"]).split()
    )
    assert (
        'value="0" class="review-vote-button review-vote-abstain" aria-pressed="true"'
        in (answer["cells"]["my_vote"])
    )
    assert answer["cells"]["state"] == "Waiting for review"


@pytest.mark.django_db
def test_json_vote_refusals_carry_the_message(editor, editor_client):
    own = SubmissionFactory(author=editor)
    response = editor_client.post(
        vote_url(own), {"value": "1"}, headers={"accept": "application/json"}
    )
    assert response.status_code == 403
    assert response.json()["message"].startswith("You cannot vote on your own submission")
    closed = SubmissionFactory(state=State.ACCEPTED)
    response = editor_client.post(
        vote_url(closed), {"value": "1"}, headers={"accept": "application/json"}
    )
    assert response.status_code == 409
    assert response.json()["message"] == "This submission is already accepted; votes are closed."
    response = editor_client.post(
        vote_url(SubmissionFactory()), {"value": "7"}, headers={"accept": "application/json"}
    )
    assert response.status_code == 400
    staff = client_for(UserFactory(is_staff=True))
    response = staff.post(vote_url(own), {"value": "1"}, headers={"accept": "application/json"})
    assert response.status_code == 403
    assert json.loads(response.content)["message"] == "Only editors can vote."
    assert not Vote.objects.exists()


@pytest.mark.django_db
def test_vote_that_meets_the_rule_says_so_and_closes_the_row(editor_client, settings):
    settings.NEWSLETTER_VOTES_TO_ACCEPT = 2
    submission = SubmissionFactory(title="Sparse attention")
    VoteFactory(submission=submission, value=1)
    response = editor_client.post(
        vote_url(submission), {"value": "1"}, headers={"accept": "application/json"}
    )
    answer = response.json()
    assert answer["message"] == (
        "Your vote on “Sparse attention”: for. That met the acceptance rule: it is accepted."
    )
    assert answer["cells"]["state"] == "Accepted"
    assert "review-vote-button" not in answer["cells"]["my_vote"]
    assert "You voted" in answer["cells"]["my_vote"]
    page = text(editor_client.get(review_url(submission)))
    assert "by the vote rule (automatic)" in page
    assert (
        "Automatic Changed state (pending → accepted) — Automatic: accepted by the vote rule"
        in page
    )


@pytest.mark.django_db
def test_vote_redirect_stays_on_this_site(editor_client):
    submission = SubmissionFactory()
    response = editor_client.post(
        vote_url(submission), {"value": "1", "next": "https://evil.example/"}
    )
    assert response["Location"] == review_url(submission)


@pytest.mark.django_db
def test_review_page_vote_replaces_the_comment(editor, editor_client):
    submission = SubmissionFactory()
    editor_client.post(vote_url(submission), {"value": "1", "comment": "Nice"})
    editor_client.post(vote_url(submission), {"value": "1", "comment": "", "replace_comment": "on"})
    assert Vote.objects.get().comment == ""


# --- Blind review --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_blind_review_hides_the_others_votes_until_mine(editor, editor_client, settings):
    settings.NEWSLETTER_BLIND_REVIEW = True
    other = EditorFactory(display_name="Grace")
    submission = SubmissionFactory(title="Sparse attention")
    vote_cast(submission=submission, editor=other, value=-1, comment="Seen it twice")
    queue = text(editor_client.get(QUEUE))
    assert "1 vote · hidden until you vote" in queue
    assert "0 for" not in queue
    page = text(editor_client.get(review_url(submission)))
    assert "1 vote so far. Blind review" in page
    assert "Seen it twice" not in page
    assert "Grace Voted — hidden until you vote" in page

    editor_client.post(vote_url(submission), {"value": "1"})
    page = text(editor_client.get(review_url(submission)))
    assert "1 for / 1 against / 0 abstain · net +0" in page
    assert "Grace : against Seen it twice" in page
    assert "Grace Voted — Voted against: Seen it twice" in page
    assert "1 for / 1 against / 0 abstain · net +0" in text(editor_client.get(QUEUE))


@pytest.mark.django_db
def test_blind_review_off_shows_votes_at_once(editor_client, settings):
    settings.NEWSLETTER_BLIND_REVIEW = False
    submission = SubmissionFactory()
    VoteFactory(submission=submission, value=-1, comment="Seen it twice")
    assert "0 for / 1 against" in text(editor_client.get(QUEUE))
    assert "Seen it twice" in text(editor_client.get(review_url(submission)))


@pytest.mark.django_db
def test_blind_review_does_not_hide_votes_from_those_who_do_not_vote(settings):
    settings.NEWSLETTER_BLIND_REVIEW = True
    submission = SubmissionFactory()
    VoteFactory(submission=submission, value=-1, comment="Seen it twice")
    for user in (UserFactory(is_staff=True), UserFactory(is_staff=True, is_superuser=True)):
        client = client_for(user)
        assert "0 for / 1 against" in text(client.get(QUEUE))
        assert "Seen it twice" in text(client.get(review_url(submission)))


@pytest.mark.django_db
def test_blind_review_ends_with_the_decision(editor_client, settings):
    settings.NEWSLETTER_BLIND_REVIEW = True
    submission = SubmissionFactory(state=State.REJECTED, reject_reason="detail")
    VoteFactory(submission=submission, value=-1, comment="Thin")
    assert "Thin" in text(editor_client.get(review_url(submission)))


# --- The review page: what an editor reads, edits and decides ------------------------------------


@pytest.mark.django_db
def test_review_page_shows_everything_an_editor_needs(editor_client, member):
    submission = submission_create(
        author=member,
        url="https://arxiv.org/abs/2210.17323",
        kind="paper",
        title="GPTQ",
        summary="3-bit **weights** <script>alert(1)</script>",
        note_to_editors="The v2 is out.",
        extra_links=[("Code", "https://github.com/IST-DASLab/gptq")],
    )
    submission_apply_metadata(
        submission=submission,
        metadata={
            "title": "GPTQ",
            "summary": "",
            "authors": ["Elias Frantar", "Dan Alistarh"],
            "source": "arxiv",
        },
    )
    response = editor_client.get(review_url(submission))
    html = response.content.decode()
    page = text(response)
    assert "<strong>weights</strong>" in html
    assert "<script>alert(1)</script>" not in html
    assert "Code: https://github.com/IST-DASLab/gptq" in page
    assert "Note to the editors The v2 is out." in page
    assert "Authors Elias Frantar, Dan Alistarh" in page
    assert "Found on arXiv" in page
    assert "Paper · submitted by" in page
    assert "No votes yet." not in page  # blind: hidden until voting
    assert "0 votes so far" in page


@pytest.mark.django_db
def test_editor_edits_title_and_summary_and_the_original_stays(editor, editor_client, member):
    submission = submission_create(
        author=member, url="https://example.org/p", kind="blog", title="my post", summary="my words"
    )
    response = editor_client.post(
        review_url(submission),
        {
            "title": "A clear title",
            "kind": "paper",
            "summary": "Tidy **summary**.",
            "_continue": "1",
        },
    )
    assert response.status_code == 302
    submission.refresh_from_db()
    assert (submission.title, submission.kind, submission.original_title) == (
        "A clear title",
        "paper",
        "my post",
    )
    page = text(editor_client.get(review_url(submission)))
    assert "Original title: my post" in page
    assert "Original summary: my words" in page
    assert "Changed kind, summary, title (the submitter's original text is kept)" in page
    assert editor.public_name in page


@pytest.mark.django_db
def test_decided_submissions_are_read_only(editor_client):
    rejected = SubmissionFactory(state=State.REJECTED, reject_reason="detail", title="Before")
    response = editor_client.post(
        review_url(rejected), {"title": "After", "kind": "blog", "summary": ""}
    )
    assert response.status_code == 403
    rejected.refresh_from_db()
    assert rejected.title == "Before"
    page = text(editor_client.get(review_url(rejected)))
    assert "Reopen for review" in page
    assert "Votes are closed: the submission is rejected." in page


@pytest.mark.django_db
def test_reject_by_hand_needs_a_reason(editor_client):
    submission = SubmissionFactory()
    response = editor_client.post(decide_url(submission), {"decision": "reject", "reason": ""})
    assert messages_after(editor_client, response) == [
        "Nothing was changed: Choose a reason for the rejection; the submitter will see it."
    ]
    submission.refresh_from_db()
    assert submission.state == State.PENDING


@pytest.mark.django_db
def test_accept_then_reopen_by_hand(editor, editor_client):
    submission = SubmissionFactory(title="Sparse attention")
    response = editor_client.post(decide_url(submission), {"decision": "accept"})
    assert response["Location"] == review_url(submission)
    assert messages_after(editor_client, response) == [
        "“Sparse attention” is accepted; the submitter gets an email."
    ]
    response = editor_client.post(decide_url(submission), {"decision": "accept"})
    assert messages_after(editor_client, response) == ["“Sparse attention” is already accepted."]
    response = editor_client.post(decide_url(submission), {"decision": "reopen"})
    assert messages_after(editor_client, response) == [
        "“Sparse attention” is back in the review queue."
    ]
    submission.refresh_from_db()
    assert submission.state == State.PENDING
    page = text(editor_client.get(review_url(submission)))
    assert "Changed state (pending → accepted) — Accepted by hand" in page
    assert "Changed state (accepted → pending) — Reopened for review" in page


# --- Bulk decisions ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_bulk_accept_from_the_queue(editor_client, django_capture_on_commit_callbacks):
    chosen = SubmissionFactory.create_batch(3)
    withdrawn = SubmissionFactory(state=State.WITHDRAWN, title="Gone")
    left = SubmissionFactory()
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(
            f"{QUEUE}?state=all",
            {
                "action": "accept_selected",
                "index": "0",
                "_selected_action": [s.pk for s in chosen] + [withdrawn.pk],
            },
        )
    assert response.status_code == 302
    assert messages_after(editor_client, response) == [
        "3 submissions accepted; the submitters get an email.",
        "“Gone” was not changed: A withdrawn submission cannot become accepted.",
    ]
    assert set(Submission.objects.filter(state=State.ACCEPTED)) == set(chosen)
    left.refresh_from_db()
    assert left.state == State.PENDING
    assert sorted(m.to[0] for m in mail.outbox) == sorted(s.author.email for s in chosen)


@pytest.mark.django_db
def test_bulk_reject_asks_for_the_reason_first(editor_client, django_capture_on_commit_callbacks):
    chosen = [SubmissionFactory(title="First"), SubmissionFactory(title="Second")]
    data = {"action": "reject_selected", "index": "0", "_selected_action": [s.pk for s in chosen]}
    page = editor_client.post(QUEUE, data)
    assert page.status_code == 200
    assert "Reject 2 submissions. Each submitter gets an email" in text(page)
    assert "First" in text(page) and "Second" in text(page)
    # Without a reason: the page again, with the error, and nothing changed.
    again = editor_client.post(QUEUE, {**data, "apply": "1", "reason": ""})
    assert again.status_code == 200
    assert "Please correct the errors below." in text(again)
    assert not Submission.objects.exclude(state=State.PENDING).exists()
    with django_capture_on_commit_callbacks(execute=True):
        done = editor_client.post(
            QUEUE, {**data, "apply": "1", "reason": "covered", "note": "In issue #3."}
        )
    assert done.status_code == 302
    assert messages_after(editor_client, done) == [
        "2 submissions rejected; the submitters get an email."
    ]
    assert list(
        Submission.objects.order_by()
        .values_list("state", "reject_reason", "reject_note")
        .distinct()
    ) == [("rejected", "covered", "In issue #3.")]
    assert len(mail.outbox) == 2


# --- What the submitter sees ---------------------------------------------------------------------


@pytest.mark.django_db
def test_reject_reason_reaches_my_submissions_and_the_inbox(
    editor, member, member_client, django_capture_on_commit_callbacks
):
    submission = SubmissionFactory(author=member, title="Yet another LLM list")
    with django_capture_on_commit_callbacks(execute=True):
        client_for(editor).post(
            decide_url(submission),
            {"decision": "reject", "reason": "covered", "note": "We featured it in issue #3."},
        )
    listing = text(member_client.get(reverse("portal:submission-list")))
    assert "Reason: Already covered in an earlier issue — We featured it in issue #3." in listing
    detail = text(member_client.get(submission.get_absolute_url()))
    assert (
        "Not included. Reason: Already covered in an earlier issue — We featured it in issue #3."
        in detail
    )
    [message] = mail.outbox
    assert message.to == [member.email]
    assert "Reason: Already covered in an earlier issue" in message.body
    assert "We featured it in issue #3." in message.body


@pytest.mark.django_db
def test_members_see_only_their_own_submissions(member_client, member):
    mine = SubmissionFactory(author=member, title="Mine")
    theirs = SubmissionFactory(title="Theirs")
    listing = text(member_client.get(reverse("portal:submission-list")))
    assert "Mine" in listing and "Theirs" not in listing
    assert member_client.get(theirs.get_absolute_url()).status_code == 404
    assert member_client.get(mine.get_absolute_url()).status_code == 200


# --- The activity log ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_activity_log_tells_the_story(
    editor, editor_client, member, django_capture_on_commit_callbacks
):
    submission = submission_create(
        author=member, url="https://example.org/q", kind="blog", title="Quantization", summary="S"
    )
    editor_client.post(vote_url(submission), {"value": "1", "comment": "Good"})
    editor_client.post(
        review_url(submission), {"title": "Quantization, explained", "kind": "blog", "summary": "S"}
    )
    with django_capture_on_commit_callbacks(execute=True):
        editor_client.post(decide_url(submission), {"decision": "accept"})
    staff_page = text(client_for(UserFactory(is_staff=True)).get(review_url(submission)))
    log = staff_page[staff_page.index("Activity When Who What") :]
    name = editor.public_name
    for line in (
        f"{member.public_name} Submitted",
        f"{name} Voted — Voted for: Good",
        f"{name} Edited — Changed title (the submitter's original text is kept)",
        f"{name} Changed state (pending → accepted) — Accepted by hand",
        "The system Emailed the submitter — Emailed the submitter: accepted",
    ):
        assert line in log
    assert Activity.objects.filter(submission=submission).count() == 5


# --- In a browser: voting without a page reload ---------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_queue_vote_updates_the_row_without_a_page_reload(open_tab):  # noqa: F811 (the fixture)
    from playwright.sync_api import expect

    # After an earlier transactional test, the migration's Editors group is not always
    # restored for a browser test; the queue needs only the group's name.
    Group.objects.get_or_create(name="Editors")
    editor, other = EditorFactory(), EditorFactory()
    submission = SubmissionFactory(title="Sparse attention")
    vote_cast(submission=submission, editor=other, value=1, comment="Good")
    tab = open_tab("review-queue", user=editor)
    page = tab.page
    tab.go(QUEUE)
    page.evaluate("window.stillTheSamePage = true")
    row = page.locator("#result_list tr", has_text="Sparse attention")
    expect(row).to_contain_text("1 vote · hidden until you vote")
    tab.shot("01-queue")

    row.get_by_label("Comment with your vote").fill("Seen it before")
    row.get_by_role("button", name="Against").click()
    expect(page.locator("#review-live")).to_have_text("Your vote on “Sparse attention”: against.")
    expect(row).to_contain_text("1 for / 1 against / 0 abstain · net +0")
    expect(row.get_by_role("button", name="Against")).to_have_attribute("aria-pressed", "true")
    expect(row.get_by_role("button", name="Against")).to_be_focused()
    assert page.evaluate("window.stillTheSamePage") is True
    assert Vote.objects.get(editor=editor).comment == "Seen it before"
    tab.shot("02-queue-voted")

    tab.go(review_url(submission))
    expect(page.locator(".review-votes")).to_contain_text("Good")
    tab.shot("03-review-page")
    assert tab.collect_csp() == []
    assert tab.errors == []


# --- Summaries, +1s, fetched details, "Next unreviewed" ------------------------------------------


@pytest.mark.django_db
def test_queue_shows_a_short_sanitised_summary_and_the_plus_ones(editor_client, member):
    submission = submission_create(
        author=member,
        url="https://example.org/s",
        kind="blog",
        title="Sparse",
        summary="Prunes **half** the weights <script>alert(1)</script>" + " and more" * 40,
    )
    fans = UserFactory.create_batch(2)
    endorsement_create(submission=submission, member=fans[0], reason="Cut our bill in half")
    endorsement_create(submission=submission, member=fans[1])
    response = editor_client.get(QUEUE)
    page = text(response)
    assert "Prunes half the weights" in page
    assert "<script>alert(1)</script>" not in response.content.decode()
    assert "and more" * 40 not in page.replace(" and more", "and more")  # cut short
    assert "+2 from members" in page
    assert f"{fans[0].public_name}: “Cut our bill in half”" in page
    review = text(editor_client.get(review_url(submission)))
    assert "Members who want it in too +2" in review
    assert "Cut our bill in half" in review
    assert "(no reason given)" in review


@pytest.mark.django_db
def test_queue_query_count_does_not_grow_with_plus_ones(client, django_assert_num_queries):
    editor = EditorFactory()
    client.force_login(editor)
    fans = UserFactory.create_batch(3)

    def add(count):
        for _ in range(count):
            submission = SubmissionFactory()
            for fan in fans:
                endorsement_create(submission=submission, member=fan, reason="Yes please")

    add(1)
    client.get(QUEUE)
    with CaptureQueriesContext(connection) as one_row:
        client.get(QUEUE)
    add(29)
    with django_assert_num_queries(len(one_row)):
        response = client.get(QUEUE)
    assert text(response).count("+3 from members") == 30


def test_metadata_is_shown_as_labelled_fields_not_a_raw_dict():
    fields = metadata_fields(
        {
            "title": "ggerganov/llama.cpp",
            "summary": "",
            "authors": ["ggerganov"],
            "source": "github",
            "url": "https://github.com/ggerganov/llama.cpp",
            "extra": {
                "stars": 61234,
                "licence": "MIT",
                "language": "C++",
                "forks": None,
                "topics": ["llm", "ggml"],
                "archived": False,
                "homepage": None,
                "full_name": "ggerganov/llama.cpp",
            },
        }
    )
    assert fields == [
        ("Title", "ggerganov/llama.cpp"),
        ("Authors", "ggerganov"),
        ("Found on", "GitHub"),
        ("Stars", "61,234"),
        ("Licence", "MIT"),
        ("Language", "C++"),
        ("Topics", "llm, ggml"),
        ("Canonical address", "https://github.com/ggerganov/llama.cpp"),
    ]


@pytest.mark.django_db
def test_review_page_shows_github_details_as_fields(editor_client, member):
    submission = SubmissionFactory(author=member)
    submission_apply_metadata(
        submission=submission,
        metadata={"title": "x/y", "source": "github", "extra": {"stars": 1200, "licence": "MIT"}},
    )
    page = text(editor_client.get(review_url(submission)))
    assert "Stars 1,200" in page
    assert "Licence MIT" in page
    assert "{" not in page.split("Fetched details", 1)[1].split("Votes", 1)[0]


@pytest.mark.django_db
def test_next_unreviewed_is_the_oldest_pending_one_i_have_not_voted_on(editor, editor_client):
    now = timezone.now()
    voted = SubmissionFactory(created_at=now - timedelta(days=5))
    VoteFactory(submission=voted, editor=editor, value=1)
    SubmissionFactory(author=editor, created_at=now - timedelta(days=4))  # my own
    SubmissionFactory(
        created_at=now - timedelta(days=3),
        state=State.REJECTED,
        reject_reason="other",
    )
    oldest = SubmissionFactory(created_at=now - timedelta(days=2))
    newer = SubmissionFactory(created_at=now - timedelta(days=1))
    # A vote cast before the submitter's edit does not count as reviewed.
    VoteFactory(submission=newer, editor=editor, value=1, stale=True)
    next_url = reverse("admin:newsletter_submission_next")
    assert f'href="{next_url}?after={voted.pk}"' in (
        editor_client.get(review_url(voted)).content.decode()
    )
    response = editor_client.get(next_url, {"after": voted.pk})
    assert response["Location"] == review_url(oldest)
    response = editor_client.get(next_url, {"after": oldest.pk})
    assert response["Location"] == review_url(newer)
    VoteFactory(submission=oldest, editor=editor, value=1)
    Vote.objects.filter(submission=newer, editor=editor).update(stale=False)
    response = editor_client.get(next_url, {"after": "nonsense"})
    assert messages_after(editor_client, response) == [
        "Nothing left to review: you have voted on every waiting submission."
    ]


@pytest.mark.django_db
def test_next_unreviewed_is_for_staff_only(member_client):
    response = member_client.get(reverse("admin:newsletter_submission_next"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


@pytest.mark.django_db
def test_sent_back_submission_is_in_the_queue_again_for_every_editor(editor_client, editor, member):
    submission = SubmissionFactory(author=member, title="Back again")
    VoteFactory(submission=submission, editor=editor, value=-1)
    submission_decide(
        submission=submission, actor=EditorFactory(), to_state=State.REJECTED, reason="detail"
    )
    assert "Back again" not in text(editor_client.get(QUEUE))
    submission_resubmit(submission=submission, actor=member, summary="More detail now.")
    page = text(editor_client.get(f"{QUEUE}?my_vote=none"))
    assert "Back again" in page


@pytest.mark.django_db
def test_queue_counts_the_filtered_rows_only_not_the_whole_table(editor_client):
    SubmissionFactory.create_batch(2)
    with CaptureQueriesContext(connection) as queries:
        response = editor_client.get(QUEUE)

    assert len(rows(response)) == 2
    counts = [q["sql"] for q in queries if "COUNT(*) AS" in q["sql"]]
    assert counts, "the queue pages by the filtered count"
    assert all("WHERE" in sql for sql in counts), counts


@pytest.mark.django_db
def test_review_page_query_count_does_not_grow_with_plus_ones(client, django_assert_num_queries):
    editor = EditorFactory()
    client.force_login(editor)
    submission = SubmissionFactory()
    endorsement_create(submission=submission, member=UserFactory(), reason="One")
    client.get(review_url(submission))
    with CaptureQueriesContext(connection) as one:
        assert client.get(review_url(submission)).status_code == 200
    for fan in UserFactory.create_batch(3):
        endorsement_create(submission=submission, member=fan, reason="More")
    with django_assert_num_queries(len(one)):
        response = client.get(review_url(submission))
    assert "Members who want it in too +4" in text(response)
