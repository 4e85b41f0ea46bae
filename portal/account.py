"""A member's own account: download what we hold about them, and delete the account.

Deleting keeps what the community already read: a published submission stays in its
issue, credited to "a former member". Anything not yet published is withdrawn (taken out
of a draft issue first), answers to events are dropped (a seat they held goes to the
waiting list), the email list stops sending to them, and every session ends: the row is
kept, without a name, an address or a usable password, and inactive.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.db import transaction
from django.utils import timezone

from events import services as event_services
from events.models import RSVP, Event
from newsletter.models import IssueItem, Submission, Vote
from newsletter.services.compose import issue_item_remove
from newsletter.services.submissions import submission_transition
from newsletter.services.subscribers import subscriber_for_member, subscriber_set_for_member

from .auth import forget_user
from .celery import queue_after_commit
from .models import User

FORMER_MEMBER = "a former member"
EXPORT_VERSION = 1


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def account_export(*, user: User) -> dict[str, Any]:
    """Everything the member gave us, as JSON-ready data: profile, submissions, votes, RSVPs."""
    subscriber = subscriber_for_member(user)
    submissions = user.submissions.prefetch_related("extra_links").order_by("created_at", "id")
    return {
        "format": EXPORT_VERSION,
        "exported_at": _when(timezone.now()),
        "profile": {
            "email": user.email,
            "display_name": user.display_name,
            "discord_handle": user.discord_handle,
            "timezone": user.timezone,
            "credit_me": user.credit_me,
            "show_when_going": user.show_when_going,
            "email_decisions": user.email_decisions,
            "email_reminders": user.email_reminders,
            "email_issues": subscriber.state if subscriber else None,
            "joined": _when(user.date_joined),
            "email_addresses": [
                {"email": a.email, "verified": a.verified, "primary": a.primary}
                for a in EmailAddress.objects.filter(user=user).order_by("id")
            ],
        },
        "submissions": [
            {
                "url": s.url,
                "kind": s.kind,
                "title": s.title,
                "summary": s.summary,
                "note_to_editors": s.note_to_editors,
                "state": s.state,
                "reject_reason": s.reject_reason,
                "reject_note": s.reject_note,
                "extra_links": [{"label": x.label, "url": x.url} for x in s.extra_links.all()],
                "submitted_at": _when(s.created_at),
            }
            for s in submissions
        ],
        "votes": [
            {"submission": v.submission.url, "value": v.value, "at": _when(v.created_at)}
            for v in Vote.objects.filter(editor=user)
            .select_related("submission")
            .order_by("created_at", "id")
        ],
        "rsvps": [
            {
                "event": r.event.title,
                "start": _when(r.event.start),
                "answer": r.status,
                "answered_at": _when(r.created_at),
            }
            for r in RSVP.objects.filter(user=user)
            .select_related("event")
            .order_by("event__start", "id")
        ],
    }


def account_delete(*, user: User) -> None:
    """Delete the member's account as described above; the caller logs the request out."""
    # Answers first: leaving frees a seat for the next member on a waiting list.
    open_answers = RSVP.objects.filter(
        user=user,
        status__in=[RSVP.Status.GOING, RSVP.Status.WAITLISTED],
        event__state=Event.State.PUBLISHED,
        event__start__gt=timezone.now(),
    ).select_related("event")
    for answer in open_answers:
        # Answers closed (the deadline passed): the seat is not given again.
        with contextlib.suppress(event_services.RSVPRefused):
            event_services.rsvp_set(event=answer.event, user=user, status=RSVP.Status.NOT_GOING)
    subscriber_set_for_member(user=user, receive=False)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        for submission in locked.submissions.filter(
            state__in=[Submission.State.PENDING, Submission.State.ACCEPTED]
        ):
            _withdraw(submission)
        RSVP.objects.filter(user=locked).delete()
        EmailAddress.objects.filter(user=locked).delete()
        SocialAccount.objects.filter(user=locked).delete()
        locked.display_name = FORMER_MEMBER
        locked.credit_me = True
        locked.email = ""
        locked.username = f"former-member-{locked.pk}"
        locked.first_name = locked.last_name = locked.discord_handle = ""
        locked.calendar_token = ""
        locked.is_active = locked.is_staff = locked.is_superuser = False
        locked.email_decisions = locked.email_reminders = locked.show_when_going = False
        # A new password hash: every session's auth hash stops matching, so each one ends.
        locked.set_unusable_password()
        locked.save()
        locked.groups.clear()
        locked.user_permissions.clear()
        forget_user(locked.pk)
        # Published issues credit the member by name: they now read "a former member".
        queue_after_commit("newsletter.rerender_for_author", user_id=locked.pk)


def _withdraw(submission: Submission) -> None:
    """Take a submission not yet published out of draft issues and withdraw it."""
    for item in IssueItem.objects.filter(submission=submission, is_published=False):
        issue_item_remove(item=item)
    submission.refresh_from_db()
    detail = "The submitter deleted their account"
    if submission.state == Submission.State.ACCEPTED:
        submission_transition(
            submission=submission, to_state=Submission.State.PENDING, detail=detail
        )
    if submission.state == Submission.State.PENDING:
        submission_transition(
            submission=submission, to_state=Submission.State.WITHDRAWN, detail=detail
        )
