"""Editorial votes and the acceptance rule (newsletter.services.votes)."""

import threading

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction

from newsletter.models import Activity, Notification, Submission, Vote
from newsletter.services.submissions import submission_update
from newsletter.services.votes import vote_cast, vote_tally
from tests.factories import EditorFactory, SubmissionFactory, UserFactory, VoteFactory

State = Submission.State


def state_log(submission):
    return list(
        submission.activity.filter(action=Activity.Action.STATE).values_list(
            "from_state", "to_state", "actor_id", "detail"
        )
    )


@pytest.mark.django_db
def test_vote_refused_on_own_submission_for_non_editors_and_after_the_decision(editor):
    with pytest.raises(PermissionDenied, match="your own submission"):
        vote_cast(submission=SubmissionFactory(author=editor), editor=editor, value=1)
    with pytest.raises(PermissionDenied, match="Only editors"):
        vote_cast(submission=SubmissionFactory(), editor=UserFactory(is_staff=True), value=1)
    with pytest.raises(PermissionDenied, match="Only editors"):
        vote_cast(
            submission=SubmissionFactory(),
            editor=UserFactory(is_staff=True, is_superuser=True),
            value=1,
        )
    with pytest.raises(ValidationError, match="votes are closed"):
        vote_cast(submission=SubmissionFactory(state=State.ACCEPTED), editor=editor, value=1)
    with pytest.raises(ValidationError, match="for, against or abstain"):
        vote_cast(submission=SubmissionFactory(), editor=editor, value=2)
    assert not Vote.objects.exists()


@pytest.mark.django_db
def test_one_vote_per_editor_is_a_database_constraint(editor):
    vote = VoteFactory(editor=editor)
    with pytest.raises(IntegrityError), transaction.atomic():
        Vote.objects.create(submission=vote.submission, editor=editor, value=-1)


@pytest.mark.django_db
def test_changed_vote_replaces_the_first_and_keeps_or_replaces_the_comment(editor):
    submission = SubmissionFactory()
    vote_cast(submission=submission, editor=editor, value=-1, comment="Seen it before")
    vote_cast(submission=submission, editor=editor, value=0)
    vote = Vote.objects.get()
    assert (vote.value, vote.comment) == (0, "Seen it before")
    vote_cast(submission=submission, editor=editor, value=0, comment="")
    assert Vote.objects.get().comment == ""
    assert list(
        submission.activity.filter(action=Activity.Action.VOTED).values_list("detail", flat=True)
    ) == [
        "Voted against: Seen it before",
        "Changed vote from against to abstain",
        "Changed the comment of a vote abstain",
    ]


# --- The acceptance rule ---------------------------------------------------------------------


def _votes(submission, *values):
    editors = []
    for value in values:
        editor = EditorFactory()
        vote_cast(submission=submission, editor=editor, value=value)
        editors.append(editor)
    submission.refresh_from_db()
    return editors


@pytest.mark.django_db
def test_rule_accepts_with_enough_for_and_none_against_recorded_as_automatic(
    settings, django_capture_on_commit_callbacks
):
    settings.NEWSLETTER_VOTES_TO_ACCEPT = 2
    submission = SubmissionFactory()
    _votes(submission, 1)
    assert submission.state == State.PENDING
    with django_capture_on_commit_callbacks(execute=True):
        _votes(submission, 1)
    assert submission.state == State.ACCEPTED
    assert submission.decided_by is None
    [(from_state, to_state, actor, detail)] = state_log(submission)
    assert (from_state, to_state, actor) == ("pending", "accepted", None)
    assert detail.startswith("Automatic: accepted by the vote rule, 2 for and none against")
    assert [m.subject for m in mail.outbox] == [f"Accepted: {submission.title}"]


@pytest.mark.django_db
def test_rule_tie_is_not_accepted(settings):
    settings.NEWSLETTER_VOTES_TO_ACCEPT = 2
    submission = SubmissionFactory()
    _votes(submission, 1, -1, 1)
    assert submission.state == State.PENDING
    assert vote_tally(submission) == {"yes": 2, "no": 1, "abstain": 0, "net": 1}


@pytest.mark.django_db
def test_rule_single_against_blocks_any_number_for(settings):
    settings.NEWSLETTER_VOTES_TO_ACCEPT = 2
    submission = SubmissionFactory()
    _votes(submission, -1, 1, 1, 1, 1)
    assert submission.state == State.PENDING


@pytest.mark.django_db
def test_rule_abstentions_do_not_count(settings):
    settings.NEWSLETTER_VOTES_TO_ACCEPT = 2
    submission = SubmissionFactory()
    _votes(submission, 1, 0, 0)
    assert submission.state == State.PENDING


@pytest.mark.django_db
def test_rule_a_vote_changed_from_against_to_for_accepts(settings):
    settings.NEWSLETTER_VOTES_TO_ACCEPT = 2
    submission = SubmissionFactory()
    _for, against = _votes(submission, 1, -1)
    assert submission.state == State.PENDING
    vote_cast(submission=submission, editor=against, value=1)
    submission.refresh_from_db()
    assert submission.state == State.ACCEPTED
    details = list(submission.activity.values_list("action", "detail"))
    assert details[-2] == ("voted", "Changed vote from against to for")
    assert details[-1][1].startswith("Automatic: accepted by the vote rule")


