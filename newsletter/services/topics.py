"""Editors' list of topics, and their changes to a submission's topics after publication.

A topic's name is shown on published items (stored with their issue), so renaming one
re-renders the published issues that show it. Before a decision, topics change with the rest
of the submission (`submission_update`)."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied
from django.db import transaction

from newsletter.models import Issue, Submission, Topic
from newsletter.permissions import can_decide
from portal.pagecache import reader_pages_changed

from .issues import issue_correct
from .submissions import topics_change, topics_check


def _rerender_showing(topic: Topic, actor) -> int:
    issues = list(
        Issue.objects.filter(state=Issue.State.PUBLISHED, items__submission__topics=topic)
        .distinct()
        .only("pk")
    )
    for issue in issues:
        issue_correct(issue=issue, actor=actor)
    return len(issues)


def topic_save(*, topic: Topic, actor=None) -> int:
    """Store a new or changed topic; returns how many published issues were re-rendered."""
    shown_before = None
    if topic.pk:
        shown_before = Topic.objects.filter(pk=topic.pk).values_list("name", "slug").first()
    with transaction.atomic():
        topic.save()
        # The topic pages and list show the description too: readers see the change at once.
        transaction.on_commit(lambda: reader_pages_changed("archive"))
        if shown_before is None or shown_before == (topic.name, topic.slug):
            return 0
        return _rerender_showing(topic, actor)


def topic_delete(*, topic: Topic, actor=None) -> int:
    """Delete a topic; the published issues that showed its chip are re-rendered without it."""
    with transaction.atomic():
        issues = list(
            Issue.objects.filter(state=Issue.State.PUBLISHED, items__submission__topics=topic)
            .distinct()
            .only("pk")
        )
        topic.delete()
        for issue in issues:
            issue_correct(issue=issue, actor=actor)
        transaction.on_commit(lambda: reader_pages_changed("archive"))
    return len(issues)


def submission_topics_set(*, submission: Submission, topics: Iterable[Topic], actor) -> bool:
    """An editor sets a submission's topics in any state. On a published item the change
    reaches readers at once: its issue is re-rendered (a correction). True if they changed."""
    if not can_decide(actor):
        raise PermissionDenied("Only editors can change topics.")
    topics = topics_check(topics)
    with transaction.atomic():
        if not topics_change(submission, topics, actor):
            return False
        issue = Issue.objects.filter(
            state=Issue.State.PUBLISHED, items__submission=submission, items__is_published=True
        ).first()
        if issue is not None:
            issue_correct(issue=issue, actor=actor)
    return True
