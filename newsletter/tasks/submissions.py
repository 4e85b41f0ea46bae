"""Tasks for submissions: autofill, decision emails, and the follow-up sweeper."""

from __future__ import annotations

from celery import shared_task

from newsletter.links.autofill import fetch_metadata
from newsletter.links.fetch import FetchError
from newsletter.models import Submission
from newsletter.services import notifications, submissions


@shared_task(name="newsletter.fetch_submission_metadata")
def fetch_submission_metadata(*, submission_id: int) -> None:
    """Fill in a title or summary the member left empty (arXiv, GitHub, OpenGraph)."""
    submission = Submission.objects.filter(pk=submission_id).first()
    if submission is None:
        return
    try:
        metadata = fetch_metadata(submission.url)
    except FetchError as exc:
        submissions.submission_apply_metadata(submission=submission, metadata={}, error=str(exc))
        return
    submissions.submission_apply_metadata(submission=submission, metadata=metadata.as_dict())


@shared_task(name="newsletter.send_notification")
def send_notification(*, notification_id: int) -> None:
    """Email the submitter about a decision, once even if this task runs twice."""
    notifications.notification_send(notification_id=notification_id)


@shared_task(name="newsletter.sweep_followups")
def sweep_followups() -> int:
    """Queue again emails and metadata fetches a down broker left behind (beat, every 5 min)."""
    return submissions.followups_sweep()
