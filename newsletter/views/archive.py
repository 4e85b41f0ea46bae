"""The public archive: issues, items by kind and by submitter, search, Markdown downloads.

Only published issues are ever read here (`Issue.objects.published()`,
`IssueItem.objects.published()`); editors preview drafts through `issue_preview`. Issue pages
show the HTML stored at publication, and the rendered article is cached under a key holding
the issue's `updated_at`, so a correction shows at once.
"""

from __future__ import annotations

from django.core.cache import cache
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.views.decorators.http import require_GET

from newsletter import cards, rendering
from newsletter.models import KIND_SLUGS, Issue, IssueItem, Kind
from portal.models import User
from portal.pagecache import reader_page
from portal.pagination import paginate

ISSUES_PER_PAGE = 20
ITEMS_PER_PAGE = 30
ARTICLE_CACHE_SECONDS = 24 * 60 * 60
KINDS_BY_SLUG = {slug: kind for kind, slug in KIND_SLUGS.items()}
KIND_TITLES = {
    Kind.PAPER: "Papers",
    Kind.BLOG: "Blog posts",
    Kind.TOOL: "Tools",
    Kind.REPO: "Repositories",
    Kind.TALK: "Talks",
    Kind.EVENT: "Events",
    Kind.OTHER: "Other links",
}


def _published_issues():
    return Issue.objects.published().order_by("-published_at", "-number")


# --- Issues --------------------------------------------------------------------------------------


@reader_page("archive", query=["page"])
@require_GET
def issue_list(request: HttpRequest) -> HttpResponse:
    # Items counted by a subquery for the issues of the page only: a join with GROUP BY would
    # count every item of the archive, and the page would slow down as the archive grows.
    item_count = (
        IssueItem.objects.filter(issue=OuterRef("pk"))
        .order_by()
        .values("issue")
        .annotate(count=Count("pk"))
        .values("count")
    )
    issues = (
        _published_issues()
        .only("number", "title", "slug", "published_at")
        .annotate(item_count=Coalesce(Subquery(item_count, output_field=IntegerField()), 0))
    )
    page, context, status = paginate(request, issues, ISSUES_PER_PAGE)
    context.update(issues=page.object_list, kinds=_kind_links())
    return render(request, "newsletter/issue_list.html", context, status=status)


def _kind_links() -> list[tuple[str, str]]:
    return [(slug, KIND_TITLES[kind]) for kind, slug in KIND_SLUGS.items()]


@require_GET
def issue_latest(request: HttpRequest) -> HttpResponse:
    issue = _published_issues().only("number", "slug").first()
    if issue is None:
        raise Http404("No issue is published yet.")
    return redirect(issue)


@require_GET
def issue_redirect(request: HttpRequest, number: int, rest: str = "") -> HttpResponse:
    issue = get_object_or_404(Issue.objects.published().only("number", "slug"), number=number)
    return redirect(issue, permanent=True)


def _article(issue: Issue) -> dict:
    """The cached part of an issue page: the stored body with times in the reader's zone."""
    zone = timezone.get_current_timezone_name()
    key = f"archive:issue:{issue.pk}:{issue.updated_at.timestamp()}:{zone}"
    article = cache.get(key)
    if article is None:
        article = {
            "html": str(rendering.localize_times(issue.body_html)),
            "description": Truncator(issue.search_text).chars(200),
            "card_url": cards.issue_card_url(issue, cards.issue_sections(issue)),
        }
        cache.set(key, article, ARTICLE_CACHE_SECONDS)
    return article


