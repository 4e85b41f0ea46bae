"""/review and its buttons: editors vote from Discord through the vote service."""

from datetime import timedelta

import pytest
from django.utils import timezone

from newsletter.models import Submission, Vote
from tests.factories import EditorFactory, SubmissionFactory, VoteFactory
from tests.stubs.discord_apps import discord_user, link_account

pytestmark = pytest.mark.django_db


def _oldest_first(*titles):
    now = timezone.now()
    return [
        SubmissionFactory(title=title, created_at=now - timedelta(hours=len(titles) - i))
        for i, title in enumerate(titles)
    ]


def _buttons(answer):
    return [b["custom_id"] for b in answer["data"]["components"][0]["components"]]


def test_review_shows_the_oldest_unvoted_submission_with_buttons(discord_app, editor):
    first, second = _oldest_first("First", "Second")
    VoteFactory(submission=first, editor=editor)
    who = discord_user(link_account(editor))
    answer = discord_app.command("review", user=who).json()
    assert answer["type"] == 4
    assert answer["data"]["flags"] == 64
    assert answer["data"]["allowed_mentions"] == {"parse": []}
    content = answer["data"]["content"]
    assert "**Second**" in content and second.url in content
    assert "Accepted by itself with 2 votes for and none against" in content
    assert "Blind review" in content
    assert _buttons(answer) == [
        f"review:for:{second.pk}",
        f"review:against:{second.pk}",
        f"review:skip:{second.pk}",
    ]


def test_without_blind_review_the_tally_shows(discord_app, editor, settings):
    (submission,) = _oldest_first("Open")
    VoteFactory(submission=submission, editor=EditorFactory(), value=Vote.Value.AGAINST)
    who = discord_user(link_account(editor))
    hidden = discord_app.command("review", user=who).json()["data"]["content"]
    assert "Votes so far" not in hidden
    settings.NEWSLETTER_BLIND_REVIEW = False
    shown = discord_app.command("review", user=who).json()["data"]["content"]
    assert "Votes so far: 0 for, 1 against." in shown


def test_review_warns_of_duplicates(discord_app, editor):
    (submission,) = _oldest_first("Same")
    SubmissionFactory(title="same", state=Submission.State.REJECTED, reject_reason="other")
    who = discord_user(link_account(editor))
    content = discord_app.command("review", user=who).json()["data"]["content"]
    assert "Possible duplicate: 1 other with the same title" in content


def test_an_editor_votes_through_the_buttons(discord_app, editor):
    first, second = _oldest_first("First", "Second")
    who = discord_user(link_account(editor))
    answer = discord_app.press(f"review:for:{first.pk}", user=who).json()
    assert Vote.objects.get(submission=first, editor=editor).value == Vote.Value.FOR
    assert answer["type"] == 7
    assert answer["data"]["content"].startswith("Voted for.\n**Second**")
    answer = discord_app.press(f"review:against:{second.pk}", user=who).json()
    assert Vote.objects.get(submission=second, editor=editor).value == Vote.Value.AGAINST
    assert "Nothing left to review" in answer["data"]["content"]


def test_the_second_vote_for_accepts(discord_app, editor):
    (submission,) = _oldest_first("Good")
    VoteFactory(submission=submission, editor=EditorFactory())
    who = discord_user(link_account(editor))
    answer = discord_app.press(f"review:for:{submission.pk}", user=who).json()
    submission.refresh_from_db()
    assert submission.state == Submission.State.ACCEPTED
    assert "It is now accepted." in answer["data"]["content"]


def test_skip_shows_the_next_without_voting(discord_app, editor):
    first, second = _oldest_first("First", "Second")
    who = discord_user(link_account(editor))
    answer = discord_app.press(f"review:skip:{first.pk}", user=who).json()
    assert not Vote.objects.exists()
    assert "**Second**" in answer["data"]["content"]


def test_an_editor_cannot_vote_on_their_own_submission(discord_app, editor):
    own = SubmissionFactory(author=editor)
    who = discord_user(link_account(editor))
    assert "Nothing left" in discord_app.command("review", user=who).json()["data"]["content"]
    answer = discord_app.press(f"review:for:{own.pk}", user=who).json()
    assert "cannot vote on your own submission" in answer["data"]["content"]
    assert not Vote.objects.exists()


def test_a_decided_submission_closes_its_votes(discord_app, editor):
    decided = SubmissionFactory(state=Submission.State.ACCEPTED)
    who = discord_user(link_account(editor))
    answer = discord_app.press(f"review:against:{decided.pk}", user=who).json()
    assert "votes are closed" in answer["data"]["content"]
    assert not Vote.objects.exists()


def test_a_non_editor_is_refused(discord_app, member):
    submission = SubmissionFactory()
    who = discord_user(link_account(member))
    for answer in (
        discord_app.command("review", user=who).json(),
        discord_app.press(f"review:for:{submission.pk}", user=who).json(),
        discord_app.command("review").json(),  # no linked account at all
    ):
        assert answer["type"] == 4 and answer["data"]["flags"] == 64
        assert answer["data"]["content"].startswith("Only editors can review")
    assert not Vote.objects.exists()


@pytest.mark.parametrize("action", ["command", "button"])
def test_review_queries_do_not_grow_with_the_queue(
    discord_app, editor, action, django_assert_max_num_queries
):
    """The same number of queries with 2 or 30 pending submissions (and their votes)."""
    who = discord_user(link_account(editor))
    counts = []
    for rows in (2, 30):
        Submission.objects.all().delete()
        submissions = _oldest_first(*[f"Item {n}" for n in range(rows)])
        for submission in submissions:
            VoteFactory(submission=submission, editor=EditorFactory())
        with django_assert_max_num_queries(100) as captured:
            if action == "command":
                discord_app.command("review", user=who)
            else:
                discord_app.press(f"review:skip:{submissions[0].pk}", user=who)
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1]
