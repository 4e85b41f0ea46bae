"""Submissions' state machine, editorial votes and the acceptance rule (newsletter.services)."""

import threading

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction

from newsletter import services
from newsletter.models import Activity, Notification, Submission, Vote
from tests.factories import EditorFactory, SubmissionFactory, UserFactory, VoteFactory

State = Submission.State


def state_log(submission):
    return list(
        submission.activity.filter(action=Activity.Action.STATE).values_list(
            "from_state", "to_state", "actor_id", "detail"
        )
    )


# --- The transition function -----------------------------------------------------------------


@pytest.mark.django_db
def test_transition_records_who_when_from_and_to_and_emails_after_commit(
    editor, django_capture_on_commit_callbacks
):
    submission = SubmissionFactory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.submission_transition(submission=submission, to_state=State.ACCEPTED, actor=editor)
        # Nothing is emailed before the transaction commits.
        assert mail.outbox == []
    for callback in callbacks:
        callback()
    submission.refresh_from_db()
    assert submission.state == State.ACCEPTED
    assert submission.decided_by == editor
    assert state_log(submission) == [("pending", "accepted", editor.pk, "")]
    assert [m.to for m in mail.outbox] == [[submission.author.email]]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("from_state", "to_state"),
    [
        (State.REJECTED, State.PUBLISHED),
        (State.WITHDRAWN, State.ACCEPTED),
        (State.WITHDRAWN, State.PENDING),
        (State.PUBLISHED, State.REJECTED),
        (State.PENDING, State.PUBLISHED),
    ],
)
def test_transition_refuses_illegal_moves_and_changes_nothing(editor, from_state, to_state):
    submission = SubmissionFactory(
        state=from_state, reject_reason="other" if from_state == State.REJECTED else ""
    )
    with pytest.raises(services.IllegalTransition):
        services.submission_transition(
            submission=submission, to_state=to_state, actor=editor, reason="other"
        )
    submission.refresh_from_db()
    assert submission.state == from_state
    assert state_log(submission) == []
    assert not Notification.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("reason", "note"), [("", ""), ("not-a-reason", ""), ("other", "x" * 1001)]
)
def test_reject_needs_a_standard_reason_and_a_short_note(editor, reason, note):
    submission = SubmissionFactory()
    with pytest.raises(ValidationError):
        services.submission_transition(
            submission=submission, to_state=State.REJECTED, actor=editor, reason=reason, note=note
        )
    submission.refresh_from_db()
    assert submission.state == State.PENDING


@pytest.mark.django_db
def test_reopening_a_rejected_link_submitted_again_is_refused_clearly(editor):
    rejected = SubmissionFactory(state=State.REJECTED, reject_reason="detail")
    SubmissionFactory(url=rejected.url, canonical_key=rejected.canonical_key)
    with pytest.raises(services.IllegalTransition, match="submitted again"):
        services.submission_transition(submission=rejected, to_state=State.PENDING, actor=editor)
    rejected.refresh_from_db()
    assert rejected.state == State.REJECTED