def _issue_page(request: HttpRequest, issue: Issue, *, preview: bool = False) -> HttpResponse:
    published = Issue.objects.published().only("number", "slug", "title")
    previous = newer = None
    if not preview:
        previous = published.filter(number__lt=issue.number).order_by("-number").first()
        newer = published.filter(number__gt=issue.number).order_by("number").first()
        article = _article(issue)
    else:
        rendered = rendering.render_issue(issue)
        article = {
            "html": str(rendering.localize_times(rendered.body_html)),
            "description": Truncator(rendered.search_text).chars(200),
            "card_url": "",
        }
    return render(
        request,
        "newsletter/issue_detail.html",
        {
            "issue": issue,
            "article": mark_safe(article["html"]),  # noqa: S308  (stored, sanitised rendering)
            "description": article["description"],
            "card_url": article.get("card_url", ""),
            "previous": previous,
            "next": newer,
            "preview": preview,
        },
    )


@reader_page("archive")
@require_GET
def issue_detail(request: HttpRequest, number: int, slug: str) -> HttpResponse:
    issue = get_object_or_404(
        Issue.objects.published().defer("body_markdown", "search_vector"), number=number
    )
    if slug != issue.slug:
        return redirect(issue, permanent=True)
    return _issue_page(request, issue)


@require_GET
def issue_markdown(request: HttpRequest, number: int, slug: str) -> HttpResponse:
    """The issue as a Markdown file, to paste elsewhere."""
    issue = get_object_or_404(
        Issue.objects.published().only("number", "slug", "body_markdown"), number=number
    )
    if slug != issue.slug:
        return redirect(
            "newsletter:issue-markdown", number=issue.number, slug=issue.slug, permanent=True
        )
    response = HttpResponse(issue.body_markdown, content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="issue-{issue.number}-{issue.slug}.md"'
    return response


@require_GET
def issue_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """An editor's view of any issue as readers will see it; others get a plain 404."""
    user = request.user
    if not (user.is_authenticated and user.is_staff and user.is_editor):
        raise Http404
    issue = get_object_or_404(Issue, pk=pk)
    response = _issue_page(request, issue, preview=True)
    response["X-Robots-Tag"] = "noindex"
    response["Cache-Control"] = "private, no-store"
    return response


# --- Items: by kind, by submitter ----------------------------------------------------------------


def published_items():
    return (
        IssueItem.objects.published()
        .select_related("issue")
        .only(
            "html",
            "issue__number",
            "issue__slug",
            "issue__title",
            "issue__published_at",
        )
        .order_by("-issue__published_at", "-issue__number", "section__position", "position", "id")
    )


def item_rows(items) -> list[dict]:
    return [
        {
            "item": item,
            "html": rendering.localize_times(item.html),
            "url": f"{item.issue.get_absolute_url()}#{item.anchor}",
        }
        for item in items
    ]


def kind_filter(kind: str) -> Q:
    if kind == Kind.EVENT:
        return Q(event__isnull=False) | Q(submission__kind=kind)
    return Q(submission__kind=kind)


@reader_page("archive", query=["page"])
@require_GET
def kind_items(request: HttpRequest, kind_slug: str) -> HttpResponse:
    kind = KINDS_BY_SLUG[kind_slug]
    items = published_items().filter(kind_filter(kind))
    page, context, status = paginate(request, items, ITEMS_PER_PAGE)
    context.update(
        heading=KIND_TITLES[kind],
        kind_slug=kind_slug,
        rows=item_rows(page.object_list),
        kinds=_kind_links(),
    )
    return render(request, "newsletter/item_list.html", context, status=status)


@reader_page("archive", query=["page"])
@require_GET
def submitter_items(request: HttpRequest, user_id: int) -> HttpResponse:
    """What a member shared that was published, only if they agreed to be credited."""
    member = get_object_or_404(
        User.objects.only("display_name", "email", "username"),
        pk=user_id,
        credit_me=True,
        is_active=True,
    )
    items = published_items().filter(submission__author=member)
    page, context, status = paginate(request, items, ITEMS_PER_PAGE)
    if not page.object_list:
        raise Http404("Nothing published yet.")
    context.update(
        heading=f"Shared by {member.public_name}", member=member, rows=item_rows(page.object_list)
    )
    return render(request, "newsletter/item_list.html", context, status=status)
