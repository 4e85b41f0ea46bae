"""Editors' decisions by hand: accept, reject (with a reason) or reopen a submission, one or
many from the queue. The votes' own acceptance rule is services/votes.py; both end in
`submission_transition`."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError

from newsletter.models import Submission
from newsletter.permissions import can_decide
from portal.states import IllegalTransition

from .submissions import submission_transition

State = Submission.State


DECISIONS = {"accept": State.ACCEPTED, "reject": State.REJECTED, "reopen": State.PENDING}
_DECIDED_DETAIL = {State.ACCEPTED: "Accepted by hand", State.PENDING: "Reopened for review"}


def submission_decide(
    *, submission: Submission, actor, to_state: str, reason: str = "", note: str = ""
) -> Submission:
    """An editor (or a superuser) accepts, rejects or reopens a submission by hand.

    A reject carries one of the standard reasons and an optional note; the submitter
    sees both on "My submissions" and in the email.
    """
    if not can_decide(actor):
        raise PermissionDenied("Only editors can accept or reject submissions.")
    if actor.pk == submission.author_id:
        raise PermissionDenied("You submitted this one; another editor decides on it.")
    if to_state not in _DECIDED_DETAIL and to_state != State.REJECTED:
        raise IllegalTransition(
            "Editors accept, reject or reopen a submission; it is published with an issue.",
            code="illegal",
        )
    current = Submission.objects.filter(pk=submission.pk).values_list("state", flat=True).first()
    if current == to_state:
        raise IllegalTransition(
            f"“{submission}” is already {State(to_state).label.lower()}.", code="same"
        )
    return submission_transition(
        submission=submission,
        to_state=to_state,
        actor=actor,
        reason=reason,
        note=note.strip(),
        detail=_DECIDED_DETAIL.get(to_state, ""),
    )


def submissions_decide(
    *,
    submissions: Iterable[Submission],
    actor,
    to_state: str,
    reason: str = "",
    note: str = "",
) -> tuple[list[Submission], list[tuple[Submission, str]]]:
    """Bulk decisions from the queue: each item on its own, the refused ones with why."""
    if not can_decide(actor):
        raise PermissionDenied("Only editors can accept or reject submissions.")
    done: list[Submission] = []
    refused: list[tuple[Submission, str]] = []
    for submission in submissions:
        try:
            done.append(
                submission_decide(
                    submission=submission,
                    actor=actor,
                    to_state=to_state,
                    reason=reason,
                    note=note,
                )
            )
        except (PermissionDenied, ValidationError) as exc:
            message = exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
            refused.append((submission, message))
    return done, refused
