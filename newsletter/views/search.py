"""Searching the archive: one form, ranked results with highlights, paginated."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.html import escape
from django.views.decorators.http import require_GET

from newsletter import search, suggestions
from newsletter.search_hits import results_html
from portal import pagination
from portal.frames import render_framed
from portal.pagecache import reader_page

from .archive import item_rows, published_items

LATEST_ITEMS = 10
RESULTS_TEMPLATE = "newsletter/includes/_search_results.html"


# What the results below the form show (newsletter/search_hits.py, `results_html`).
RESULTS = (
    "query",
    "hits",
    "issue_hits",
    "event_hits",
    "page_obj",
    "more",
    "ranked",
    "query_string",
    "page_error",
    "suggestion",
    "suggestion_query",
)


class SearchForm(forms.Form):
    q = forms.CharField(
        label="Search the archive",
        max_length=search.MAX_QUERY_LENGTH,
        required=False,
        error_messages={
            "max_length": (
                f"Please shorten your search to at most {search.MAX_QUERY_LENGTH} characters."
            )
        },
    )


# Searches are many and varied: kept a minute, enough for the popular ones.
@reader_page("archive", query=["q", "page"], timeout=60)
@require_GET
def search_view(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    context = {
        "form": form,
        "query": "",
        "q_value": form["q"].value() or "",  # as typed, spaces and all
        "hits": [],
        "issue_hits": [],
        "page_obj": None,
        "ranked": search.full_text(),  # PostgreSQL ranks; the plain fallback is newest first
        "event_hits": [],
        "suggestion": None,
        "suggestion_query": "",
        "latest": [],
    }
    if not form.is_valid():
        return render(request, "newsletter/search.html", context, status=400)
    query = form.cleaned_data["q"].strip()
    context["query"] = query
    if not query:
        # Nothing asked yet: the latest items, to start from.
        context["latest"] = item_rows(published_items()[:LATEST_ITEMS])
        return render(request, "newsletter/search.html", context)
    number, error, status = pagination.page_asked(request)
    results, issue_hits, event_hits = search.search_page(query, number)
    if not results.hits and number > 1:
        # Past the last page: the count comes with the results, so ask for the first page.
        number, error, status = pagination.past_the_end(number)
        results, issue_hits, event_hits = search.search_page(query)
    # The database counted the matches; the paginator only does the page arithmetic.
    page, page_context = pagination.page_context(
        Paginator(range(results.total), search.RESULTS_PER_PAGE), number, error
    )
    context.update(
        page_context,
        hits=results.hits,
        query_string=urlencode({"q": query}),
        more=results.more,
        issue_hits=issue_hits,
        event_hits=event_hits,
    )
    if not (results.total or issue_hits or event_hits):
        suggestion = suggestions.suggest(query)
        if suggestion:
            context["suggestion"] = suggestion
            context["suggestion_query"] = urlencode({"q": suggestion})
    # Loading the member may set their time zone (portal.auth), which the events' dates are
    # written in: loaded before the results, as when the whole page was one render.
    request.user.is_authenticated  # noqa: B018
    # Only the query and the results differ from one search to the next: the rest of the page
    # is the frame, rendered once per process (portal/frames.py). The frame's context is the
    # same for every valid search: a form without errors, and whether the results are ranked.
    return render_framed(
        request,
        "newsletter/search.html",
        key="search ranked" if context["ranked"] else "search",
        context={"form": form, "ranked": context["ranked"]},
        slots={
            "query": escape(query),
            "q_value": escape(context["q_value"]),
            "results": render_to_string(
                RESULTS_TEMPLATE,
                {**context, "results_html": results_html(**{key: context[key] for key in RESULTS})},
            ),
        },
        status=status,
    )
