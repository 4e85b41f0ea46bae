"""Celery interface of events: thin tasks that call one service each."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="events.send_due_reminders")
def send_due_reminders() -> int:
    """Every minute (CELERY_BEAT_SCHEDULE): post and email the reminders whose time has come."""
    return len(services.reminders_send_due())


@shared_task(name="events.send_reminder_emails")
def send_reminder_emails(*, reminder_id: int) -> None:
    """Email the members going to the event of one reminder."""
    services.reminder_emails_send(reminder_id=reminder_id)


@shared_task(name="events.send_promotion_email")
def send_promotion_email(*, rsvp_id: int) -> None:
    """Tell a member they moved from the waiting list to going."""
    services.promotion_email_send(rsvp_id=rsvp_id)


@shared_task(name="events.send_cancellation_emails")
def send_cancellation_emails(*, event_id: int) -> None:
    """Tell members who answered going or maybe that the event is cancelled."""
    services.cancellation_emails_send(event_id=event_id)


@shared_task(name="events.send_going_email")
def send_going_email(*, rsvp_id: int) -> None:
    """Confirm a member's "Going", with the event's .ics attached."""
    services.going_email_send(rsvp_id=rsvp_id)
