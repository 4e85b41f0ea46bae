"""Tasks for the email edition: a sending run, the subscribers' notices, and the sweeper."""

from __future__ import annotations

from celery import shared_task

from newsletter.services import email_delivery, subscribers


def _in_a_worker(task) -> bool:
    """True when a worker runs the task; False when it runs inline (no broker, or called as a
    function), where a run sends the whole issue instead of queueing its sequel."""
    return not (task.request.is_eager or task.request.called_directly)


@shared_task(name="newsletter.send_emails", acks_late=True, bind=True)
def send_emails(self, *, issue_id: int) -> int:
    """Send a batch of the issue's emails; safe to run twice or after a crash."""
    return email_delivery.email_sends_send(issue_id=issue_id, yield_to_others=_in_a_worker(self))


@shared_task(name="newsletter.send_subscriber_notice")
def send_subscriber_notice(*, subscriber_id: int | None = None, key: str | None = None) -> bool:
    """Email an address its confirmation link (or "already subscribed"), once."""
    return subscribers.notice_send(subscriber_id=subscriber_id, key=key)


@shared_task(name="newsletter.sweep_email")
def sweep_email() -> dict[str, int]:
    """Queue again what a killed worker or a down broker left (beat, every minute)."""
    return {**email_delivery.email_sends_sweep(), "notices": subscribers.notices_sweep()}
