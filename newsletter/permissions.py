"""Who may do what on the editors' side.

Editors (the "Editors" group) vote and decide. Staff who are not editors may look at
the review queue but not vote or decide. A superuser who is not an editor may decide
by hand (and edit before deciding) but does not vote: the tally is the editors' own.
Members never reach the admin; on the site they see only their own submissions.
"""

from __future__ import annotations

from django.conf import settings

from .models import Submission


def can_review(user) -> bool:
    """May see the review queue and the review pages."""
    return bool(user.is_authenticated and user.is_active and user.is_staff)


def can_vote(user) -> bool:
    return bool(user.is_authenticated and user.is_active and getattr(user, "is_editor", False))


def can_decide(user) -> bool:
    """May accept, reject or reopen by hand, and edit title and summary before deciding."""
    return bool(
        user.is_authenticated
        and user.is_active
        and (user.is_superuser or getattr(user, "is_editor", False))
    )


def votes_visible(*, submission: Submission, viewer, has_voted: bool) -> bool:
    """Blind review: an editor who may still vote sees the others' votes only after voting.

    Once a submission is decided, or for people who do not vote on it (staff, a superuser
    who is not an editor, the submitter), nothing can be anchored any more.
    """
    if not settings.NEWSLETTER_BLIND_REVIEW or has_voted:
        return True
    if submission.state != Submission.State.PENDING or viewer.pk == submission.author_id:
        return True
    return not can_vote(viewer)