@pytest.mark.django_db
def test_reopen_clears_the_decision_and_a_second_reject_does_not_email_again(
    editor, django_capture_on_commit_callbacks
):
    submission = SubmissionFactory()
    with django_capture_on_commit_callbacks(execute=True):
        services.submission_decide(
            submission=submission, actor=editor, to_state=State.REJECTED, reason="detail"
        )
    services.submission_decide(submission=submission, actor=editor, to_state=State.PENDING)
    submission.refresh_from_db()
    assert (submission.state, submission.decided_by, submission.reject_reason) == (
        State.PENDING,
        None,
        "",
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.submission_decide(
            submission=submission, actor=editor, to_state=State.REJECTED, reason="covered"
        )
    assert len(mail.outbox) == 1


# --- Deciding by hand ------------------------------------------------------------------------


@pytest.mark.django_db
def test_decide_is_for_editors_and_superusers_not_staff_or_members(editor):
    staff = UserFactory(is_staff=True)
    superuser = UserFactory(is_staff=True, is_superuser=True)
    for refused in (UserFactory(), staff):
        submission = SubmissionFactory()
        with pytest.raises(PermissionDenied):
            services.submission_decide(
                submission=submission, actor=refused, to_state=State.ACCEPTED
            )
        submission.refresh_from_db()
        assert submission.state == State.PENDING
    for allowed in (editor, superuser):
        submission = services.submission_decide(
            submission=SubmissionFactory(), actor=allowed, to_state=State.ACCEPTED
        )
        assert submission.state == State.ACCEPTED
        assert submission.decided_by == allowed


@pytest.mark.django_db
def test_an_editor_does_not_decide_their_own_submission(editor):
    own = SubmissionFactory(author=editor)
    with pytest.raises(PermissionDenied, match="another editor decides"):
        services.submission_decide(submission=own, actor=editor, to_state=State.ACCEPTED)


@pytest.mark.django_db
def test_bulk_decide_reports_what_it_could_not_do(editor):
    pending = SubmissionFactory.create_batch(2)
    withdrawn = SubmissionFactory(state=State.WITHDRAWN)
    own = SubmissionFactory(author=editor)
    done, refused = services.submissions_decide(
        submissions=[*pending, withdrawn, own], actor=editor, to_state=State.ACCEPTED
    )
    assert [s.pk for s in done] == [s.pk for s in pending]
    assert [(s.pk, m) for s, m in refused] == [
        (withdrawn.pk, "A withdrawn submission cannot become accepted."),
        (own.pk, "You submitted this one; another editor decides on it."),
    ]
    assert set(Submission.objects.values_list("state", flat=True)) == {
        State.ACCEPTED,
        State.WITHDRAWN,
        State.PENDING,
    }


# --- Editors' edits --------------------------------------------------------------------------


@pytest.mark.django_db
def test_editor_edit_keeps_the_submitters_original_and_is_recorded(editor, member):
    submission = services.submission_create(
        author=member,
        url="https://example.org/post",
        kind="blog",
        title="my post about stuff",
        summary="it is *good*",
    )
    services.submission_update(
        submission=submission,
        actor=editor,
        title="Sparse attention on one GPU",
        summary="Halves the memory of **long-context** inference.",
    )
    submission.refresh_from_db()
    assert submission.title == "Sparse attention on one GPU"
    assert "<strong>long-context</strong>" in submission.summary_html
    assert (submission.original_title, submission.original_summary) == (
        "my post about stuff",
        "it is *good*",
    )
    edit = submission.activity.get(action=Activity.Action.EDITED)
    assert edit.actor == editor
    assert edit.detail == "Changed summary, title (the submitter's original text is kept)"


@pytest.mark.django_db
def test_staff_who_are_not_editors_cannot_edit():
    submission = SubmissionFactory()
    with pytest.raises(PermissionDenied):
        services.submission_update(
            submission=submission, actor=UserFactory(is_staff=True), title="Changed"
        )


# --- Votes -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_vote_refused_on_own_submission_for_non_editors_and_after_the_decision(editor):
    with pytest.raises(PermissionDenied, match="your own submission"):
        services.vote_cast(submission=SubmissionFactory(author=editor), editor=editor, value=1)
    with pytest.raises(PermissionDenied, match="Only editors"):
        services.vote_cast(
            submission=SubmissionFactory(), editor=UserFactory(is_staff=True), value=1
        )
    with pytest.raises(PermissionDenied, match="Only editors"):
        services.vote_cast(
            submission=SubmissionFactory(),
            editor=UserFactory(is_staff=True, is_superuser=True),
            value=1,
        )
    with pytest.raises(ValidationError, match="votes are closed"):
        services.vote_cast(
            submission=SubmissionFactory(state=State.ACCEPTED), editor=editor, value=1
        )
    with pytest.raises(ValidationError, match="for, against or abstain"):
        services.vote_cast(submission=SubmissionFactory(), editor=editor, value=2)
    assert not Vote.objects.exists()


@pytest.mark.django_db
def test_one_vote_per_editor_is_a_database_constraint(editor):
    vote = VoteFactory(editor=editor)
    with pytest.raises(IntegrityError), transaction.atomic():
        Vote.objects.create(submission=vote.submission, editor=editor, value=-1)


@pytest.mark.django_db
def test_changed_vote_replaces_the_first_and_keeps_or_replaces_the_comment(editor):
    submission = SubmissionFactory()
    services.vote_cast(submission=submission, editor=editor, value=-1, comment="Seen it before")
    services.vote_cast(submission=submission, editor=editor, value=0)
    vote = Vote.objects.get()
    assert (vote.value, vote.comment) == (0, "Seen it before")
    services.vote_cast(submission=submission, editor=editor, value=0, comment="")
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
        services.vote_cast(submission=submission, editor=editor, value=value)
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
    assert services.vote_tally(submission) == {"yes": 2, "no": 1, "abstain": 0, "net": 1}


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
    services.vote_cast(submission=submission, editor=against, value=1)
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
            lambda s=submission: services.vote_cast(submission=s, editor=editor, value=1),
            lambda s=submission: services.vote_cast(submission=s, editor=editor, value=-1),
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
        lambda: services.vote_cast(submission=submission, editor=first, value=1),
        lambda: services.vote_cast(submission=submission, editor=second, value=1),
    )
    assert errors == []
    submission.refresh_from_db()
    assert submission.state == State.ACCEPTED
    assert len(state_log(submission)) == 1
    assert Notification.objects.filter(submission=submission).count() == 1
    assert len(mail.outbox) == 1
