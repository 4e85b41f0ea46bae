"""Editors' list of topics. A topic's name is shown on published items (stored with their
issue), so renaming one re-renders the published issues that show it."""

from __future__ import annotations

from django.db import transaction

from newsletter.models import Issue, Topic

from .issues import issue_correct


def topic_save(*, topic: Topic, actor=None) -> int:
    """Store a new or changed topic; returns how many published issues were re-rendered."""
    shown_before = None
    if topic.pk:
        shown_before = Topic.objects.filter(pk=topic.pk).values_list("name", "slug").first()
    with transaction.atomic():
        topic.save()
        if shown_before is None or shown_before == (topic.name, topic.slug):
            return 0
        issues = Issue.objects.filter(
            state=Issue.State.PUBLISHED, items__submission__topics=topic
        ).distinct()
        count = 0
        for issue in issues:
            issue_correct(issue=issue, actor=actor)
            count += 1
    return count
