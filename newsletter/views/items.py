"""A page per published item, at a stable URL: /archive/items/<submission id>/<slug>/.

The id is the submission's: it never changes, even if editors move the item to another
section or re-render its issue. The slug follows the title; an old slug redirects.
"""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.views.decorators.http import require_GET

from newsletter import cards, rendering
from newsletter.models import IssueItem, Submission
from portal.markdown import render_markdown
from portal.pagecache import reader_page

RELATED_ITEMS = 5


def _published_item(pk: int) -> IssueItem:
    item = (
        IssueItem.objects.published()
        .filter(submission_id=pk)
        .select_related("issue", "section", "submission__author")
        .prefetch_related(Prefetch("forum_posts", queryset=rendering.forum_threads()))
        .defer(
            "search_vector",
            "issue__body_html",
            "issue__body_markdown",
            "issue__search_text",
            "issue__search_vector",
        )
        .first()
    )
    if item is None:
        raise Http404("No published item has this address.")
    return item


def related_items(submission: Submission, topic_ids: list[int]) -> list[IssueItem]:
    """Other published items sharing a topic with this one, newest first."""
    if not topic_ids:
        return []
    sharing = Submission.objects.filter(topics__in=topic_ids).exclude(pk=submission.pk)
    return list(
        IssueItem.objects.published()
        .filter(submission__in=sharing.values("pk"))
        .select_related("issue", "submission")
        .only(
            "submission__title",
            "submission__url",
            "issue__number",
            "issue__slug",
            "issue__title",
            "issue__published_at",
        )
        .order_by("-issue__published_at", "-issue__number", "position", "id")[:RELATED_ITEMS]
    )


@require_GET
def item_redirect(request: HttpRequest, pk: int) -> HttpResponse:
    return redirect(_published_item(pk).submission.get_page_url(), permanent=True)


@reader_page("archive")
@require_GET
def item_detail(request: HttpRequest, pk: int, slug: str) -> HttpResponse:
    item = _published_item(pk)
    submission = item.submission
    url = submission.get_page_url()
    if request.path != url:
        return redirect(url, permanent=True)
    topics = list(submission.topics.all())
    author = submission.author
    summary_html = render_markdown(item.blurb) if item.blurb.strip() else submission.summary_html
    return render(
        request,
        "newsletter/item_detail.html",
        {
            "item": item,
            "submission": submission,
            "issue": item.issue,
            "title": submission.title or submission.url,
            "emoji": item.section.emoji_for(submission.kind),
            "summary_html": mark_safe(summary_html),  # noqa: S308  (render_markdown sanitises)
            "description": Truncator(item.search_text or submission.title).chars(200),
            "topics": topics,
            "credit": author.public_name if author.credit_me else "",
            "credit_url": author.pk if author.credit_me else None,
            "related": related_items(submission, [topic.pk for topic in topics]),
            "card_url": cards.item_card_url(item, topics),
            "discussion_url": rendering.discussion_url(item),
        },
    )
