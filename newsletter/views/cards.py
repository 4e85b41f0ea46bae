"""The og:image cards of issues and items (newsletter/cards.py draws and caches them)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from newsletter import cards
from newsletter.models import Issue

from .items import _published_item

# A card asked for by its current version never changes: chat apps and browsers may keep it.
# Asked for without it (or by an old one), it is the current card, kept a short while.
VERSIONED_MAX_AGE = 365 * 24 * 60 * 60
UNVERSIONED_MAX_AGE = 10 * 60


def _png(request: HttpRequest, card: cards.Card, key: str) -> HttpResponse:
    response = HttpResponse(cards.png(card, key), content_type="image/png")
    current = request.GET.get("v") == card.version
    max_age = VERSIONED_MAX_AGE if current else UNVERSIONED_MAX_AGE
    response["Cache-Control"] = f"public, max-age={max_age}" + (", immutable" if current else "")
    response["ETag"] = f'"{card.version}"'
    return response


@require_GET
def item_card(request: HttpRequest, pk: int) -> HttpResponse:
    item = _published_item(pk)
    card = cards.item_card(item, item.submission.topics.all())
    return _png(request, card, f"item:{pk}")


@require_GET
def issue_card(request: HttpRequest, number: int, slug: str) -> HttpResponse:
    issue = get_object_or_404(
        Issue.objects.published().only("number", "slug", "title", "published_at"), number=number
    )
    card = cards.issue_card(issue, cards.issue_sections(issue))
    return _png(request, card, f"issue:{issue.number}")
