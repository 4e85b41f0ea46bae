"""Celery interface of events: thin tasks that load a row and call a service or send mail.

Each email task sends at most once: it locks its row, checks the "sent" time and
sets it in the same transaction.
"""

from __future__ import annotations

from celery import shared_task
from django.core.mail import get_connection
from django.db import transaction
from django.utils import timezone

from . import services
from .messages import event_email
from .models import RSVP, Event, Reminder


@shared_task(name="events.send_due_reminders")
def send_due_reminders() -> int:
    """Every minute (CELERY_BEAT_SCHEDULE): post and email the reminders whose time has come."""
    return len(services.reminders_send_due())


@shared_task(name="events.send_reminder_emails")
def send_reminder_emails(*, reminder_id: int) -> None:
    """Email the members going to the event of one reminder."""
    with transaction.atomic():
        reminder = (
            Reminder.objects.select_for_update(of=("self",))
            .select_related("event")
            .filter(pk=reminder_id)
            .first()
        )
        if reminder is None or reminder.emails_sent_at is not None:
            return
        event = reminder.event
        if event.state == Event.State.PUBLISHED:
            going = RSVP.objects.filter(event=event, status=RSVP.Status.GOING).select_related(
                "user"
            )
            _send(
                [
                    event_email(user=rsvp.user, template="reminder", event=event)
                    for rsvp in going
                    if rsvp.user.email
                ]
            )
        reminder.emails_sent_at = timezone.now()
        reminder.save(update_fields=["emails_sent_at"])


@shared_task(name="events.send_promotion_email")
def send_promotion_email(*, rsvp_id: int) -> None:
    """Tell a member they moved from the waiting list to going."""
    with transaction.atomic():
        rsvp = (
            RSVP.objects.select_for_update(of=("self",))
            .select_related("event", "user")
            .filter(pk=rsvp_id)
            .first()
        )
        if rsvp is None or rsvp.promotion_emailed_at is not None or rsvp.promoted_at is None:
            return
        if rsvp.status == RSVP.Status.GOING and rsvp.event.state == Event.State.PUBLISHED:
            _send([event_email(user=rsvp.user, template="promoted", event=rsvp.event)])
        rsvp.promotion_emailed_at = timezone.now()
        rsvp.save(update_fields=["promotion_emailed_at"])


@shared_task(name="events.send_cancellation_emails")
def send_cancellation_emails(*, event_id: int) -> None:
    """Tell members who answered going or maybe that the event is cancelled."""
    with transaction.atomic():
        event = Event.objects.select_for_update().filter(pk=event_id).first()
        if event is None or event.cancellation_emailed_at is not None:
            return
        if event.state != Event.State.CANCELLED:
            return
        answers = RSVP.objects.filter(
            event=event, status__in=[RSVP.Status.GOING, RSVP.Status.MAYBE]
        ).select_related("user")
        _send(
            [
                event_email(user=rsvp.user, template="cancelled", event=event, answer=rsvp)
                for rsvp in answers
                if rsvp.user.email
            ]
        )
        event.cancellation_emailed_at = timezone.now()
        event.save(update_fields=["cancellation_emailed_at"])


def _send(messages: list) -> None:
    if messages:
        with get_connection() as connection:
            connection.send_messages(messages)
