"""Building blocks for the issue, archive, feed and search tests."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from events.models import Event
from newsletter.models import Issue, Kind, Submission
from newsletter.services.compose import issue_item_add
from newsletter.services.issues import issue_create, issue_publish
from tests.factories import EditorFactory, SubmissionFactory


def accepted(**kwargs) -> Submission:
    """An accepted submission, ready for the pool."""
    return SubmissionFactory(state=Submission.State.ACCEPTED, **kwargs)


def published_event(*, days: float = 7, title: str = "Reading group", **kwargs) -> Event:
    start = kwargs.pop("start", timezone.now() + timedelta(days=days))
    slug = kwargs.pop("slug", f"event-{Event.objects.count() + 1}-{int(start.timestamp())}")
    return Event.objects.create(
        title=title,
        slug=slug,
        start=start,
        end=start + timedelta(hours=1),
        state=Event.State.PUBLISHED,
        **kwargs,
    )


def draft_issue(*, items: int = 0, kind: str = Kind.PAPER, editor=None, **kwargs) -> Issue:
    """A draft with `items` accepted submissions placed by the services."""
    editor = editor or EditorFactory()
    issue = issue_create(
        title=kwargs.pop("title", "What happened this month?"),
        introduction=kwargs.pop("introduction", "Hello **readers**."),
        closing=kwargs.pop("closing", "Thanks for reading."),
        actor=editor,
        **kwargs,
    )
    for _ in range(items):
        issue_item_add(issue=issue, submission=accepted(kind=kind), actor=editor)
    issue.refresh_from_db()
    return issue


def published_issue(*, items: int = 1, kind: str = Kind.PAPER, editor=None, **kwargs) -> Issue:
    editor = editor or EditorFactory()
    published_at = kwargs.pop("published_at", None)
    issue = draft_issue(items=items, kind=kind, editor=editor, **kwargs)
    return issue_publish(issue=issue, actor=editor, published_at=published_at)


def items_form(rows: list[dict], **extra) -> dict:
    """POST data for the compose page's items formset: one dict of fields per item, in order."""
    data = {"items-TOTAL_FORMS": len(rows), "items-INITIAL_FORMS": len(rows), **extra}
    for index, row in enumerate(rows):
        data.update({f"items-{index}-{name}": value for name, value in row.items()})
    return data
