"""One pagination style for every list page: `?page=N`, and the first page with a message
(and a 400 or 404 status) when N is not a page number or is past the last page."""

from __future__ import annotations

from django import forms
from django.core.paginator import Page, Paginator
from django.http import HttpRequest


class PageForm(forms.Form):
    # Bounded, so that no page number reaches the database as an out-of-range OFFSET.
    page = forms.IntegerField(min_value=1, max_value=100_000, required=False)


def page_asked(request: HttpRequest) -> tuple[int, str, int]:
    """The page `?page=` asks for, and an error and status when it is not a page number."""
    form = PageForm(request.GET)
    if not form.is_valid():
        return 1, "Page numbers are whole numbers from 1; here is the first page.", 400
    return form.cleaned_data["page"] or 1, "", 200


def past_the_end(number: int) -> tuple[int, str, int]:
    """The first page instead of `number`, which is past the last one."""
    return 1, f"There is no page {number}; here is the first page.", 404


def page_context(paginator: Paginator, number: int, error: str) -> tuple[Page, dict]:
    page = paginator.page(number)
    context = {
        "page_obj": page,
        "paginator": paginator,
        "is_paginated": page.has_other_pages(),
        "page_error": error,
    }
    return page, context


def paginate(request: HttpRequest, queryset, per_page: int) -> tuple[Page, dict, int]:
    """A page of `queryset` and its context; the first page with a message when `?page=` is wrong."""
    paginator = Paginator(queryset, per_page)
    number, error, status = page_asked(request)
    if number > paginator.num_pages:
        number, error, status = past_the_end(number)
    page, context = page_context(paginator, number, error)
    return page, context, status
