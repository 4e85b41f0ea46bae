"""Celery interface of the newsletter: thin tasks that load a row and call a service."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from .models import Activity, Notification, Submission

logger = logging.getLogger(__name__)

# An email about a decision is still true while the submission is in one of these states.
NOTIFIED_STATES = {
    Notification.Kind.ACCEPTED: {Submission.State.ACCEPTED, Submission.State.PUBLISHED},
    Notification.Kind.REJECTED: {Submission.State.REJECTED},
    Notification.Kind.PUBLISHED: {Submission.State.PUBLISHED},
}


@shared_task(name="newsletter.fetch_submission_metadata")
def fetch_submission_metadata(*, submission_id: int) -> None:
    """Fill in a title or summary the member left empty (arXiv, GitHub, OpenGraph)."""
    from . import services
    from .fetch import FetchError, fetch_metadata

    submission = Submission.objects.filter(pk=submission_id).first()
    if submission is None:
        return
    try:
        metadata = fetch_metadata(submission.url)
    except FetchError as exc:
        services.submission_apply_metadata(submission=submission, metadata={}, error=str(exc))
        return
    services.submission_apply_metadata(submission=submission, metadata=metadata.as_dict())


@shared_task(name="newsletter.send_notification")
def send_notification(*, notification_id: int) -> None:
    """Email the submitter about a decision, once even if this task runs twice."""
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
        if not submission.author.email:
            notification.sent_at = timezone.now()
            notification.save(update_fields=["sent_at"])
            Activity.objects.create(
                submission=submission,
                action=Activity.Action.EMAILED,
                detail="Not emailed: the submitter has no email address",
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


# --- Discord delivery ---------------------------------------------------------------


def _in_a_worker(task) -> bool:
    """True when a worker runs the task; False when it runs inline (no broker, or called as a
    function), where a delivery waits out rate limits instead of queueing its continuation."""
    return not (task.request.is_eager or task.request.called_directly)


@shared_task(name="newsletter.deliver", acks_late=True, bind=True)
def deliver(self, *, delivery_id: int) -> None:
    """Post a delivery's unsent messages in order; safe to run twice or after a crash."""
    from . import delivery

    delivery.delivery_send(delivery_id=delivery_id, yield_to_others=_in_a_worker(self))


@shared_task(name="newsletter.update_delivery", acks_late=True, bind=True)
def update_delivery(self, *, delivery_id: int) -> None:
    """Edit, post or delete a corrected issue's messages on Discord ("update on Discord")."""
    from . import delivery

    delivery.delivery_send(delivery_id=delivery_id, yield_to_others=_in_a_worker(self))


@shared_task(name="newsletter.sweep_deliveries")
def sweep_deliveries() -> int:
    """Queue again deliveries a killed worker or a down broker left behind (beat, every 2 min)."""
    from . import delivery

    return delivery.delivery_sweep()


@shared_task(name="newsletter.sweep_followups")
def sweep_followups() -> int:
    """Queue again emails and metadata fetches a down broker left behind (beat, every 5 min)."""
    from . import services

    return services.followups_sweep()


# --- Issues -------------------------------------------------------------------------


@shared_task(name="newsletter.publish_due_issues")
def publish_due_issues() -> list[int]:
    """Publish the scheduled issues whose time has come (beat runs this every minute)."""
    from .issues import issues_publish_due

    return [issue.number for issue in issues_publish_due()]


@shared_task(name="newsletter.rerender_for_author")
def rerender_for_author(*, user_id: int) -> None:
    """Re-render published issues after a member changed their name or credit consent."""
    from portal.models import User

    from .issues import issues_rerender_for_author

    user = User.objects.filter(pk=user_id).first()
    if user is not None:
        issues_rerender_for_author(user=user)
