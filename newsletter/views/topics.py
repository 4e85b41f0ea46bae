"""Topics: the list of them, and each topic's archive page (its feeds are in feeds.py)."""

from __future__ import annotations

from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from newsletter.models import IssueItem, Topic
from portal.pagecache import reader_page
from portal.pagination import paginate

from .archive import ITEMS_PER_PAGE, item_rows, published_items


def topic_items(topic: Topic):
    """The published items of a topic, newest first."""
    return published_items().filter(submission__topics=topic)


@reader_page("archive")
@require_GET
def topic_list(request: HttpRequest) -> HttpResponse:
    published = IssueItem.objects.published().values("submission_id")
    topics = Topic.objects.annotate(
        item_count=Count("submissions", filter=Q(submissions__in=published))
    )
    return render(request, "newsletter/topic_list.html", {"topics": topics})


@reader_page("archive", query=["page"])
@require_GET
def topic_detail(request: HttpRequest, slug: str) -> HttpResponse:
    topic = get_object_or_404(Topic, slug=slug)
    page, context, status = paginate(request, topic_items(topic), ITEMS_PER_PAGE)
    context.update(topic=topic, rows=item_rows(page.object_list))
    return render(request, "newsletter/topic_detail.html", context, status=status)
