"""The submissions' state machine: transitions, decisions by hand, edits (newsletter.services.submissions)."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from newsletter.models import Activity, Notification, Submission
from newsletter.services.decisions import (
    submission_decide,
    submissions_decide,
)
from newsletter.services.submissions import (
    WITHDRAW_UNDO_SECONDS,
    IllegalTransition,
    submission_create,
    submission_resubmit,
    submission_transition,
    submission_update,
    submission_withdraw,
    submission_withdraw_undo,
    withdraw_undo_until,
)
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
        submission_transition(submission=submission, to_state=State.ACCEPTED, actor=editor)
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
    with pytest.raises(IllegalTransition):
        submission_transition(
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
        submission_transition(
            submission=submission, to_state=State.REJECTED, actor=editor, reason=reason, note=note
        )
    submission.refresh_from_db()
    assert submission.state == State.PENDING


@pytest.mark.django_db
def test_reopening_a_rejected_link_submitted_again_is_refused_clearly(editor):
    rejected = SubmissionFactory(state=State.REJECTED, reject_reason="detail")
    SubmissionFactory(url=rejected.url, canonical_key=rejected.canonical_key)
    with pytest.raises(IllegalTransition, match="submitted again"):
        submission_transition(submission=rejected, to_state=State.PENDING, actor=editor)
    rejected.refresh_from_db()
    assert rejected.state == State.REJECTED


@pytest.mark.django_db
def test_reopen_clears_the_decision_and_a_second_reject_emails_the_new_reason(
    editor, django_capture_on_commit_callbacks
):
    submission = SubmissionFactory()
    with django_capture_on_commit_callbacks(execute=True):
        submission_decide(
            submission=submission, actor=editor, to_state=State.REJECTED, reason="detail"
        )
    submission_decide(submission=submission, actor=editor, to_state=State.PENDING)
    submission.refresh_from_db()
    assert (submission.state, submission.decided_by, submission.reject_reason) == (
        State.PENDING,
        None,
        "",
    )
    with django_capture_on_commit_callbacks(execute=True):
        submission_decide(
            submission=submission, actor=editor, to_state=State.REJECTED, reason="covered"
        )
    # The outside review's finding: the second rejection, with its new reason, sent nothing
    # although the admin said it would. Each decision is emailed once.
    assert len(mail.outbox) == 2
    new_reason = Submission.RejectReason("covered").label
    assert new_reason in mail.outbox[1].body
    assert Notification.objects.filter(submission=submission).count() == 1


# --- Deciding by hand ------------------------------------------------------------------------


@pytest.mark.django_db
def test_decide_is_for_editors_and_superusers_not_staff_or_members(editor):
    staff = UserFactory(is_staff=True)
    superuser = UserFactory(is_staff=True, is_superuser=True)
    for refused in (UserFactory(), staff):
        submission = SubmissionFactory()
        with pytest.raises(PermissionDenied):
            submission_decide(submission=submission, actor=refused, to_state=State.ACCEPTED)
        submission.refresh_from_db()
        assert submission.state == State.PENDING
    for allowed in (editor, superuser):
        submission = submission_decide(
            submission=SubmissionFactory(), actor=allowed, to_state=State.ACCEPTED
        )
        assert submission.state == State.ACCEPTED
        assert submission.decided_by == allowed


@pytest.mark.django_db
def test_an_editor_does_not_decide_their_own_submission(editor):
    own = SubmissionFactory(author=editor)
    with pytest.raises(PermissionDenied, match="another editor decides"):
        submission_decide(submission=own, actor=editor, to_state=State.ACCEPTED)


@pytest.mark.django_db
def test_bulk_decide_reports_what_it_could_not_do(editor):
    pending = SubmissionFactory.create_batch(2)
    withdrawn = SubmissionFactory(state=State.WITHDRAWN)
    own = SubmissionFactory(author=editor)
    done, refused = submissions_decide(
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
    submission = submission_create(
        author=member,
        url="https://example.org/post",
        kind="blog",
        title="my post about stuff",
        summary="it is *good*",
    )
    submission_update(
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
        submission_update(submission=submission, actor=UserFactory(is_staff=True), title="Changed")


# --- Votes -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_titles_and_link_labels_lose_invisible_format_characters(member):
    submission = submission_create(
        author=member,
        url="https://example.org/bidi",
        kind="blog",
        title="Safe \u202egnp.exe\u202c title",
        extra_links=[("Co\u200bde", "https://example.org/code")],
    )
    assert submission.title == "Safe gnp.exe title"
    assert submission.extra_links.get().label == "Code"


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["https://example.org/a\nb", "https://example.org/a\tb"])
def test_a_link_with_a_line_break_or_tab_is_refused_by_the_service(member, bad):
    with pytest.raises(ValidationError, match="line breaks or tabs"):
        submission_create(author=member, url=bad, kind="blog", title="T")
    with pytest.raises(ValidationError, match="line breaks or tabs"):
        submission_create(
            author=member,
            url="https://example.org/fine",
            kind="blog",
            title="T",
            extra_links=[("Code", bad)],
        )
    assert not Submission.objects.exists()


# --- Withdrawing, and taking it back ---------------------------------------------------------


@pytest.mark.django_db
def test_withdraw_undo_restores_the_submission_as_it_was(member, other_member):
    submission = SubmissionFactory(author=member)
    vote = VoteFactory(submission=submission, value=1)
    submission_withdraw(submission=submission, actor=member)
    assert withdraw_undo_until(submission) is not None
    submission_withdraw_undo(submission=submission, actor=member)
    submission.refresh_from_db()
    assert submission.state == State.PENDING
    vote.refresh_from_db()
    assert vote.stale is False  # the vote still counts
    states = list(
        submission.activity.filter(action=Activity.Action.STATE).values_list(
            "from_state", "to_state", "detail"
        )
    )
    assert states == [
        ("pending", "withdrawn", ""),
        ("withdrawn", "pending", "The submitter undid the withdrawal"),
    ]


@pytest.mark.django_db
def test_withdraw_undo_after_the_minute_is_refused(member):
    submission = SubmissionFactory(author=member)
    submission_withdraw(submission=submission, actor=member)
    Submission.objects.filter(pk=submission.pk).update(
        state_changed_at=timezone.now() - timedelta(seconds=WITHDRAW_UNDO_SECONDS + 1)
    )
    submission.refresh_from_db()
    assert withdraw_undo_until(submission) is None
    with pytest.raises(IllegalTransition, match="for a minute only"):
        submission_withdraw_undo(submission=submission, actor=member)
    submission.refresh_from_db()
    assert submission.state == State.WITHDRAWN


@pytest.mark.django_db
def test_withdraw_undo_only_by_the_submitter_and_only_of_a_withdrawal(member, other_member):
    submission = SubmissionFactory(author=member)
    submission_withdraw(submission=submission, actor=member)
    with pytest.raises(PermissionDenied):
        submission_withdraw_undo(submission=submission, actor=other_member)
    pending = SubmissionFactory(author=member)
    with pytest.raises(IllegalTransition):
        submission_withdraw_undo(submission=pending, actor=member)
    # Editors cannot bring a withdrawn submission back either: only the submitter's undo can.
    with pytest.raises(IllegalTransition):
        submission_decide(submission=submission, actor=EditorFactory(), to_state=State.PENDING)


@pytest.mark.django_db
def test_withdraw_undo_when_the_link_was_submitted_again_is_refused(member, other_member):
    submission = SubmissionFactory(author=member, url="https://example.org/again")
    submission_withdraw(submission=submission, actor=member)
    submission_create(author=other_member, url="https://example.org/again", kind="blog")
    with pytest.raises(IllegalTransition, match="submitted again"):
        submission_withdraw_undo(submission=submission, actor=member)
    submission.refresh_from_db()
    assert submission.state == State.WITHDRAWN


# --- A rejected submission, edited and sent back ---------------------------------------------


@pytest.mark.django_db
def test_resubmit_a_rejected_submission_edits_it_and_puts_it_back_in_review(member):
    editor = EditorFactory()
    submission = SubmissionFactory(author=member, title="Thin")
    VoteFactory(submission=submission, editor=editor, value=-1)
    submission_decide(
        submission=submission, actor=editor, to_state=State.REJECTED, reason="detail", note="More?"
    )
    submission_resubmit(
        submission=submission, actor=member, title="Thin, explained", summary="Now with numbers."
    )
    submission.refresh_from_db()
    assert submission.state == State.PENDING
    assert (submission.title, submission.summary) == ("Thin, explained", "Now with numbers.")
    assert (submission.reject_reason, submission.reject_note, submission.decided_by) == (
        "",
        "",
        None,
    )
    # Every editor reviews the new version afresh.
    assert not submission.votes.filter(stale=False).exists()
    entry = submission.activity.filter(action=Activity.Action.STATE).last()
    assert (entry.from_state, entry.to_state, entry.actor) == ("rejected", "pending", member)
    assert entry.detail == "Edited and sent back for review by the submitter"


@pytest.mark.django_db
def test_resubmit_is_refused_for_others_and_for_a_pending_submission(member, other_member):
    rejected = SubmissionFactory(author=member, state=State.REJECTED, reject_reason="other")
    with pytest.raises(PermissionDenied):
        submission_resubmit(submission=rejected, actor=other_member, title="Mine")
    pending = SubmissionFactory(author=member)
    with pytest.raises(IllegalTransition, match="Only a rejected submission"):
        submission_resubmit(submission=pending, actor=member, title="Again")


@pytest.mark.django_db
def test_resubmit_with_a_link_now_live_elsewhere_changes_nothing(member, other_member):
    rejected = SubmissionFactory(
        author=member, url="https://example.org/r", state=State.REJECTED, reject_reason="other"
    )
    SubmissionFactory(author=other_member, url="https://example.org/taken")
    with pytest.raises(ValidationError):
        submission_resubmit(
            submission=rejected, actor=member, url="https://example.org/taken", title="New"
        )
    rejected.refresh_from_db()
    assert (rejected.state, rejected.url, rejected.reject_reason) == (
        State.REJECTED,
        "https://example.org/r",
        "other",
    )
