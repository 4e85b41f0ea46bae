"""Decision emails to submitters: each sent once, and only while it is still true."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from newsletter.models import Activity, Notification, Submission

# An email about a decision is still true while the submission is in one of these states.
NOTIFIED_STATES = {
    Notification.Kind.ACCEPTED: {Submission.State.ACCEPTED, Submission.State.PUBLISHED},
    Notification.Kind.REJECTED: {Submission.State.REJECTED},
    Notification.Kind.PUBLISHED: {Submission.State.PUBLISHED},
}


def notification_send(*, notification_id: int) -> None:
    """Email the submitter about a decision, once even if this runs twice."""
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update()
            .select_related("submission__author")
            .filter(pk=notification_id)
            .first()
        )
        if notification is None or notification.sent_at is not None:
            return
        submission = notification.submission
        if submission.state not in NOTIFIED_STATES[notification.kind]:
            # Decided again before the email left (a reject reopened): that email is no
            # longer true. Dropping the row lets a later decision of this kind email again.
            notification.delete()
            Activity.objects.create(
                submission=submission,
                action=Activity.Action.EMAILED,
                detail=(
                    f"Not emailed ({notification.get_kind_display().lower()}): the submission "
                    f"is {submission.get_state_display().lower()} now"
                ),
            )
            return
        if not submission.author.email or not submission.author.email_decisions:
            notification.sent_at = timezone.now()
            notification.save(update_fields=["sent_at"])
            Activity.objects.create(
                submission=submission,
                action=Activity.Action.EMAILED,
                detail=(
                    "Not emailed: the submitter has no email address"
                    if not submission.author.email
                    else "Not emailed: the submitter turned decision emails off"
                ),
            )
            return
        context = {
            "submission": submission,
            "user": submission.author,
            "site_name": settings.SITE_NAME,
            "site_url": settings.SITE_URL,
            "issue_item": submission.issue_items.filter(is_published=True)
            .select_related("issue")
            .first(),
        }
        # A subject is one line, whatever the title holds.
        subject = " ".join(
            render_to_string(f"newsletter/email/{notification.kind}_subject.txt", context).split()
        )
        body = render_to_string(f"newsletter/email/{notification.kind}_body.txt", context)
        send_mail(subject, body, None, [submission.author.email])
        notification.sent_at = timezone.now()
        notification.save(update_fields=["sent_at"])
        Activity.objects.create(
            submission=submission,
            action=Activity.Action.EMAILED,
            detail=f"Emailed the submitter: {notification.get_kind_display().lower()}",
        )
