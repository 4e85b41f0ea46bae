"""Tasks for issues: scheduled publication, and re-rendering after a member's change."""

from __future__ import annotations

from celery import shared_task

from newsletter.services import issues
from portal.models import User


@shared_task(name="newsletter.publish_due_issues")
def publish_due_issues() -> list[int]:
    """Publish the scheduled issues whose time has come (beat runs this every minute)."""
    return [issue.number for issue in issues.issues_publish_due()]


@shared_task(name="newsletter.rerender_for_author")
def rerender_for_author(*, user_id: int) -> None:
    """Re-render published issues after a member changed their name or credit consent."""
    user = User.objects.filter(pk=user_id).first()
    if user is not None:
        issues.issues_rerender_for_author(user=user)
