"""Editorial votes: one per editor per submission, and the rule that accepts by itself."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q

from newsletter.models import Activity, Submission, Vote
from newsletter.permissions import can_vote

from .submissions import State, _log, submission_transition

VOTE_COMMENT_MAX = 2000


def vote_tally(submission: Submission) -> dict[str, int]:
    """For, against, abstaining and net: the one tally the rule, the queue and the review
    page use. Stale votes (cast before the submitter changed the link or summary) do not count. Read from `SubmissionQuerySet.with_tally()`'s annotations when the row has them
    (the queue, the review page), counted otherwise."""
    if hasattr(submission, "votes_for"):
        yes, no = submission.votes_for, submission.votes_against
        abstain = submission.votes_abstain
    else:
        counts = submission.votes.filter(stale=False).aggregate(
            yes=Count("id", filter=Q(value=Vote.Value.FOR)),
            no=Count("id", filter=Q(value=Vote.Value.AGAINST)),
            abstain=Count("id", filter=Q(value=Vote.Value.ABSTAIN)),
        )
        yes, no, abstain = counts["yes"], counts["no"], counts["abstain"]
    return {"yes": yes, "no": no, "abstain": abstain, "net": yes - no}


def acceptance_rule_met(tally: dict[str, int]) -> bool:
    """Accept when enough editors voted for and nobody against."""
    return tally["yes"] >= settings.NEWSLETTER_VOTES_TO_ACCEPT and tally["no"] == 0


def vote_cast(*, submission: Submission, editor, value: int, comment: str | None = None) -> Vote:
    """An editor's vote: one per submission, changeable until the submission is decided.

    `comment=None` keeps the comment of an earlier vote (one-click voting from the queue);
    a string replaces it. When the acceptance rule is met the submission becomes accepted
    by itself, recorded as automatic in its activity log.
    """
    if not can_vote(editor):
        raise PermissionDenied("Only editors can vote.")
    if editor.pk == submission.author_id:
        raise PermissionDenied(
            "You cannot vote on your own submission; the other editors decide on it."
        )
    if value not in Vote.Value.values:
        raise ValidationError("A vote is for, against or abstain.", code="value")
    if comment is not None:
        comment = comment.strip()
        if len(comment) > VOTE_COMMENT_MAX:
            raise ValidationError(
                f"A comment has at most {VOTE_COMMENT_MAX} characters.", code="comment"
            )
    with transaction.atomic():
        # Lock the submission: votes on it are counted one at a time, so two requests of
        # the same editor (or the last two votes the rule needs) cannot both act on a stale view.
        locked = Submission.objects.select_for_update().get(pk=submission.pk)
        if locked.state != State.PENDING:
            raise ValidationError(
                f"This submission is already {locked.get_state_display().lower()}; "
                "votes are closed.",
                code="closed",
            )
        vote = Vote.objects.filter(submission=locked, editor=editor).first()
        label = Vote.Value(value).label.lower()
        if vote is None:
            vote = Vote.objects.create(
                submission=locked, editor=editor, value=value, comment=comment or ""
            )
            detail = f"Voted {label}"
        else:
            new_comment = vote.comment if comment is None else comment
            if vote.value == value and vote.comment == new_comment and not vote.stale:
                return vote
            before = vote.get_value_display().lower()
            was_stale = vote.stale
            vote.value, vote.comment, vote.stale = value, new_comment, False
            vote.save(update_fields=["value", "comment", "stale", "updated_at"])
            if was_stale:
                detail = f"Voted {label} again after the submitter's edit"
            elif before != label:
                detail = f"Changed vote from {before} to {label}"
            else:
                detail = f"Changed the comment of a vote {label}"
        if comment:
            detail += f": {comment}"
        _log(locked, Activity.Action.VOTED, editor, detail=detail)
        tally = vote_tally(locked)
        if acceptance_rule_met(tally):
            submission_transition(
                submission=locked,
                to_state=State.ACCEPTED,
                actor=None,
                detail=(
                    f"Automatic: accepted by the vote rule, {tally['yes']} for and none against "
                    f"(needs {settings.NEWSLETTER_VOTES_TO_ACCEPT} for)"
                ),
            )
    return vote


# --- Decisions by hand -----------------------------------------------------------
