"""Endorsements: a member who finds their link already submitted says "+1: I want this in the
newsletter too", with an optional one-line reason. One per member per submission; endorsing
one's own submission is refused. Editors see them in the review queue and on the review page,
the submitter on "My submissions"."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from newsletter.models import Activity, Endorsement, Submission
from newsletter.models.endorsements import REASON_MAX_LENGTH
from portal.text import one_line

from .submissions import State, _log

# A +1 asks for a link to be included: it means something while the link is still coming.
ENDORSABLE_STATES = (State.PENDING, State.ACCEPTED)


class AlreadyEndorsed(ValidationError):
    pass


def endorsement_refusal(*, submission: Submission, member) -> str:
    """Why this member may not endorse this submission, or "" when they may."""
    if member.pk == submission.author_id:
        return "This is your own submission: a +1 comes from other members."
    if submission.state not in ENDORSABLE_STATES:
        if submission.state == State.PUBLISHED:
            return "This link is already published; there is nothing left to endorse."
        return "This submission is no longer waiting for the newsletter."
    if Endorsement.objects.filter(submission=submission, member=member).exists():
        return "You already said +1 to this link; the editors see it."
    return ""


def endorsement_create(*, submission: Submission, member, reason: str = "") -> Endorsement:
    """Record a member's +1, refusing their own submission, a second +1 and decided links."""
    reason = one_line(reason or "")
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError(
            f"Keep the reason to one line of at most {REASON_MAX_LENGTH} characters "
            f"(it has {len(reason)}).",
            code="reason",
        )
    with transaction.atomic():
        # The state is read under the lock a decision takes, so a +1 never lands on a
        # submission that was rejected a moment earlier.
        locked = Submission.objects.select_for_update().get(pk=submission.pk)
        refusal = endorsement_refusal(submission=locked, member=member)
        if refusal:
            if member.pk == locked.author_id:
                raise PermissionDenied(refusal)
            raise AlreadyEndorsed(refusal, code="refused")
        try:
            with transaction.atomic():
                endorsement = Endorsement.objects.create(
                    submission=locked, member=member, reason=reason
                )
        except IntegrityError:
            raise AlreadyEndorsed(
                "You already said +1 to this link; the editors see it.", code="refused"
            ) from None
        _log(locked, Activity.Action.ENDORSED, member, detail=reason)
    return endorsement