@pytest.mark.django_db
def test_rule_threshold_comes_from_the_setting(settings):
    settings.NEWSLETTER_VOTES_TO_ACCEPT = 3
    submission = SubmissionFactory()
    _votes(submission, 1, 1)
    assert submission.state == State.PENDING
    _votes(submission, 1)
    assert submission.state == State.ACCEPTED


# --- Concurrency (PostgreSQL) ----------------------------------------------------------------


def _run_together(*targets):
    """Start the targets at the same moment, each in a thread with its own connection."""
    barrier = threading.Barrier(len(targets))
    errors = []

    def run(target):
        try:
            barrier.wait(timeout=10)
            target()
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_votes_of_one_editor_leave_one_vote():
    editor = EditorFactory()
    for _ in range(5):
        submission = SubmissionFactory()
        errors = _run_together(
            lambda s=submission: vote_cast(submission=s, editor=editor, value=1),
            lambda s=submission: vote_cast(submission=s, editor=editor, value=-1),
        )
        assert errors == []
        assert Vote.objects.filter(submission=submission, editor=editor).count() == 1
        assert submission.activity.filter(action=Activity.Action.VOTED).count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_last_two_votes_arriving_together_accept_once(settings):
    settings.NEWSLETTER_VOTES_TO_ACCEPT = 2
    first, second = EditorFactory(), EditorFactory()
    submission = SubmissionFactory()
    errors = _run_together(
        lambda: vote_cast(submission=submission, editor=first, value=1),
        lambda: vote_cast(submission=submission, editor=second, value=1),
    )
    assert errors == []
    submission.refresh_from_db()
    assert submission.state == State.ACCEPTED
    assert len(state_log(submission)) == 1
    assert Notification.objects.filter(submission=submission).count() == 1
    assert len(mail.outbox) == 1


# --- Bait and switch: an edit after the first vote ------------------------------------------------


@pytest.mark.django_db
def test_votes_cast_before_the_submitter_changes_the_link_no_longer_count(settings):
    settings.NEWSLETTER_VOTES_TO_ACCEPT = 2
    first, second = EditorFactory(), EditorFactory()
    submission = SubmissionFactory(url="https://example.org/a-good-paper")
    vote_cast(submission=submission, editor=first, value=Vote.Value.FOR)

    submission_update(
        submission=submission, actor=submission.author, url="https://example.org/something-else"
    )
    vote_cast(submission=submission, editor=second, value=Vote.Value.FOR)

    submission.refresh_from_db()
    assert submission.state == State.PENDING  # one vote for the new link is not two
    assert vote_tally(submission) == {"yes": 1, "no": 0, "abstain": 0, "net": 1}
    assert Vote.objects.get(editor=first).stale
    edit = submission.activity.get(action=Activity.Action.EDITED)
    assert edit.changes == {
        "url": ["https://example.org/a-good-paper", "https://example.org/something-else"]
    }
    assert "the 1 vote cast before no longer count" in edit.detail

    # The first editor looks at the new link and votes again: now the rule is met.
    vote_cast(submission=submission, editor=first, value=Vote.Value.FOR)
    submission.refresh_from_db()
    assert submission.state == State.ACCEPTED
    assert not Vote.objects.filter(stale=True).exists()


@pytest.mark.django_db
def test_a_changed_summary_makes_votes_stale_but_a_new_title_or_an_editors_fix_does_not(settings):
    settings.NEWSLETTER_VOTES_TO_ACCEPT = 3
    editor = EditorFactory()
    submission = SubmissionFactory(summary="About pruning.")
    vote_cast(submission=submission, editor=editor, value=Vote.Value.FOR)

    submission_update(submission=submission, actor=submission.author, title="A clearer title")
    assert not Vote.objects.get(editor=editor).stale
    submission_update(submission=submission, actor=EditorFactory(), summary="About *pruning*.")
    assert not Vote.objects.get(editor=editor).stale

    submission_update(submission=submission, actor=submission.author, summary="About sparsity.")
    assert Vote.objects.get(editor=editor).stale
    assert vote_tally(submission)["yes"] == 0
    changes = submission.activity.filter(action=Activity.Action.EDITED).last().changes
    assert changes == {"summary": ["About *pruning*.", "About sparsity."]}


@pytest.mark.django_db
def test_the_review_page_shows_what_changed_and_which_votes_are_stale(client, settings):
    settings.NEWSLETTER_BLIND_REVIEW = False
    editor = EditorFactory()
    submission = SubmissionFactory(url="https://example.org/before")
    vote_cast(submission=submission, editor=EditorFactory(), value=Vote.Value.FOR)
    submission_update(
        submission=submission, actor=submission.author, url="https://example.org/after"
    )

    client.force_login(editor)
    page = client.get(f"/admin/newsletter/submission/{submission.pk}/change/").content.decode()

    assert "<del>https://example.org/before</del> → <ins>https://example.org/after</ins>" in page
    assert "cast before the submitter's edit; no longer counts" in page
    assert "0 for</span>" in page
